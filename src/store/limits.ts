import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { defineScript, type Script } from './lua.js';

/**
 * The GCRA steps as Lua functions, shared by RESERVE_SLOT and the dial's
 * first step (store/dial.ts): `gcra_slot` finds the first slot every limiter
 * allows (and Redis's now), `gcra_take` books it. Both touch only the keys
 * they are handed, which callers take from KEYS.
 */
export const GCRA_LUA = `
local function gcra_slot(keys)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local slot = now
  for _, k in ipairs(keys) do
    local tat = tonumber(redis.call('GET', k) or '0')
    if tat > slot then slot = tat end
  end
  return slot, now
end
local function gcra_take(keys, intervals, slot, wait)
  for i, k in ipairs(keys) do
    local interval = tonumber(intervals[i])
    redis.call('SET', k, slot + interval, 'PX', math.ceil(wait + interval + 60000))
  end
end
`;

/**
 * GCRA slot reservation over one or more limiters (campaign, account). Each
 * limiter keeps its theoretical arrival time; a request gets the first slot
 * that every limiter allows, so requests are spaced by at least each
 * interval and no sliding window ever holds more than its limit (BullMQ's own
 * limiter is a fixed window, which can let nearly twice through at an edge).
 * KEYS: limiter keys  ARGV: interval ms per key..., maxWaitMs
 * Returns {reserved 1|0, waitMs}. Not reserved when the wait would exceed maxWaitMs.
 */
export const RESERVE_SLOT = GCRA_LUA + `
local keys, intervals = {}, {}
for i = 1, #KEYS do
  keys[i] = KEYS[i]
  intervals[i] = ARGV[i]
end
local slot, now = gcra_slot(keys)
local wait = slot - now
if wait > tonumber(ARGV[#KEYS + 1]) then return {0, wait} end
gcra_take(keys, intervals, slot, wait)
return {1, wait}
`;

/**
 * Counting semaphore with leases: a holder that dies without releasing
 * frees its place when the lease ends.
 * KEYS: zset  ARGV: holderId, limit, leaseMs
 * Returns 1 when acquired.
 */
export const SEMAPHORE_ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return 1
`;

/** Seconds the record of recent dials keeps (a ring of one count a second: a minute and a few seconds to spare). */
const DIAL_RING = 64;

/**
 * `record_dial(key, ms)`: one dial at `ms` in the record of recent dials, a
 * hash of at most DIAL_RING fields (second mod DIAL_RING → `<second>:<count>`),
 * so it costs the same at 5 and 5,000 dials a second; it goes two minutes after
 * the campaign's last dial. Read by LimitsStore.dialsLastMinute.
 */
export const RECORD_DIAL_LUA = `
local function record_dial(key, ms)
  local sec = math.floor(tonumber(ms) / 1000)
  local field = tostring(sec % ${DIAL_RING})
  local n = 1
  local cur = redis.call('HGET', key, field)
  if cur then
    local s, c = string.match(cur, '^(%d+):(%d+)$')
    if tonumber(s) == sec then n = tonumber(c) + 1 end
  end
  redis.call('HSET', key, field, string.format('%d:%d', sec, n))
  redis.call('PEXPIRE', key, 120000)
end
`;

/** Rate limiters (GCRA), concurrency caps with leases, and the record of recent dials. */
export class LimitsStore {
  private readonly reserve: Script;
  private readonly acquireScript: Script;

  constructor(private readonly redis: RedisClient, private readonly keys: Keys) {
    // RESERVE_SLOT takes any number of limiters: its key count comes first in every call.
    redis.defineCommand('dialer_reserve_slot', { lua: RESERVE_SLOT });
    this.reserve = (redis as unknown as Record<string, Script>).dialer_reserve_slot!.bind(redis);
    this.acquireScript = defineScript(redis, 'dialer_semaphore_acquire', 1, SEMAPHORE_ACQUIRE);
  }

  /** Reserves the next request slot across limiters. */
  async reserveSlot(limits: { scope: string; intervalMs: number }[], maxWaitMs: number): Promise<{ reserved: boolean; waitMs: number }> {
    const [reserved, waitMs] = (await this.reserve(limits.length, ...limits.map((l) => this.keys.limiter(l.scope)), ...limits.map((l) => l.intervalMs), maxWaitMs)) as [number, number];
    return { reserved: reserved === 1, waitMs };
  }

  /** Takes a place under a concurrency cap (e.g. account-wide calls in flight); false when full. */
  async acquire(scope: string, holder: string, limit: number, leaseMs: number): Promise<boolean> {
    return (await this.acquireScript(this.keys.semaphore(scope), holder, limit, leaseMs)) === 1;
  }

  async release(scope: string, holder: string): Promise<void> {
    await this.redis.zrem(this.keys.semaphore(scope), holder);
  }

  /** POST /calls of a campaign in the minute up to `now` (ms): its second and the 59 before (RECORD_DIAL_LUA). */
  async dialsLastMinute(id: string, now: number): Promise<number> {
    const sec = Math.floor(now / 1000);
    let n = 0;
    for (const v of Object.values(await this.redis.hgetall(this.keys.dials(id)))) {
      const [s, c] = v.split(':').map(Number) as [number, number];
      if (s > sec - 60 && s <= sec) n += c;
    }
    return n;
  }
}
