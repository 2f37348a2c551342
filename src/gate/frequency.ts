import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../store/redis.js';
import type { Store } from '../store/store.js';

/**
 * The frequency cap: at most N calls to one number in any rolling 24 h, across every
 * campaign and worker. One sorted set per number (`keys.frequency(e164)`) holds a
 * member per call (score = business time of the call). Reserving a slot is one Lua
 * script — trim to 24 h, count, add only if under the cap — so two campaigns dialing
 * the same number at the same moment can't both get past it.
 *
 * Times are business time (the injectable clock, DIALER_NOW aware), like the calling
 * window: every process of one deployment runs on the same clock.
 */

export const FREQUENCY_WINDOW_MS = 24 * 3_600_000;

/**
 * KEYS: freq zset  ARGV: nowMs, windowMs, cap, member
 * Returns {1, count after, 1 if the member is new} when reserved, else {0, ms when a slot frees}.
 * A member still in the window is the same logical call tried again: it keeps its
 * slot (moved to now) and takes no second one.
 */
const FREQ_RESERVE = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window + 3600000)
  return {1, n, 0}
end
if n < cap then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window + 3600000)
  return {1, n + 1, 1}
end
local oldest = redis.call('ZRANGE', KEYS[1], n - cap, n - cap, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window}
`;

const COMMAND = 'dialer_safety_freq_reserve';
type Reserve = (key: string, now: number, windowMs: number, cap: number, member: string) => Promise<[number, number, number?]>;
const defined = new WeakSet<object>();

function reserveFn(redis: RedisClient): Reserve {
  if (!defined.has(redis)) {
    redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: FREQ_RESERVE });
    defined.add(redis);
  }
  const fn = (redis as unknown as Record<string, Reserve>)[COMMAND]!;
  return fn.bind(redis);
}

export type FrequencyResult =
  | { reserved: true; count: number; release: () => Promise<void> }
  | { reserved: false; freeAt: number };

/**
 * Reserves one call to `e164` at business time `now` if fewer than `cap` were made in
 * the last 24 h. `member` names the logical call (the gate uses campaign|row|last call
 * id): a POST retried after an ambiguous failure that placed nothing reuses its slot
 * instead of eating another. Default: a fresh member, always a new slot.
 */
export async function reserveFrequency(store: Store, e164: string, cap: number, now: number, member = `${now}:${randomBytes(6).toString('hex')}`): Promise<FrequencyResult> {
  const key = store.keys.frequency(e164);
  const [ok, v, fresh] = await reserveFn(store.redis)(key, now, FREQUENCY_WINDOW_MS, cap, member);
  if (ok !== 1) return { reserved: false, freeAt: v };
  // Only a slot this call took may be given back: a reused one may stand for a call that exists.
  let released = fresh !== 1;
  return {
    reserved: true,
    count: v,
    release: async () => {
      if (released) return;
      released = true;
      await store.redis.zrem(key, member);
    },
  };
}

/** Calls to `e164` in the 24 h before business time `now` (for reports). */
export async function recentCalls(store: Store, e164: string, now: number): Promise<number> {
  return store.redis.zcount(store.keys.frequency(e164), `(${now - FREQUENCY_WINDOW_MS}`, '+inf');
}
