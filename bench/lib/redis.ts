import { Redis } from 'ioredis';
import { startLocalRedis, startLocalReplica, type LocalRedis } from '../../src/cli/local-redis.js';
import { track } from './proc.js';

/**
 * A private redis-server for one bench variant: nobody else's keys in it (INFO
 * memory and CPU are ours) and nothing to clean up but the process. AOF stays
 * on as in production; automatic AOF rewrites are off so that a fork landing
 * in one variant's run and not the other's can't decide the comparison.
 */
export async function privateRedis(): Promise<LocalRedis> {
  const r = await startLocalRedis();
  track(r.process);
  const c = new Redis(r.url);
  try {
    await c.config('SET', 'auto-aof-rewrite-percentage', '0');
  } finally {
    c.disconnect();
  }
  return r;
}

/** `replica`: the server gets one connected replica of its own (for the durable-dial bench). */
export async function withRedis<T>(fn: (r: LocalRedis) => Promise<T>, opts: { replica?: boolean } = {}): Promise<T> {
  const r = await privateRedis();
  const replica = opts.replica ? await startLocalReplica(r).then((x) => (track(x.process), x)).catch(async (e: unknown) => (await r.stop(), Promise.reject(e))) : undefined;
  try {
    return await fn(r);
  } finally {
    await replica?.stop();
    await r.stop();
  }
}

export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)![1]);
}

/** Commands Redis has run (INFO commandstats), by command, and its CPU seconds (INFO cpu). */
export async function redisWork(url: string): Promise<{ calls: Map<string, number>; total: number; cpuS: number }> {
  const c = new Redis(url);
  try {
    const stats = await c.info('commandstats');
    const cpu = await c.info('cpu');
    const calls = new Map<string, number>();
    for (const m of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1]!, Number(m[2]));
    const sec = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0);
    return { calls, total: [...calls.values()].reduce((a, b) => a + b, 0), cpuS: sec('used_cpu_user') + sec('used_cpu_sys') };
  } finally {
    c.disconnect();
  }
}
