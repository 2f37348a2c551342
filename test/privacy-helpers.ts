/**
 * Helpers of the privacy tests: dialing with the privacy screen and
 * gates wired in as the CLI wires them, and an independent search of every
 * Redis value under a prefix (deliberately not src/privacy/scan.ts, so a bug
 * there can't hide a leftover from the tests).
 */
import type { Redis } from 'ioredis';
import type { Campaign } from '../src/config/campaign.js';
import { WorkerService } from '../src/dialer/service.js';
import { consentGate, erasedGate, privacyScreen, type DialGate } from '../src/gate/index.js';
import { loadCampaign, type LoadSummary } from '../src/loader/load.js';
import { Poller } from '../src/poller/poller.js';
import type { Runtime } from '../src/runtime.js';
import { waitFor } from './helpers/dialer.js';

/** The worker gate as the worker command composes it: erased numbers, then consent. */
export function privacyGate(rt: Runtime): DialGate {
  const erased = erasedGate(rt.store, rt.env.hashKey);
  return async (c, rec) => (await erased(c, rec)) ?? consentGate(c, rec) ?? { action: 'go' };
}

export async function loadWithScreen(rt: Runtime, c: Campaign): Promise<LoadSummary> {
  return loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => rt.clock.now(), screen: privacyScreen(rt.store, rt.env.hashKey) }, c);
}

/** Loads (with the privacy screen) and dials `c` until done, then stops the worker and poller. */
export async function dialToEnd(rt: Runtime, c: Campaign, timeoutMs = 30_000, preloaded?: LoadSummary): Promise<LoadSummary> {
  const load = preloaded ?? (await loadWithScreen(rt, c));
  const workers = new WorkerService(rt, { campaigns: [c.name], scanMs: 100, gate: privacyGate(rt) });
  const poller = new Poller({ store: rt.store, api: rt.api(), log: rt.log, queues: rt.queues, lockMs: rt.env.lockMs, tickMs: 50 });
  workers.start();
  poller.start();
  try {
    await waitFor(async () => (await rt.store.getCampaign(c.name))?.state === 'done', `campaign ${c.name} done`, timeoutMs, 100);
  } finally {
    await Promise.all([workers.close(), poller.close()]);
  }
  return load;
}

export interface Hit {
  key: string;
  type: string;
  text: string;
}

/** Every key under `prefix` whose name, fields, members or values contain any of `needles`. */
export async function searchRedis(redis: Redis, prefix: string, needles: string[]): Promise<Hit[]> {
  const hits: Hit[] = [];
  const check = (key: string, type: string, text: string) => {
    if (needles.some((n) => text.includes(n))) hits.push({ key, type, text: text.slice(0, 200) });
  };
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      check(key, type, key);
      if (type === 'string') check(key, type, (await redis.get(key)) ?? '');
      else if (type === 'hash') for (const [f, v] of Object.entries(await redis.hgetall(key))) check(key, type, `${f}=${v}`);
      else if (type === 'set') for (const m of await redis.smembers(key)) check(key, type, m);
      else if (type === 'zset') for (const m of await redis.zrange(key, 0, -1)) check(key, type, m);
      else if (type === 'list') for (const m of await redis.lrange(key, 0, -1)) check(key, type, m);
      else if (type === 'stream') for (const [id, f] of await redis.xrange(key, '-', '+')) check(key, type, `${id} ${f.join(' ')}`);
      else hits.push({ key, type, text: '(type not searched)' });
    }
  } while (cursor !== '0');
  return hits;
}

/** Types of the keys under a prefix, to show a search covered them (BullMQ hashes, streams...). */
export async function keyTypes(redis: Redis, prefix: string): Promise<Set<string>> {
  const out = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    for (const k of keys) out.add(await redis.type(k));
  } while (cursor !== '0');
  return out;
}
