import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

/** The global suppression set: E.164 numbers never to call. */
export class SuppressionStore {
  constructor(private readonly redis: RedisClient, private readonly keys: Keys) {}

  /** Adds numbers (SADD in chunks of 10 000); returns how many were new. */
  async add(e164s: string[]): Promise<number> {
    let added = 0;
    for (let i = 0; i < e164s.length; i += 10_000) added += await this.redis.sadd(this.keys.suppression, ...e164s.slice(i, i + 10_000));
    return added;
  }

  async remove(e164s: string[]): Promise<number> {
    if (e164s.length === 0) return 0;
    return this.redis.srem(this.keys.suppression, ...e164s);
  }

  async has(e164: string): Promise<boolean> {
    return (await this.redis.sismember(this.keys.suppression, e164)) === 1;
  }

  /**
   * Membership of many numbers in one round trip (SMISMEMBER), for the load
   * screen's chunks: no copy of the set is held anywhere.
   */
  async hasMany(e164s: string[]): Promise<boolean[]> {
    if (e164s.length === 0) return [];
    return (await this.redis.smismember(this.keys.suppression, ...e164s)).map((v) => v === 1);
  }

  /**
   * One SADD of a batch, for streamed imports: the caller keeps a few in
   * flight (the connection pipelines them); returns how many were new.
   */
  async addBatch(e164s: string[]): Promise<number> {
    if (e164s.length === 0) return 0;
    return this.redis.sadd(this.keys.suppression, ...e164s);
  }

  async size(): Promise<number> {
    return this.redis.scard(this.keys.suppression);
  }

  /** Every number of the set, sorted (SSCAN may repeat a member, hence the set). */
  async members(): Promise<string[]> {
    const out: string[] = [];
    const stream = this.redis.sscanStream(this.keys.suppression, { count: 1000 });
    for await (const batch of stream as AsyncIterable<string[]>) out.push(...batch);
    return [...new Set(out)].sort();
  }

  /**
   * Removes a number whatever type the key has (set, sorted set or hash), for
   * erasure, which must not leave it behind if the suppression feature's
   * storage changes; returns how many entries went.
   */
  async erase(e164: string): Promise<number> {
    const key = this.keys.suppression;
    const type = await this.redis.type(key);
    if (type === 'set') return this.redis.srem(key, e164);
    if (type === 'zset') return this.redis.zrem(key, e164);
    if (type === 'hash') return this.redis.hdel(key, e164);
    return 0;
  }
}
