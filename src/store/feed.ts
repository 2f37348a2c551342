import { luaTables } from '../campaign/lifecycle.js';
import { LUA_NOW_MS } from './deadline.js';
import type { Keys } from './keys.js';
import { defineScript, type Script } from './lua.js';
import type { RedisClient } from './redis.js';

/**
 * The feed cursor of a campaign (fields of its hash):
 * - `fed`: the highest row number handed on (to a dial job, or to a cancel or
 *   deadline step); a queued row above it has no dial job and no `open`
 *   entry. A campaign without the field was loaded before the feeder: every
 *   row of it is fed (each got its job at load).
 * - `unfed`: how many rows above `fed` are not final (kept by the loader's
 *   scripts, FEED_ROWS and the erasure), so `status` counts them as queued
 *   without a walk.
 */
export const FED_FIELD = 'fed';
export const UNFED_FIELD = 'unfed';

/** What a claim is for: rows that will get a dial job, or rows a cancel or a passed deadline ends. */
export type FeedMode = 'feed' | 'cancel' | 'expire';

/**
 * Take the next rows after the cursor that are still queued (not final, their
 * `job` the default `<campaign>-<row>`), put them in the open index with the
 * lease given and move the cursor past them; final rows on the way are
 * passed over. At most `limit` rows are taken and about 4 × limit + 1000
 * looked at. `feed` only while the campaign is loading or running and before
 * its deadline (by Redis's clock); `cancel` only while it is canceling or
 * canceled; `expire` only past its deadline.
 * A crash after this step leaves the rows open with no job: the reaper finds
 * each when its lease runs out and requeues it (or cancels or expires it).
 * KEYS: campaign, rows, open  ARGV: mode, limit, leaseUntilMs, job id prefix (`<campaign>-`)
 * Returns {rows passed (0: the cursor did not move), row taken...}.
 */
const FEED_ROWS = luaTables() + LUA_NOW_MS + `
local fed = redis.call('HGET', KEYS[1], 'fed')
if not fed then return {0} end
fed = tonumber(fed)
local mode = ARGV[1]
local cs = redis.call('HGET', KEYS[1], 'state') or ''
local dl = tonumber(redis.call('HGET', KEYS[1], 'deadline_ms') or '')
local past = dl ~= nil and now_ms() >= dl
if mode == 'feed' then
  if (cs ~= 'running' and cs ~= 'loading') or past then return {0} end
elseif mode == 'cancel' then
  if cs ~= 'canceling' and cs ~= 'canceled' then return {0} end
elseif not past then
  return {0}
end
-- The last row written: a loaded list's total; while the first list loads, its rows so far (written in order from 1).
local hi = tonumber(redis.call('HGET', KEYS[1], 'total') or '') or redis.call('HLEN', KEYS[2])
local limit = tonumber(ARGV[2])
local out, open = {0}, {}
local row, open_rows = fed, 0
while open_rows < limit and row < hi and row - fed < limit * 4 + 1000 do
  row = row + 1
  local raw = redis.call('HGET', KEYS[2], tostring(row))
  if raw then
    local rec = cjson.decode(raw)
    if row_state(rec) ~= 'final' then
      open_rows = open_rows + 1
      if row_state(rec) == 'queued' and rec.job == ARGV[4] .. row then
        out[#out + 1] = row
        open[#open + 1] = ARGV[3]
        open[#open + 1] = tostring(row)
      end
    end
  end
end
out[1] = row - fed
if row == fed then return out end
for i = 1, #open, 1000 do redis.call('ZADD', KEYS[3], unpack(open, i, math.min(i + 999, #open))) end
redis.call('HSET', KEYS[1], 'fed', row)
if open_rows > 0 then redis.call('HINCRBY', KEYS[1], 'unfed', -open_rows) end
return out
`;

/** Lua: gives the lock back only when its holder still holds it. KEYS: lock  ARGV: holder */
const UNLOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** The feed cursor and its steps (see dialer/feeder.ts). */
export class FeedStore {
  private readonly feedFn: Script;
  private readonly unlockFn: Script;

  constructor(private readonly redis: RedisClient, private readonly keys: Keys) {
    this.feedFn = defineScript(redis, 'dialer_feed_rows', 3, FEED_ROWS);
    this.unlockFn = defineScript(redis, 'dialer_feed_unlock', 1, UNLOCK);
  }

  /** Claims up to `limit` queued rows after the cursor (FEED_ROWS): how far the cursor moved, and the rows taken. */
  async claim(id: string, mode: FeedMode, limit: number, leaseUntilMs: number): Promise<{ passed: number; rows: number[] }> {
    const k = this.keys;
    const [passed, ...rows] = (await this.feedFn(k.campaign(id), k.rows(id), k.open(id), mode, limit, Math.round(leaseUntilMs), `${id}-`)) as number[];
    return { passed: passed!, rows };
  }

  /** The cursor, the rows above it not final, the campaign state and total in one read; `fed` undefined: every row is fed. */
  async cursor(id: string): Promise<{ fed?: number; unfed: number; state?: string; total?: number }> {
    const [fed, unfed, state, total] = await this.redis.hmget(this.keys.campaign(id), FED_FIELD, UNFED_FIELD, 'state', 'total');
    return { fed: fed === null ? undefined : Number(fed), unfed: Math.max(0, Number(unfed ?? 0)), state: state ?? undefined, total: total === null ? undefined : Number(total) };
  }

  /** Rows above the cursor not final (0 for a campaign loaded before the feeder). */
  async unfed(id: string): Promise<number> {
    return Math.max(0, Number((await this.redis.hget(this.keys.campaign(id), UNFED_FIELD)) ?? 0));
  }

  /** Rows put off by the gate (the waiting index) until `fromMs` or later, or with no opening known. */
  async waitingFrom(id: string, fromMs: number): Promise<number> {
    return this.redis.zcount(this.keys.waiting(id), Math.round(fromMs), '+inf');
  }

  /** The per-campaign feed lock (SET NX PX), so that one process at a time tops a campaign up. */
  async lock(id: string, holder: string, ms: number): Promise<boolean> {
    return (await this.redis.set(this.keys.feedLock(id), holder, 'PX', ms, 'NX')) === 'OK';
  }

  async unlock(id: string, holder: string): Promise<void> {
    await this.unlockFn(this.keys.feedLock(id), holder);
  }
}
