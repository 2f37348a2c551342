import { luaTables, type RowState } from '../campaign/lifecycle.js';
import type { Keys } from './keys.js';
import { defineScript, type Script } from './lua.js';
import type { RedisClient } from './redis.js';

/**
 * Live-call slots: a call holds one from just before its POST until its end
 * is seen, in its campaign's set and in the account's set (sorted sets of
 * leases scored by expiry, like the concurrency semaphore). A slot is given
 * back by the row move that leaves a live state (ROW_MOVE, in the same
 * script), kept alive by whoever owns the row (the worker during the POST,
 * any worker or poller for a row the poll schedule owns), and otherwise
 * freed by its lease ending, so a crashed process never keeps one.
 */

/** Row states that hold a live-call slot: the call exists or may exist. */
export const LIVE_STATES: readonly RowState[] = ['sending', 'placed', 'ambiguous'];

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Takes a slot for one row under the campaign's and the account's caps.
 * KEYS: campaign live set, account live set
 * ARGV: row, account member (<campaign>|<row>), campaign limit (0 = none), account limit (0 = none), leaseMs
 * Returns 1 taken; 2 the row already holds one (kept as it is); 0 the campaign is full; -1 the account is full.
 */
export const LIVE_ACQUIRE = NOW + `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 2 end
local cl, al = tonumber(ARGV[3]), tonumber(ARGV[4])
if cl > 0 and redis.call('ZCARD', KEYS[1]) >= cl then return 0 end
if al > 0 and redis.call('ZCARD', KEYS[2]) >= al then return -1 end
local lease = tonumber(ARGV[5])
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('ZADD', KEYS[2], now + lease, ARGV[2])
redis.call('PEXPIRE', KEYS[1], lease * 2)
redis.call('PEXPIRE', KEYS[2], lease * 2)
return 1
`;

/**
 * Renews one row's slot while its owner works on it (a POST under way); a
 * slot already gone (lease ended, or given back) is not brought back.
 * KEYS: campaign live set, account live set  ARGV: row, account member, leaseMs
 */
export const LIVE_RENEW = NOW + `
local until_ = now + tonumber(ARGV[3])
local n = redis.call('ZADD', KEYS[1], 'XX', 'CH', until_, ARGV[1])
redis.call('ZADD', KEYS[2], 'XX', until_, ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]) * 2)
return n
`;

/**
 * Keeps alive the slots of a campaign's rows the poll schedule owns (placed,
 * ambiguous: the call exists or may), among those whose lease ends within
 * `horizonMs`; gives back the slot of a row that is no longer live (a
 * release lost in a crash). Rows in \`sending\` are left to their worker.
 * KEYS: campaign live set, account live set, rows  ARGV: campaign id ('': the
 * account set is left alone, spread layout), leaseMs, horizonMs
 * Returns {renewed, dropped, renewed rows, dropped rows}.
 */
export const LIVE_KEEPALIVE = luaTables() + NOW + `
local lease = tonumber(ARGV[2])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], now, now + tonumber(ARGV[3]))
local acct = ARGV[1] ~= ''
local renewed, dropped = {}, {}
for _, row in ipairs(due) do
  local raw = redis.call('HGET', KEYS[3], row)
  local state = raw and row_state(cjson.decode(raw)) or 'final'
  if POLL_OWNED[state] then
    redis.call('ZADD', KEYS[1], now + lease, row)
    if acct then redis.call('ZADD', KEYS[2], now + lease, ARGV[1] .. '|' .. row) end
    renewed[#renewed + 1] = row
  elseif state ~= 'sending' then
    redis.call('ZREM', KEYS[1], row)
    if acct then redis.call('ZREM', KEYS[2], ARGV[1] .. '|' .. row) end
    dropped[#dropped + 1] = row
  end
end
if #renewed > 0 then
  redis.call('PEXPIRE', KEYS[1], lease * 2)
  if acct then redis.call('PEXPIRE', KEYS[2], lease * 2) end
end
return {#renewed, #dropped, renewed, dropped}
`;

/**
 * The account set's side of LIVE_KEEPALIVE in the spread layout.
 * KEYS: account live set  ARGV: leaseMs, n, n members to renew, then members to drop
 */
const ACCOUNT_KEEPALIVE = NOW + `
local lease, n = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 3, #ARGV do
  if i - 2 <= n then redis.call('ZADD', KEYS[1], now + lease, ARGV[i]) else redis.call('ZREM', KEYS[1], ARGV[i]) end
end
if n > 0 then redis.call('PEXPIRE', KEYS[1], lease * 2) end
return 1
`;

export type LiveAcquire = 'taken' | 'held' | 'campaign-full' | 'account-full';

/** Live-call slots of campaigns and the account. */
export class LiveStore {
  private readonly acquireScript: Script;
  private readonly renewScript: Script;
  private readonly keepAliveScript: Script;
  private readonly accountKeepAliveScript: Script;

  constructor(private readonly redis: RedisClient, private readonly keys: Keys) {
    this.acquireScript = defineScript(redis, 'dialer_live_acquire', 2, LIVE_ACQUIRE);
    this.renewScript = defineScript(redis, 'dialer_live_renew', 2, LIVE_RENEW);
    // Not guarded: pollers run it every second for the campaigns of the last minute, finished ones
    // included; on an archived campaign it reads no row (each slot then counts as final and goes),
    // where a guard would unpack the campaign again right after `dialer archive`.
    this.keepAliveScript = defineScript(redis, 'dialer_live_keepalive', 3, LIVE_KEEPALIVE, { guard: false });
    this.accountKeepAliveScript = defineScript(redis, 'dialer_live_keepalive_account', 1, ACCOUNT_KEEPALIVE);
  }

  private member(id: string, row: number): string {
    return `${id}|${row}`;
  }

  /** Takes a slot for `row` under the caps (undefined: no cap), with a lease of `leaseMs`. Flat layout only (the dial takes its slots in store/dial.ts). */
  async acquire(id: string, row: number, caps: { campaign?: number; account?: number }, leaseMs: number): Promise<LiveAcquire> {
    const r = (await this.acquireScript(this.keys.live(id), this.keys.liveAccount, row, this.member(id, row), caps.campaign ?? 0, caps.account ?? 0, Math.ceil(leaseMs))) as number;
    return r === 1 ? 'taken' : r === 2 ? 'held' : r === 0 ? 'campaign-full' : 'account-full';
  }

  /** Gives a slot back (a POST that was never sent). */
  async release(id: string, row: number): Promise<void> {
    if (this.keys.spread) {
      await this.redis.zrem(this.keys.live(id), String(row));
      await this.redis.zrem(this.keys.liveAccount, this.member(id, row));
      return;
    }
    await this.redis.multi().zrem(this.keys.live(id), String(row)).zrem(this.keys.liveAccount, this.member(id, row)).exec();
  }

  /** Renews the slot of a row whose POST is under way; false when it is gone. */
  async renew(id: string, row: number, leaseMs: number): Promise<boolean> {
    const lease = Math.ceil(leaseMs);
    if (this.keys.spread) {
      // LIVE_RENEW once per slot: its two keys (and members) the same set twice.
      const r = (await this.renewScript(this.keys.live(id), this.keys.live(id), row, row, lease)) as number;
      await this.renewScript(this.keys.liveAccount, this.keys.liveAccount, this.member(id, row), this.member(id, row), lease);
      return r > 0;
    }
    return ((await this.renewScript(this.keys.live(id), this.keys.liveAccount, row, this.member(id, row), lease)) as number) > 0;
  }

  /** Keeps alive the slots of rows the poll schedule owns whose lease ends within `horizonMs`. */
  async keepAlive(id: string, leaseMs: number, horizonMs: number): Promise<{ renewed: number; dropped: number }> {
    const k = this.keys;
    const lease = Math.ceil(leaseMs);
    const [renewed, dropped, renewedRows, droppedRows] = (await this.keepAliveScript(k.live(id), k.spread ? k.live(id) : k.liveAccount, k.rows(id), k.spread ? '' : id, lease, Math.ceil(horizonMs))) as [number, number, string[], string[]];
    if (k.spread && renewedRows.length + droppedRows.length > 0) {
      // The account's copies of the same slots, after the campaign's (Redis time there, as in the script).
      await this.accountKeepAliveScript(k.liveAccount, lease, renewedRows.length, ...renewedRows.map((r) => this.member(id, Number(r))), ...droppedRows.map((r) => this.member(id, Number(r))));
    }
    return { renewed, dropped };
  }

  /**
   * Spread layout: the account side of a row move (the campaign side is
   * ROW_MOVE, `move`). Into a live state the account slot is taken first, so
   * a live call is never uncounted (a move that then does not apply leaves a
   * slot until its lease ends); out of one it goes after the move (a crash in
   * between keeps it until its lease ends). Conservative both ways: the
   * account cap may be under-used for a lease, never exceeded.
   */
  async aroundMove<T>(id: string, row: number, m: { to?: RowState; outcome?: string }, untilMs: number, move: () => Promise<T>): Promise<T> {
    if (!this.keys.spread) return move();
    const intoLive = m.outcome === undefined && m.to !== undefined && LIVE_STATES.includes(m.to);
    if (intoLive) await this.redis.zadd(this.keys.liveAccount, 'NX', untilMs, this.member(id, row));
    const r = await move();
    if (!intoLive && (m.outcome !== undefined || m.to !== undefined) && (r === 1 || r === 2)) await this.redis.zrem(this.keys.liveAccount, this.member(id, row));
    return r;
  }

  /** Slots a campaign holds now (leases not ended). */
  async count(id: string, now = Date.now()): Promise<number> {
    return this.redis.zcount(this.keys.live(id), `(${now}`, '+inf');
  }

  /** Slots held over every campaign now. */
  async accountCount(now = Date.now()): Promise<number> {
    return this.redis.zcount(this.keys.liveAccount, `(${now}`, '+inf');
  }

  /** Rows of a campaign holding a slot now. */
  async rows(id: string, now = Date.now()): Promise<number[]> {
    return (await this.redis.zrangebyscore(this.keys.live(id), `(${now}`, '+inf')).map(Number);
  }
}
