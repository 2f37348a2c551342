import { CalleaseClient, isLoopbackHost } from './api/client.js';
import { offsetClock, systemClock, type Clock } from './clock.js';
import type { Env } from './config/env.js';
import { DialQueues } from './dialer/jobs.js';
import { DialerError, coerceError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { RedisOutageLog, redisErrorHint } from './store/connection-log.js';
import { connectRedis, keyNodes, type RedisClient } from './store/redis.js';
import { Store } from './store/store.js';
import { once, within } from './util.js';
import { quitRedis } from './store/close.js';

/** Everything a command needs, created once at the edge and passed down. */
export interface Runtime {
  env: Env;
  log: Logger;
  clock: Clock;
  redis: RedisClient;
  store: Store;
  queues: DialQueues;
  /** The Callease client; throws a clear error when no API key is configured. */
  api(): CalleaseClient;
  close(): Promise<void>;
}

/** "redis://user:secret@host:6379" → "redis://user:***@host:6379" */
export function safeRedisUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

function loopbackUrl(url: string): boolean {
  try {
    return isLoopbackHost(new URL(url).hostname);
  } catch {
    return false;
  }
}

export async function openRuntime(env: Env, opts: { log?: Logger } = {}): Promise<Runtime> {
  const log = opts.log ?? createLogger(env.logLevel);
  const redis = connectRedis(env);
  // An outage is told as JSON log lines (once, then every 30 s), never as ioredis' raw stack traces.
  const outages = new RedisOutageLog(log);
  const quiet = () => undefined; // until connected: the ping below reports the failure
  redis.on('error', quiet);
  try {
    if ((await within(redis.ping(), 3000, 'timeout')) === 'timeout') throw new Error('no answer within 3 s');
  } catch (e) {
    redis.disconnect();
    if (env.redisClusterNodes?.length) {
      throw new DialerError('REDIS_UNAVAILABLE', `cannot reach Redis Cluster ${env.redisClusterNodes.join(',')} (${coerceError(e).message}); check REDIS_CLUSTER_NODES (host:port of one or more cluster nodes, comma-separated) and that the cluster reports cluster_state:ok`);
    }
    const why = coerceError(e).message;
    const hint = redisErrorHint(why);
    if (hint) throw new DialerError('REDIS_UNAVAILABLE', `Redis at ${safeRedisUrl(env.redisUrl)} refused the connection (${why}): ${hint}`);
    throw new DialerError('REDIS_UNAVAILABLE', `cannot reach Redis at ${safeRedisUrl(env.redisUrl)} (${why}); start one with "redis-server" or set REDIS_URL`);
  }
  redis.off('error', quiet);
  outages.watch(redis);
  // A Cluster spreads campaigns over its masters unless the prefix is a `{tag}` (one slot, as before: store/keys.ts).
  const layout = env.redisClusterNodes?.length && !/[{}]/.test(env.prefix) ? 'spread' : 'flat';
  // Our own commands go on a connection of their own, apart from BullMQ's.
  // (ioredis auto-pipelining was tried here: it broke MULTI results in the upload path.)
  const storeRedis = connectRedis(env);
  outages.watch(storeRedis);
  const store = new Store(storeRedis, env.prefix, { layout, leaseMs: env.rowLeaseMs, durableDials: env.durableDials });
  if (layout === 'spread') await refuseOldClusterLayout(storeRedis, store.keys.prefix, env.prefix).catch((e) => {
    storeRedis.disconnect();
    redis.disconnect();
    throw e;
  });
  // BullMQ queues re-emit their connection's errors; without a listener they print them raw.
  const queues = new DialQueues(redis, store.keys, outages.error);
  let client: CalleaseClient | undefined;
  return {
    env,
    log,
    clock: env.now ? offsetClock(env.now) : systemClock,
    redis,
    store,
    queues,
    api() {
      if (!client) {
        if (!env.apiKey) throw new DialerError('CONFIG_INVALID', 'CALLEASE_API_KEY is not set');
        if (!env.tlsRejectUnauthorized && !loopbackUrl(env.baseUrl)) {
          throw new DialerError('CONFIG_INVALID', 'NODE_TLS_REJECT_UNAUTHORIZED=0 is set while CALLEASE_BASE_URL is not loopback; refusing to send personal data without verified TLS');
        }
        client = new CalleaseClient({
          baseUrl: env.baseUrl, apiKey: env.apiKey, timeoutMs: env.httpTimeoutMs, getCallPath: env.getCallPath, callsBatch: env.callsBatch, allowInsecureHttp: env.allowInsecureHttp,
        });
        if (env.allowInsecureHttp && client.baseUrl.startsWith('http:') && !loopbackUrl(client.baseUrl)) {
          log.warn({ host: new URL(client.baseUrl).host }, 'CALLEASE_ALLOW_INSECURE_HTTP=1: the API key goes over plain http to a host that is not loopback; for a simulator only');
        }
      }
      return client;
    },
    close: once(async () => {
      await queues.close();
      log.debug('queues closed');
      await Promise.all([quitRedis(redis, log, 'bullmq'), quitRedis(storeRedis, log, 'store')]);
      log.debug('Redis connections closed');
    }),
  };
}

/**
 * `openRuntime` for a long-running process that may start before Redis (a
 * container coming up first, a Redis restart): retries while Redis is
 * unreachable, up to `waitMs`, saying so on stderr each time.
 */
export async function openRuntimeWaiting(env: Env, waitMs: number, opts: { log?: Logger } = {}): Promise<Runtime> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await openRuntime(env, opts);
    } catch (e) {
      if (!(e instanceof DialerError && e.code === 'REDIS_UNAVAILABLE') || Date.now() > deadline || /refused the connection/.test(e.message)) throw e;
      process.stderr.write(`waiting for Redis: ${e.message}\n`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

/** Warns when Redis could lose or evict the ledger; refuses when DIALER_DURABLE_DIALS=required and nothing can confirm a write. */
export async function checkRedisDurability(rt: Runtime): Promise<string[]> {
  const warnings: string[] = [];
  // A Cluster client would ask one node at random: ask every master, since our slot may sit on (or fail over to) any of them.
  const nodes = keyNodes(rt.redis);
  for (const node of nodes) {
    const which = nodes.length > 1 ? `Redis node ${node.options.host}:${node.options.port}` : 'Redis';
    try {
      const [, policy] = (await node.config('GET', 'maxmemory-policy')) as [string, string];
      const [, aof] = (await node.config('GET', 'appendonly')) as [string, string];
      if (policy !== 'noeviction') warnings.push(`${which} maxmemory-policy is "${policy}": it may evict queued contacts and the dial ledger; set it to noeviction`);
      if (aof !== 'yes') warnings.push(`${which} runs without AOF (appendonly no): a Redis crash can forget dials and re-dial people; set appendonly yes`);
    } catch {
      warnings.push(`could not read ${which} configuration (CONFIG GET refused); make sure it runs with appendonly yes and maxmemory-policy noeviction`);
    }
  }
  for (const w of warnings) rt.log.warn(w);
  // What stands between a Redis crash and a second call to the same person (DIALER_DURABLE_DIALS).
  const d = await rt.store.durability.detect();
  rt.log.info({ mode: d.mode, setting: rt.env.durableDials }, `dial ledger durability: ${d.reason}`);
  if (rt.env.durableDials === 'required' && d.mode === 'none') {
    throw new DialerError('CONFIG_INVALID', `DIALER_DURABLE_DIALS=required, but this Redis cannot confirm a write before the POST (${d.reason}); add a replica, set appendfsync always, use Redis >= 7.2 with AOF, or set DIALER_DURABLE_DIALS=auto`);
  }
  return warnings;
}

/**
 * Before the spread layout, a Cluster deployment kept every key under
 * `{<prefix>}` (one slot). Its campaign list sits where the spread layout
 * keeps it, but its campaigns' keys do not: rather than show campaigns that
 * can't be read (or dial them as new), refuse to start and say how to keep
 * the old layout.
 */
async function refuseOldClusterLayout(redis: RedisClient, accountPrefix: string, prefix: string): Promise<void> {
  const ids = await redis.srandmember(`${accountPrefix}:campaigns`, 20);
  for (const id of ids) {
    if (await redis.exists(`${accountPrefix}:c:${id}`)) {
      throw new DialerError('CONFIG_INVALID', `Redis Cluster holds campaigns in the one-slot layout of earlier versions (campaign "${id}" under ${accountPrefix}:c:${id}); set DIALER_PREFIX=${accountPrefix} to keep using them (one slot), or end and delete them before spreading campaigns over the masters with DIALER_PREFIX=${prefix}`);
    }
  }
}

