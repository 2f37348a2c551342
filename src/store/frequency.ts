import { defineScript, type Script } from './lua.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

/**
 * Lua: the frequency cap's check and its write, apart (DIAL_BEGIN checks
 * first and writes only once the whole step goes through), and reserve, the
 * two together (FREQ_RESERVE, GATE_CHECK).
 * freq_check(key, nowMs, windowMs, cap, member): {1, count after, 1 if the
 * member is new} when a slot is there, else {0, ms when a slot frees}.
 */
export const FREQ_LUA = `
local function freq_check(key, now, window, cap, member)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local n = redis.call('ZCARD', key)
  if redis.call('ZSCORE', key, member) then return {1, n, 0} end
  if n < cap then return {1, n + 1, 1} end
  local oldest = redis.call('ZRANGE', key, n - cap, n - cap, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window}
end
local function freq_take(key, now, window, member)
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window + 3600000)
end
local function reserve(key, now, window, cap, member)
  local r = freq_check(key, now, window, cap, member)
  if r[1] == 1 then freq_take(key, now, window, member) end
  return r
end
`;

/**
 * Lua: gate_check(KEYS3, e164, hash, reserve, nowMs, windowMs, cap, member),
 * GATE_CHECK's body (KEYS3: suppression set, erased set, freq zset): erased,
 * no key, suppressed, then the frequency slot (taken only when `reserve` is
 * '1'; '0' checks it without writing, 'skip' leaves it out).
 */
export const GATE_LUA = FREQ_LUA + `
local function gate_check(k, e164, hash, mode, now, window, cap, member)
  if hash ~= '' then
    if redis.call('SISMEMBER', k[2], hash) == 1 then return {1} end
  elseif redis.call('SCARD', k[2]) > 0 then
    return {2}
  end
  if redis.call('SISMEMBER', k[1], e164) == 1 then return {3} end
  if mode == 'skip' then return {0} end
  local r
  if mode == '1' then r = reserve(k[3], now, window, cap, member) else r = freq_check(k[3], now, window, cap, member) end
  if r[1] == 1 then return {4, r[2], r[3]} end
  return {5, r[2]}
end
`;

/**
 * KEYS: freq zset  ARGV: nowMs, windowMs, cap, member
 * Returns {1, count after, 1 if the member is new} when reserved, else {0, ms when a slot frees}.
 * A member still in the window is the same logical call tried again: it keeps its
 * slot (moved to now) and takes no second one.
 */
const FREQ_RESERVE = `${FREQ_LUA}
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
const GATE_CHECK = `${GATE_LUA}
return gate_check(KEYS, ARGV[1], ARGV[2], ARGV[3] == '1' and '1' or 'skip', tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7])
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

/** The gate's Redis checks as DIAL_BEGIN takes them (store/dial.ts; the number is the dial's, the slot is taken with the step). */
export type DeferredGateCheck = Omit<GateCheck, 'reserve' | 'e164'>;

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
