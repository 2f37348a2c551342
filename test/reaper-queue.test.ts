/**
 * The reaper on a long queue. It walks the rows whose lease ran out in batches; at the head of a
 * long queue those are the rows a worker is dialing right then. A row the
 * worker takes between the reaper's batch read and its job look-up (its job
 * done and removed, the row `sending`) has an owner and must be left alone:
 * once, at 100,000 rows, about 15,600 such rows were logged as "open row
 * without an owner". Real Redis, real queue; the interleaving is forced by
 * running the worker's two steps inside the reaper's job look-up. And the
 * rows of a long list are trusted until the campaign's rate reaches them, so
 * the reaper reads each about once, not every few minutes (O(rows²)); with
 * the feeder only the fed window is open at all.
 */
import path from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { reapCampaign } from '../src/dialer/reaper.js';
import type { DialQueues } from '../src/dialer/jobs.js';
import { feedWindow } from '../src/dialer/feeder.js';
import { loadCampaign } from '../src/loader/load.js';
import type { Runtime } from '../src/runtime.js';
import { useTestBed } from './helpers/bed.js';
import { REDIS_URL, campaignIn, waitFor, withRuntime } from './helpers/dialer.js';

const bed = useTestBed('reaper-queue');
const prefix = bed.prefix;

const csv = ['name,phone', 'A,0412000001', 'B,0412000002', 'C,0412000003'].join('\n') + '\n';

async function loaded(rt: Runtime, name: string, list = csv, extra: Record<string, unknown> = {}) {
  const c = await campaignIn(path.join(bed.dir, name), { name, assistant_id: 'A1', default_country: 'AU', results: path.join(bed.dir, `${name}.csv`), ...extra }, list);
  await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => Date.now() }, c);
  expect(await rt.store.campaignState(name)).toBe('running');
  return c;
}

/** The real queues, but `before(jobId)` runs inside each job look-up, before it reads. */
function interleaved(rt: Runtime, before: (jobId: string) => Promise<void>): DialQueues {
  return {
    get: (id: string) => rt.queues.get(id),
    jobState: async (id: string, jobId: string) => (await before(jobId), rt.queues.jobState(id, jobId)),
  } as unknown as DialQueues;
}

const ownerless = (logs: { msg?: string }[]) => logs.filter((l) => l.msg === 'open row without an owner; reaping').length;

describe('reaper at the head of the queue', () => {
  it('a row a worker takes while the reaper walks its batch is not reaped', async () => {
    await withRuntime(prefix, undefined, async ({ rt, logs }) => {
      const c = await loaded(rt, 'head');
      const jobOf = new Map<string, number>();
      for (const row of [1, 2, 3]) jobOf.set((await rt.store.getRow(c.name, row))!.job!, row);
      // Row 1: between the batch read and the look-up of its job, a worker starts
      // its POST (row → sending, as DIAL_BEGIN does) and its job completes (removed).
      const queues = interleaved(rt, async (jobId) => {
        if (jobOf.get(jobId) !== 1) return;
        expect(await rt.store.moveRow(c.name, 1, { to: 'sending', from: ['queued'], patch: { status: 'sending' } })).toBe('applied');
        await rt.queues.get(c.name).remove(jobId);
      });
      const later = Date.now() + 10 * 60_000; // every lease has run out
      const acted = await reapCampaign({ store: rt.store, queues, log: rt.log, lockMs: 60_000 }, c.name, later);
      expect(acted).toBe(0);
      expect(ownerless(logs)).toBe(0);
      const row1 = (await rt.store.getRow(c.name, 1))!;
      expect(row1.state).toBe('sending');
      expect(row1.reaped ?? 0).toBe(0);
      // No second job for row 1 (the ledger would stop a second call; the queue must not even hold one).
      expect(await rt.queues.get(c.name).getJobCounts('wait')).toMatchObject({ wait: 2 });
    });
  });

  it('a row whose job is really gone is still given a new one', async () => {
    await withRuntime(prefix, undefined, async ({ rt, logs }) => {
      const c = await loaded(rt, 'lost');
      await rt.queues.get(c.name).remove((await rt.store.getRow(c.name, 2))!.job!);
      const acted = await reapCampaign({ store: rt.store, queues: rt.queues, log: rt.log, lockMs: 60_000 }, c.name, Date.now() + 10 * 60_000);
      expect(acted).toBe(1);
      expect(ownerless(logs)).toBe(1);
      expect((await rt.store.getRow(c.name, 2))!.reaped).toBe(1);
      expect(await rt.queues.get(c.name).getJobCounts('wait')).toMatchObject({ wait: 3 });
    });
  });
});

describe('leases of a long queue', () => {
  it('only the fed window is open, trusted until the rate reaches it; a waiting job is looked at again ten leases later, not when the whole list would be', async () => {
    await withRuntime(prefix, undefined, async ({ rt }) => {
      const n = 2500; // three load chunks of 1000
      const list = ['name,phone', ...Array.from({ length: n }, (_, i) => `P${i + 1},04${String(13000000 + i)}`)].join('\n') + '\n';
      const t0 = Date.now();
      const c = await loaded(rt, 'long', list, { rate: { calls: 1, per_seconds: 1 } });
      const t1 = Date.now();
      const lease = rt.store.leaseMs;
      const window = feedWindow(c); // 10 s at 1/s: 10 rows
      expect(window).toBe(10);
      const score = async (row: number) => Number(await rt.store.redis.zscore(rt.store.keys.open(c.name), String(row)));
      // The window's rows are trusted until the rate reaches the last of them; the rows above the cursor have no lease at all.
      expect(await rt.store.redis.zcard(rt.store.keys.open(c.name))).toBe(window);
      for (const row of [1, window]) {
        expect(await score(row)).toBeGreaterThanOrEqual(t0 + lease + window * 1000);
        expect(await score(row)).toBeLessThanOrEqual(t1 + lease + window * 1000);
      }
      expect(await rt.store.redis.zscore(rt.store.keys.open(c.name), String(window + 1))).toBeNull();
      const at = t1 + lease + window * 1000 + 1;
      // Every command Redis runs meanwhile under our prefix, scripts' own calls included.
      const monitor = await new Redis(REDIS_URL).monitor();
      const seen: string[][] = [];
      monitor.on('monitor', (_t: string, args: string[]) => void (args[1]?.startsWith(prefix) && seen.push(args)));
      try {
        expect(await reapCampaign({ store: rt.store, queues: rt.queues, log: rt.log, lockMs: 60_000 }, c.name, at)).toBe(0);
        // MONITOR's stream lags the commands: a marker read last tells when it has shown them all.
        const marker = `${prefix}:monitor-end`;
        await rt.store.redis.get(marker);
        await waitFor(() => seen.some((a) => a[1] === marker), 'MONITOR to show the marker', 10_000);
      } finally {
        monitor.disconnect();
      }
      // Each look at a waiting job is O(1): no search through the wait list (BullMQ's getJobState does LPOS over it).
      expect(seen.filter((a) => a[0]!.toLowerCase() === 'lpos' && !a[1]!.endsWith(':active'))).toEqual([]);
      expect(seen.filter((a) => a[0]!.toLowerCase() === 'exists').length).toBe(window);
      // Ahead of a waiting job is the window (10 s at the rate), not the 2,490 rows above the cursor: ten leases.
      expect(await score(1)).toBe(at + 10 * lease);
    });
  });
});
