import type { Worker } from 'bullmq';
import type { Logger } from '../log.js';
import type { RedisClient } from './redis.js';
import { within } from '../util.js';

/** How long a close waits on Redis before it stops waiting and disconnects (ms). */
export const CLOSE_WAIT_MS = 5000;

type BlockingClient = RedisClient & { nodes?: () => unknown[] };

/**
 * The worker's own blocking connection (BZPOPMIN), when BullMQ has made one:
 * the Redis backend's `blockingClient` escape hatch.
 */
async function blockingClient(worker: Worker): Promise<BlockingClient | undefined> {
  const backend = worker.backend as unknown as { blockingClient?: Promise<BlockingClient> };
  return backend.blockingClient?.catch(() => undefined);
}

/**
 * `worker.close(force)`, made sure to end. BullMQ's close starts by
 * disconnecting the worker's blocking connection and waits for its 'end'. An
 * ioredis Cluster client with no node connections at that moment (between a
 * lost connection or a failed slots refresh and its reconnect, which is
 * what a loaded machine gives) only cancels its reconnect there and never
 * emits 'end', so the close waits forever. Once the close has waited
 * CLOSE_WAIT_MS, a blocking connection that has not ended is ended here: a
 * Cluster without nodes is connected first (a disconnect of one with nodes
 * does end). After `hardMs` the wait stops, with an error logged, and
 * whatever the worker still runs is left behind.
 */
export async function closeWorker(worker: Worker, force: boolean, log: Logger, what: string, hardMs: number): Promise<void> {
  const closing = worker.close(force).then(() => 'closed' as const);
  const start = Date.now();
  let told = false;
  for (;;) {
    const r = await within(closing, 1000, 'waiting' as const);
    if (r === 'closed') return;
    const waited = Date.now() - start;
    if (waited >= hardMs) {
      log.error({ worker: what, waitedMs: waited }, 'BullMQ worker did not close; going on without it');
      closing.catch(() => undefined);
      return;
    }
    const b = waited >= CLOSE_WAIT_MS ? await blockingClient(worker) : undefined;
    if (!b || b.status === 'end' || b.status === 'connecting') continue;
    if (!told) log.warn({ worker: what, blocking: b.status, waitedMs: waited }, 'BullMQ worker still waiting for its blocking Redis connection to end; ending it');
    told = true;
    if (typeof b.nodes === 'function' && b.nodes().length === 0) void b.connect().catch(() => undefined).finally(() => b.disconnect());
    else b.disconnect();
  }
}

/** QUIT, or a disconnect when Redis has not answered it within CLOSE_WAIT_MS. */
export async function quitRedis(r: RedisClient, log: Logger, what: string): Promise<void> {
  const quit = r.quit().then(() => 'quit' as const, () => 'failed' as const);
  const res = await within(quit, CLOSE_WAIT_MS, 'timeout' as const);
  if (res === 'timeout') log.warn({ connection: what, status: r.status }, `Redis did not answer QUIT within ${CLOSE_WAIT_MS} ms; disconnecting`);
  if (res !== 'quit') r.disconnect();
}
