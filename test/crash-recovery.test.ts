/**
 * Recovery paths the chaos run passes through too rarely to prove on its own,
 * each set up exactly, in-process, on the real Redis and the simulator.
 */
import { Readable } from 'node:stream';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/cli/local-redis.js';
import { parseCampaign, type Campaign } from '../src/config/campaign.js';
import { readEnv } from '../src/config/env.js';
import { WorkerService } from '../src/dialer/service.js';
import { loadCampaign } from '../src/loader/load.js';
import { createLogger } from '../src/log.js';
import { Poller } from '../src/poller/poller.js';
import { openRuntime, type Runtime } from '../src/runtime.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';

const PREFIX = `t-crash-recovery-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const PHONE = '+61412000001';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const open: { rts: Runtime[]; sims: Simulator[] } = { rts: [], sims: [] };
afterAll(async () => {
  const r = open.rts[0]?.redis as Redis | undefined;
  let cursor = '0';
  if (r) {
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  }
  await Promise.all([...open.rts.map((rt) => rt.close()), ...open.sims.map((s) => s.close())]);
});

async function runtime(baseUrl: string): Promise<Runtime> {
  const rt = await openRuntime({ ...readEnv({}), prefix: PREFIX, apiKey: 'sim-key', baseUrl, httpTimeoutMs: 3000, lockMs: 10_000 }, { log: createLogger('silent') });
  open.rts.push(rt);
  return rt;
}

/** A one-contact campaign, loaded. */
async function load(rt: Runtime, name: string, extra: Record<string, unknown> = {}): Promise<Campaign> {
  const c = parseCampaign(JSON.stringify({
    name, assistant_id: 'asst_1', contacts: 'none.csv', rate: { calls: 50, per_seconds: 1 },
    poll: { interval_seconds: 0.2, timeout_minutes: 1 }, ...extra,
  }), `${name}.json`, '/tmp');
  await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => Date.now() }, c, Readable.from([`name,phone\nAda,${PHONE}\n`]));
  return c;
}

/** Runs workers and a poller until row 1 is final (or `ms` pass). */
async function dialUntilFinal(rt: Runtime, name: string, ms: number, meanwhile?: () => Promise<void>): Promise<void> {
  const workers = new WorkerService(rt, { campaigns: [name], scanMs: 100 });
  const poller = new Poller({ store: rt.store, api: rt.api(), log: rt.log, queues: rt.queues, lockMs: rt.env.lockMs, tickMs: 50 });
  workers.start();
  poller.start();
  try {
    await meanwhile?.();
    for (let t = Date.now(); Date.now() - t < ms && !(await rt.store.getRow(name, 1))?.outcome; ) await sleep(50);
  } finally {
    await Promise.all([workers.close(), poller.close()]);
  }
}

const postsOf = (sim: Simulator) => sim.requests.filter((r) => r.method === 'POST' && r.path === '/calls');

describe('crash and failure recovery', () => {
  // Regression: BullMQ emits 'failed' for every failed attempt, and the worker's
  // safety net took the first retryable failure for a job BullMQ had given up
  // on, dead-lettering the contact instead of letting the retry run.
  it('a POST that never left (connection refused) is retried after the backoff, not dead-lettered', async () => {
    const port = await freePort(); // nothing listens yet
    const rt = await runtime(`http://127.0.0.1:${port}`);
    await load(rt, 'retry', { retry: { attempts: 5, backoff_ms: 1500, max_backoff_ms: 1500 } });
    let sim: Simulator | undefined;
    await dialUntilFinal(rt, 'retry', 15_000, async () => {
      for (let i = 0; i < 100 && ((await rt.store.getRow('retry', 1))?.attempts ?? 0) < 1; i++) await sleep(50);
      expect((await rt.store.getRow('retry', 1))?.attempts).toBe(1);
      // The API comes up on that port inside the backoff.
      sim = await startSimulator({ port, callDurationMs: { min: 100, max: 200 }, outcomeFor: { [PHONE]: 'busy' } });
      open.sims.push(sim);
    });
    const row = await rt.store.getRow('retry', 1);
    expect(row).toMatchObject({ outcome: 'busy', attempts: 2 });
    expect(postsOf(sim!)).toHaveLength(1);
    expect(row?.call_id).toBe(postsOf(sim!)[0]!.call_id);
  }, 30_000);

  // Regression: a poller killed between "no call found, redial" (ledger back to
  // pending) and queueing the redial job left the contact with no job: the next
  // look saw `pending`, took it for "a job owns this row" and dropped the row.
  it('a redial whose job a dying poller never queued is queued on the next look', async () => {
    const sim = await startSimulator({ callDurationMs: { min: 100, max: 200 }, outcomeFor: { [PHONE]: 'completed' } });
    open.sims.push(sim);
    const rt = await runtime(sim.url);
    const c = await load(rt, 'redial-cut', { on_ambiguous: 'redial', ambiguous_grace_seconds: 1 });
    // The state that poller left: the first dial's job is done (it was ambiguous),
    // the ledger says pending with the redial's mark, the row's poll is still due.
    await rt.queues.get(c.name).remove(`${c.name}-1`);
    const entry = { s: 'pending', r: 1, a: 1, t: Date.now() - 5000, sent: Date.now() - 5000, e: 'not found after ambiguous dial: API_SERVER_ERROR' };
    await rt.redis.hset(rt.store.keys.ledger(c.name), PHONE, JSON.stringify(entry));
    await rt.store.moveRow(c.name, 1, { to: 'ambiguous', patch: { attempts: 1, status: 'ambiguous', job: null } });
    await rt.store.schedulePoll(c.name, 1, Date.now());
    await dialUntilFinal(rt, c.name, 10_000);
    expect(await rt.store.getRow(c.name, 1)).toMatchObject({ outcome: 'completed', attempts: 2 });
    expect(postsOf(sim)).toHaveLength(1);
  }, 30_000);
});
