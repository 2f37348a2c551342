import { defineScript, type Script } from './lua.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

/** Lua: reserve(freq key, nowMs, windowMs, cap, member), shared by FREQ_RESERVE and GATE_CHECK. */
const RESERVE_FN = `
local function reserve(key, now, window, cap, member)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local n = redis.call('ZCARD', key)
  if redis.call('ZSCORE', key, member) then
    redis.call('ZADD', key, now, member)
    redis.call('PEXPIRE', key, window + 3600000)
    return {1, n, 0}
  end
  if n < cap then
    redis.call('ZADD', key, now, member)
    redis.call('PEXPIRE', key, window + 3600000)
    return {1, n + 1, 1}
  end
  local oldest = redis.call('ZRANGE', key, n - cap, n - cap, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window}
end
`;

/**
 * KEYS: freq zset  ARGV: nowMs, windowMs, cap, member
 * Returns {1, count after, 1 if the member is new} when reserved, else {0, ms when a slot frees}.
 * A member still in the window is the same logical call tried again: it keeps its
 * slot (moved to now) and takes no second one.
 */
const FREQ_RESERVE = `${RESERVE_FN}
return reserve(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4])
`;

/**
 * The dial gate's Redis side in one round trip, immediately before a POST.
 * KEYS: suppression set, erased set, freq zset
 * ARGV: e164, keyed hash of it ('' without DIALER_HASH_KEY), reserve (1: the
 *       local checks passed and the window is open), nowMs, windowMs, cap, member
 * Returns {GATE.erased} | {GATE.noKey} (numbers were erased but none can be
 * recognised) | {GATE.suppressed} | {GATE.clear} (reserve = 0) |
 * {GATE.reserved, count, 1 if new} | {GATE.full, ms when a slot frees}.
 */
const GATE_CHECK = `${RESERVE_FN}
if ARGV[2] ~= '' then
  if redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 1 then return {1} end
elseif redis.call('SCARD', KEYS[2]) > 0 then
  return {2}
end
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return {3} end
if ARGV[3] ~= '1' then return {0} end
local r = reserve(KEYS[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7])
if r[1] == 1 then return {4, r[2], r[3]} end
return {5, r[2]}
`;

/** Codes of GATE_CHECK's first element. */
export const GATE = { clear: 0, erased: 1, noKey: 2, suppressed: 3, reserved: 4, full: 5 } as const;

export interface GateCheck {
  e164: string;
  /** Keyed hash of the number, '' without DIALER_HASH_KEY. */
  hash: string;
  /** Reserve a frequency slot (only when everything else let the call go). */
  reserve: boolean;
  nowMs: number;
  windowMs: number;
  cap: number;
  member: string;
}

/**
 * Calls per number for the frequency cap (see gate/frequency.ts): one sorted
 * set per number, a member per call, scored by business time (ms). Reserving
 * is one script, so two campaigns dialing one number at once can't both pass.
 */
export class FrequencyStore {
  private readonly reserveFn: Script;
  private readonly gateFn: Script;

  constructor(private readonly redis: RedisClient, private readonly keys: Keys) {
    this.reserveFn = defineScript(redis, 'dialer_safety_freq_reserve', 1, FREQ_RESERVE);
    this.gateFn = defineScript(redis, 'dialer_gate_check', 3, GATE_CHECK);
  }

  /**
   * Erased, suppressed and (when `reserve`) the frequency slot, in one script:
   * membership checked in Redis at every dial, no copy of either set. The keys
   * are all account-wide (one slot under the prefix's hash tag).
   */
  async gateCheck(g: GateCheck): Promise<number[]> {
    const k = this.keys;
    return (await this.gateFn(k.suppression, k.erased, k.frequency(g.e164), g.e164, g.hash, g.reserve ? 1 : 0, g.nowMs, g.windowMs, g.cap, g.member)) as number[];
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
