import { defineScript, type Script } from './lua.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

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

/**
 * Calls per number for the frequency cap (see gate/frequency.ts): one sorted
 * set per number, a member per call, scored by business time (ms). Reserving
 * is one script, so two campaigns dialing one number at once can't both pass.
 */
export class FrequencyStore {
  private readonly reserveFn: Script;

  constructor(private readonly redis: RedisClient, private readonly keys: Keys) {
    this.reserveFn = defineScript(redis, 'dialer_safety_freq_reserve', 1, FREQ_RESERVE);
  }

  /** Reserves a slot for `member` if fewer than `cap` calls fall in the window: [1, count, 1 if new] or [0, freeAtMs]. */
  async reserve(e164: string, nowMs: number, windowMs: number, cap: number, member: string): Promise<[number, number, number?]> {
    return (await this.reserveFn(this.keys.frequency(e164), nowMs, windowMs, cap, member)) as [number, number, number?];
  }

  async release(e164: string, member: string): Promise<void> {
    await this.redis.zrem(this.keys.frequency(e164), member);
  }

  /** Calls after `sinceMs` (exclusive). */
  async countSince(e164: string, sinceMs: number): Promise<number> {
    return this.redis.zcount(this.keys.frequency(e164), `(${sinceMs}`, '+inf');
  }

  /** Deletes the number's record (erasure); returns the keys deleted. */
  async erase(e164: string): Promise<number> {
    return this.redis.del(this.keys.frequency(e164));
  }
}
