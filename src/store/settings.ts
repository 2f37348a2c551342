import type { Keys } from './keys.js';
import { defineScript, type Script } from './lua.js';
import type { RedisClient } from './redis.js';

/**
 * Replaces a campaign's settings when nobody changed them since they were
 * read (compare-and-set on the version), and records the change in the
 * audit stream in the same step: a change is never applied unrecorded, and
 * two `dialer set` at once can't lose one of them.
 * KEYS: campaign hash, audit stream
 * ARGV: expected version, config JSON, then audit field/value pairs
 * Returns the new version, 0 when the version moved on, -1 when the campaign is gone.
 */
export const REPLACE_SETTINGS = `
if redis.call('HEXISTS', KEYS[1], 'config') == 0 then return -1 end
local v = tonumber(redis.call('HGET', KEYS[1], 'config_version') or '0')
if v ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'config', ARGV[2])
local nv = redis.call('HINCRBY', KEYS[1], 'config_version', 1)
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = 'version'
fields[#fields + 1] = tostring(nv)
redis.call('XADD', KEYS[2], '*', unpack(fields))
return nv
`;

/**
 * A rate limiter's next slot re-spaced for a new interval: the slot after the
 * last request moves from last + old to last + new (a faster rate applies
 * from the next request, not after the old, longer gap).
 * KEYS: limiter key  ARGV: old interval ms, new interval ms
 */
export const RETIME_LIMITER = `
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat == 0 then return 0 end
local nt = tat - tonumber(ARGV[1]) + tonumber(ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 1 then ttl = 60000 end
redis.call('SET', KEYS[1], nt, 'PX', ttl)
return 1
`;

/**
 * The version of each campaign's settings (`config_version` in its hash,
 * bumped by every write of `config`): what running workers and pollers
 * look at, every half second or so, to pick up a change.
 */
export class SettingsStore {
  private readonly replaceScript: Script;
  private readonly retimeScript: Script;

  constructor(private readonly redis: RedisClient, private readonly keys: Keys) {
    this.replaceScript = defineScript(redis, 'dialer_replace_settings', 2, REPLACE_SETTINGS);
    this.retimeScript = defineScript(redis, 'dialer_retime_limiter', 1, RETIME_LIMITER);
  }

  /** Re-spaces a rate limiter (`scope` as in LimitsStore.reserveSlot) from one interval to another. */
  async retimeLimiter(scope: string, oldIntervalMs: number, newIntervalMs: number): Promise<void> {
    await this.retimeScript(this.keys.limiter(scope), oldIntervalMs, newIntervalMs);
  }

  /** The settings version of a campaign (0 when never changed, or unknown). */
  async version(id: string): Promise<number> {
    return Number((await this.redis.hget(this.keys.campaign(id), 'config_version')) ?? 0);
  }

  /** Compare-and-set of the settings plus their audit event; see REPLACE_SETTINGS. */
  async replace(id: string, expectedVersion: number, configJson: string, audit: Record<string, string>): Promise<number | 'moved' | 'gone'> {
    const flat = Object.entries(audit).filter(([, v]) => v !== '').flat();
    const r = Number(await this.replaceScript(this.keys.campaign(id), this.keys.audit(id), expectedVersion, configJson, ...flat));
    return r > 0 ? r : r === 0 ? 'moved' : 'gone';
  }
}
