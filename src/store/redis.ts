import { Redis, Cluster, type RedisOptions } from 'ioredis';
import type { Env } from '../config/env.js';

export type RedisClient = Redis | Cluster;

/**
 * Opens a Redis connection (or a Cluster client when REDIS_CLUSTER_NODES is
 * set). `maxRetriesPerRequest: null` is what BullMQ workers need; short-lived
 * CLI commands pass `failFast` so an absent Redis is reported, not retried.
 */
export function connectRedis(env: Pick<Env, 'redisUrl' | 'redisClusterNodes'>, opts: { failFast?: boolean } = {}): RedisClient {
  const common: RedisOptions = opts.failFast
    ? { maxRetriesPerRequest: 1, enableOfflineQueue: true, retryStrategy: (n) => (n > 2 ? null : 200) }
    : { maxRetriesPerRequest: null };
  if (env.redisClusterNodes?.length) {
    const nodes = env.redisClusterNodes.map((hp) => {
      const [host, port] = hp.split(':');
      return { host: host || '127.0.0.1', port: Number(port) || 6379 };
    });
    return new Cluster(nodes, { redisOptions: common, enableOfflineQueue: true });
  }
  return new Redis(env.redisUrl, common);
}
