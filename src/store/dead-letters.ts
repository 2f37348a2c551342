import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

/** A campaign's dead-letter set: rows that ended `dead-letter`, by when (ms). The rows themselves keep the outcome. */
export class DeadLetterStore {
  constructor(private readonly redis: RedisClient, private readonly keys: Keys) {}

  /** Dead-lettered rows and when (ms), oldest first. */
  async list(id: string): Promise<{ row: number; at: number }[]> {
    const flat = await this.redis.zrange(this.keys.dlq(id), 0, -1, 'WITHSCORES');
    const out: { row: number; at: number }[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ row: Number(flat[i]), at: Number(flat[i + 1]) });
    return out;
  }

  async count(id: string): Promise<number> {
    return this.redis.zcard(this.keys.dlq(id));
  }

  /** Empties the set (rows keep their outcome); returns how many it held. */
  async clear(id: string): Promise<number> {
    const [[, n]] = (await this.redis.multi().zcard(this.keys.dlq(id)).del(this.keys.dlq(id)).exec()) as [[unknown, number], [unknown, number]];
    return n;
  }
}
