import { Redis, Cluster, type RedisOptions } from 'ioredis';
import type { Env } from '../config/env.js';

export type RedisClient = Redis | Cluster;

/**
 * Opens a Redis connection (or a Cluster client when REDIS_CLUSTER_NODES is
 * set), with `maxRetriesPerRequest: null` as BullMQ workers need.
 * `autoPipelining` sends the commands issued in one tick as one pipeline: the
 * store's connection uses it, so many concurrent dials share round trips.
 */
export function connectRedis(env: Pick<Env, 'redisUrl' | 'redisClusterNodes' | 'redisPassword'>, opts: { autoPipelining?: boolean } = {}): RedisClient {
  // REDIS_PASSWORD fills in what REDIS_URL leaves out (ioredis: the URL's own password wins).
  const auth: RedisOptions = env.redisPassword ? { password: env.redisPassword } : {};
  const common: RedisOptions = { maxRetriesPerRequest: null, enableAutoPipelining: opts.autoPipelining ?? false, ...auth };
  if (env.redisClusterNodes?.length) {
    const nodes = env.redisClusterNodes.map((hp) => {
      const [host, port] = hp.split(':');
      return { host: host || '127.0.0.1', port: Number(port) || 6379 };
    });
    return new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: null, ...auth }, enableOfflineQueue: true, enableAutoPipelining: opts.autoPipelining ?? false });
  }
  return new Redis(env.redisUrl, common);
}

/** The nodes that hold keys: every master of a Cluster, or the one server. */
export function keyNodes(redis: RedisClient): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/**
 * Every key matching a SCAN `pattern`, in batches. A Cluster client would
 * send SCAN to one node at random, so there each master is scanned in turn.
 */
export async function* scanKeys(redis: RedisClient, pattern: string, count = 1000): AsyncGenerator<string[]> {
  for (const node of keyNodes(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      if (keys.length) yield keys;
    } while (cursor !== '0');
  }
}

/**
 * Deletes every key matching `patterns` (Keys.scanPatterns: ours and
 * BullMQ's): for throwaway state such as `dialer demo`'s. Returns how many went.
 */
export async function deleteByPatterns(redis: RedisClient, patterns: string[]): Promise<number> {
  let n = 0;
  for (const pattern of patterns) {
    for await (const keys of scanKeys(redis, pattern)) {
      // A Cluster refuses one UNLINK over several slots: a key at a time there.
      n += redis instanceof Cluster ? (await Promise.all(keys.map((k) => redis.unlink(k)))).reduce((a, b) => a + b, 0) : await redis.unlink(...keys);
    }
  }
  return n;
}
