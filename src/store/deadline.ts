import { luaTables } from '../campaign/lifecycle.js';
import { OUTBOX_LUA } from './outbox-lua.js';
import { WAITING_INDEX_LUA } from './index-lua.js';
import { OUTCOME_INDEX_LUA } from './outcome-index.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { defineScript, type Script } from './lua.js';

/** Lua: Redis's own clock in ms (one clock for every process's deadline check). */
export const LUA_NOW_MS = `local function now_ms() local t = redis.call('TIME') return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end`;

/**
 * End the rows of a campaign past its deadline that nobody is dialing: those
 * a dial job owns (queued, waiting for a window, due a redial) whose number
 * is not being dialed end `expired`, counted once; a row whose call is
 * placed or may be keeps going to its real outcome. Refuses (returns no
 * rows) unless the campaign's `deadline_ms` has passed by Redis's clock, so a
 * deadline moved later meanwhile is obeyed. Settles the campaign when its
 * last open row ended.
 * KEYS: rows, counts, ledger, open, campaign, waiting index  ARGV: nowIso, row...
 * Returns {settled 1|0, expired row...}.
 */
export const EXPIRE_ROWS = luaTables() + OUTBOX_LUA + OUTCOME_INDEX_LUA + WAITING_INDEX_LUA + LUA_NOW_MS + `
local dl = tonumber(redis.call('HGET', KEYS[5], 'deadline_ms') or '')
if not dl or now_ms() < dl then return {0} end
local out = {0}
for i = 2, #ARGV do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if cur then
    local rec = cjson.decode(cur)
    local rs = row_state(rec)
    if JOB_OWNED[rs] then
      local l = redis.call('HGET', KEYS[3], rec.phone)
      local s = l and cjson.decode(l).s or 'pending'
      if s == 'pending' or s == 'failed' then
        if rs == 'redial-due' or rec.call_id then rec.error = 'redial not made: the campaign reached its deadline'
        else rec.error = 'not dialed: the campaign reached its deadline' end
        rec.outcome = 'expired'
        rec.state = 'final'
        rec.status = nil
        rec.next_at = nil
        rec.job = nil
        redis.call('HSET', KEYS[1], ARGV[i], cjson.encode(rec))
        waiting_index(KEYS[6], ARGV[i], rec)
        outbox_row(KEYS[5], ARGV[i], rec)
        redis.call('ZREM', KEYS[4], ARGV[i])
        outcome_index(KEYS[1], 'expired', {ARGV[i]}, true)
        redis.call('HINCRBY', KEYS[2], 'state:' .. rs, -1)
        redis.call('HINCRBY', KEYS[2], 'expired', 1)
        redis.call('HINCRBY', KEYS[2], 'finished', 1)
        out[#out + 1] = tonumber(ARGV[i])
      end
    end
  end
end
local total = tonumber(redis.call('HGET', KEYS[5], 'total') or '-1')
local finished = tonumber(redis.call('HGET', KEYS[2], 'finished') or '0')
local cs = redis.call('HGET', KEYS[5], 'state') or ''
if #out > 1 and total >= 0 and finished >= total and SETTLED[cs] then
  redis.call('HSET', KEYS[5], 'state', SETTLED[cs], 'finished_at', ARGV[1])
  outbox_campaign(KEYS[5], cs, SETTLED[cs])
  out[1] = 1
end
return out
`;

/** What the campaign hash records about its deadline (real-clock ms). */
export interface DeadlineRecord {
  /** When the campaign's clock started: `start_at`, else when it was loaded. */
  startMs?: number;
  deadlineMs?: number;
  /** The `end_at`/`end_after` text the deadline was computed from. */
  of?: string;
}

/** A campaign's deadline in Redis (fields of the campaign hash) and the step that ends its rows `expired`. */
export class DeadlineStore {
  private readonly expire: Script;

  constructor(private readonly redis: RedisClient, private readonly keys: Keys) {
    this.expire = defineScript(redis, 'dialer_expire_rows', 6, EXPIRE_ROWS);
  }

  async get(id: string): Promise<DeadlineRecord> {
    const [start, dl, of] = await this.redis.hmget(this.keys.campaign(id), 'start_ms', 'deadline_ms', 'deadline_of');
    return { startMs: start ? Number(start) : undefined, deadlineMs: dl ? Number(dl) : undefined, of: of ?? undefined };
  }

  async deadlineMs(id: string): Promise<number | undefined> {
    const v = await this.redis.hget(this.keys.campaign(id), 'deadline_ms');
    return v ? Number(v) : undefined;
  }

  /** Records the campaign's start once (a later load keeps the first). */
  async recordStart(id: string, startMs: number): Promise<void> {
    await this.redis.hsetnx(this.keys.campaign(id), 'start_ms', String(Math.round(startMs)));
  }

  /** Sets (or, with undefined, removes) the deadline computed from `of`. */
  async setDeadline(id: string, deadlineMs: number | undefined, of: string | undefined): Promise<void> {
    const k = this.keys.campaign(id);
    if (deadlineMs === undefined || of === undefined) await this.redis.hdel(k, 'deadline_ms', 'deadline_of');
    else await this.redis.hset(k, 'deadline_ms', String(Math.round(deadlineMs)), 'deadline_of', of);
  }

  /** Ends the given rows `expired` where the deadline allows (see EXPIRE_ROWS). */
  async expireRows(id: string, rows: number[]): Promise<{ expired: number[]; settled: boolean }> {
    if (rows.length === 0) return { expired: [], settled: false };
    const k = this.keys;
    const [settled, ...expired] = (await this.expire(k.rows(id), k.counts(id), k.ledger(id), k.open(id), k.campaign(id), k.waiting(id), new Date().toISOString(), ...rows)) as number[];
    return { expired, settled: settled === 1 };
  }
}
