/**
 * The feeder (dialer/feeder.ts): a campaign keeps only a window of dial jobs
 * in BullMQ, fed from its queued rows in row order. Real Redis, the
 * simulator, real worker services (two, to share the feed lock) and, for the
 * crash, a real process SIGKILLed between the feed's claim and its addBulk.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { campaignStatus } from '../src/campaign/status.js';
import { cancelCampaign, pauseCampaign, resumeCampaign } from '../src/campaign/control.js';
import type { Campaign } from '../src/config/campaign.js';
import { feedRows, feedWindow, topUp } from '../src/dialer/feeder.js';
import { dialJob } from '../src/dialer/jobs.js';
import { reapCampaign } from '../src/dialer/reaper.js';
import { WorkerService } from '../src/dialer/service.js';
import { loadCampaign } from '../src/loader/load.js';
import { Poller } from '../src/poller/poller.js';
import { eraseInCampaign } from '../src/privacy/forget.js';
import type { Runtime } from '../src/runtime.js';
import { ServerMetrics } from '../src/server/metrics.js';
import type { Simulator } from '../src/simulator/index.js';
import { useTestBed } from './helpers/bed.js';
import { REPO_ROOT, campaignIn, openTestRuntime, postsByNumber, waitFor } from './helpers/dialer.js';
import { numbers, useSimulators } from './helpers/sim-http.js';

const simulator = useSimulators();
const bed = useTestBed('feeder');
const { prefix } = bed;

const csvOf = (phones: string[]) => ['name,phone', ...phones.map((p, i) => `Person ${i + 1},${p}`)].join('\n') + '\n';

async function runtime(sim?: Simulator, feedWindowMax = 20): Promise<Runtime> {
  const t = await openTestRuntime(prefix, sim, { feedWindowMax, reapEveryMs: 200, rowLeaseMs: 2000 });
  bed.open.push({ t });
  return t.rt;
}

async function campaign(name: string, phones: string[], extra: Record<string, unknown> = {}): Promise<Campaign> {
  return campaignIn(path.join(bed.dir, name), {
    name, assistant_id: 'CE_1', default_country: 'AU', rate: { calls: 1000, per_seconds: 1 }, concurrency: 20,
    poll: { interval_seconds: 0.2, timeout_minutes: 5 }, results: path.join(bed.dir, name, 'results.csv'), ...extra,
  }, csvOf(phones));
}

const load = (rt: Runtime, c: Campaign) => loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => Date.now(), feedWindowMax: rt.env.feedWindowMax }, c);

/** Dial jobs in the campaign's queue not yet finished. */
async function jobsQueued(rt: Runtime, id: string): Promise<number> {
  const n = await rt.queues.get(id).getJobCounts('wait', 'prioritized', 'delayed', 'active');
  return Object.values(n).reduce((a, b) => a + b, 0);
}

/** Workers (one service per runtime given) and a poller until `stop`. */
function dialing(rts: Runtime[], id: string) {
  const services = rts.map((rt) => new WorkerService(rt, { campaigns: [id], scanMs: 100 }));
  const poller = new Poller({ store: rts[0]!.store, api: rts[0]!.api(), log: rts[0]!.log, queues: rts[0]!.queues, lockMs: rts[0]!.env.lockMs, tickMs: 50 });
  for (const s of services) s.start();
  poller.start();
  return { stop: async () => void (await Promise.all([...services.map((s) => s.close()), poller.close()])) };
}

/** The value of one series in a /metrics exposition, or undefined. */
function metric(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Every one of `n` numbers was POSTed once, none before `startMs` (less 50 ms of timer slack). */
function expectDialedOnceFrom(sim: Simulator, startMs: number, n: number): void {
  const first = Math.min(...sim.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/calls')).map((r) => r.t));
  expect(first).toBeGreaterThanOrEqual(startMs - 50);
  expect(postsByNumber(sim).size).toBe(n);
  expect([...postsByNumber(sim).values()].filter((k) => k !== 1)).toEqual([]);
}

const done = (rt: Runtime, id: string, ms: number) => waitFor(async () => (await rt.store.campaignState(id)) === 'done', `${id} done`, ms, 100);

describe('the feeder', () => {
  it('dials every row of a 5,000-row campaign exactly once through a window of 200 jobs, fed by two worker processes', async () => {
    const sim = await simulator({ callDurationMs: { min: 50, max: 150 } });
    const [a, b] = [await runtime(sim, 200), await runtime(sim, 200)];
    const phones = numbers(5000, 61412300000);
    const c = await campaign('big', phones, { concurrency: 50 });
    const sum = await load(a, c);
    expect(sum).toMatchObject({ rows: 5000, accepted: 5000, jobs: 5000 });
    // Only the first window has jobs and open entries; status still counts every row as queued.
    expect(await jobsQueued(a, 'big')).toBe(200);
    expect(await a.redis.zcard(a.store.keys.open('big'))).toBe(200);
    expect(await a.store.feed.unfed('big')).toBe(4800);
    expect(metric(await new ServerMetrics(a, 30_000).render(), 'dialer_campaign_unfed_rows{campaign="big"}')).toBe(4800);
    expect((await campaignStatus(a.store, a.queues, 'big')).queued).toBe(5000);
    let most = 0;
    const sampling = setInterval(() => void jobsQueued(a, 'big').then((n) => (most = Math.max(most, n)), () => undefined), 50);
    const d = dialing([a, b], 'big');
    try {
      await done(a, 'big', 240_000);
    } finally {
      clearInterval(sampling);
      await d.stop();
    }
    const posts = postsByNumber(sim);
    expect(posts.size).toBe(5000);
    expect([...posts.values()].filter((n) => n !== 1)).toEqual([]);
    expect(await a.store.counts('big')).toMatchObject({ finished: 5000 });
    expect(await a.store.feed.cursor('big')).toMatchObject({ fed: 5000, unfed: 0 });
    // The queue never held much more than the window (a top-up under the lock counts the queue again).
    expect(most).toBeLessThanOrEqual(2 * feedWindow(c, 200));
  }, 300_000);

  it('cancel ends the rows above the feed cursor too, and the campaign settles canceled', async () => {
    const rt = await runtime();
    const c = await campaign('cancel', numbers(500, 61412400000));
    await load(rt, c);
    expect(await rt.store.feed.cursor('cancel')).toMatchObject({ fed: 20, unfed: 480 });
    const r = await cancelCampaign(rt, 'cancel', { waitMs: 1000 });
    expect(r).toMatchObject({ canceled: 500, in_flight: 0, state: 'canceled' });
    expect(await rt.store.counts('cancel')).toMatchObject({ canceled: 500, finished: 500 });
    expect(await rt.store.rowStates('cancel')).toMatchObject({ queued: 0 });
    expect(await rt.redis.zcard(rt.store.keys.open('cancel'))).toBe(0);
    expect(await rt.store.feed.cursor('cancel')).toMatchObject({ fed: 500, unfed: 0 });
  });

  it('a cancel that stopped after setting canceling is finished by the reaper, rows above the cursor included', async () => {
    const rt = await runtime();
    const c = await campaign('halfcancel', numbers(300, 61412500000));
    await load(rt, c);
    // The cancel process died right after the state change.
    await rt.store.moveCampaign('halfcancel', 'canceling');
    await reapCampaign({ store: rt.store, queues: rt.queues, log: rt.log, lockMs: 10_000 }, 'halfcancel', Date.now() + 10 * 60_000);
    expect(await rt.store.counts('halfcancel')).toMatchObject({ canceled: 300, finished: 300 });
    expect(await rt.store.campaignState('halfcancel')).toBe('canceled');
  });

  it('past the deadline the rows above the cursor end expired with the window, and the campaign is done', async () => {
    const rt = await runtime();
    const c = await campaign('deadline', numbers(300, 61412600000), { schedule: { end_after: '1s' } });
    await load(rt, c);
    expect(await rt.store.feed.cursor('deadline')).toMatchObject({ fed: 20, unfed: 280 });
    await new Promise((r) => setTimeout(r, 1100));
    await reapCampaign({ store: rt.store, queues: rt.queues, log: rt.log, lockMs: 10_000 }, 'deadline');
    expect(await rt.store.counts('deadline')).toMatchObject({ expired: 300, finished: 300 });
    expect(await rt.store.campaignState('deadline')).toBe('done');
    expect(await rt.store.feed.cursor('deadline')).toMatchObject({ fed: 300, unfed: 0 });
  });

  it('a number erased above the cursor ends suppressed, leaves the count of unfed rows, and is never dialed', async () => {
    const sim = await simulator({ callDurationMs: { min: 50, max: 100 } });
    const rt = await runtime(sim);
    const phones = numbers(100, 61413100000);
    const c = await campaign('erase', phones);
    await load(rt, c);
    const r = await eraseInCampaign(rt.store, 'erase', [phones[49]!], 'AU');
    expect(r).toMatchObject({ stopped: 1 });
    expect(await rt.store.getRow('erase', 50)).toMatchObject({ outcome: 'suppressed', phone: '' });
    expect(await rt.store.feed.cursor('erase')).toMatchObject({ fed: 20, unfed: 79 });
    expect((await campaignStatus(rt.store, rt.queues, 'erase')).queued).toBe(99);
    const d = dialing([rt], 'erase');
    try {
      await done(rt, 'erase', 60_000);
    } finally {
      await d.stop();
    }
    expect(postsByNumber(sim).size).toBe(99);
    expect(postsByNumber(sim).has(phones[49]!)).toBe(false);
    expect(await rt.store.feed.cursor('erase')).toMatchObject({ fed: 100, unfed: 0 });
  }, 90_000);

  it('before its start_at nothing is fed or dialed beyond the delayed first window; from then every row is dialed once', async () => {
    const sim = await simulator({ callDurationMs: { min: 50, max: 100 } });
    const rt = await runtime(sim);
    const phones = numbers(60, 61413200000);
    const startMs = Date.now() + 3000;
    const c = await campaign('later', phones, { schedule: { start_at: new Date(startMs).toISOString() } });
    await load(rt, c);
    expect(await rt.redis.zcard(rt.queues.get('later').toKey('delayed'))).toBe(20);
    // A worker's look with room in the window (100 > 2 × 20 queued) still feeds nothing before the start.
    expect(await topUp(rt, c, 'test', Date.now(), 100)).toBe(0);
    const d = dialing([rt], 'later');
    try {
      await new Promise((r) => setTimeout(r, Math.max(0, startMs - Date.now() - 800)));
      // Several feed looks with the window's jobs delayed (not yet due): none fed more, none dialed.
      expect(await rt.store.feed.cursor('later')).toMatchObject({ fed: 20, unfed: 40 });
      expect(postsByNumber(sim).size).toBe(0);
      await done(rt, 'later', 60_000);
    } finally {
      await d.stop();
    }
    expectDialedOnceFrom(sim, startMs, 60);
  }, 90_000);

  it('a job that reaches a worker before start_at waits for it, and the reaper requeues a row of such a campaign delayed to it', async () => {
    const sim = await simulator({ callDurationMs: { min: 50, max: 100 } });
    const rt = await runtime(sim);
    const phones = numbers(5, 61413300000);
    const startMs = Date.now() + 3000;
    const c = await campaign('early', phones, { schedule: { start_at: new Date(startMs).toISOString() } });
    await load(rt, c);
    const queue = rt.queues.get('early');
    // Row 1: its delayed job replaced by one due now under the same id, as a requeue that ignored start_at would leave it.
    await queue.remove('early-1');
    const due = dialJob(c, 1);
    await queue.add(due.name, due.data, due.opts);
    expect(await queue.getJobState('early-1')).toBe('waiting');
    // Row 2: its job gone and its lease run out; the reaper gives it a new job, delayed to the start.
    await queue.remove('early-2');
    await rt.store.extendLease('early', 2, Date.now() - 1);
    expect(await reapCampaign({ store: rt.store, queues: rt.queues, log: rt.log, lockMs: 10_000, now: () => Date.now() }, 'early')).toBe(1);
    const requeued = (await rt.store.getRow('early', 2))!.job!;
    expect(requeued).toBe('early-2-k1');
    expect(await queue.getJobState(requeued)).toBe('delayed');
    const d = dialing([rt], 'early');
    try {
      await new Promise((r) => setTimeout(r, Math.max(0, startMs - Date.now() - 1000)));
      // The worker took row 1's job and gave it back until the start: nothing was sent.
      expect(postsByNumber(sim).size).toBe(0);
      await done(rt, 'early', 60_000);
    } finally {
      await d.stop();
    }
    expectDialedOnceFrom(sim, startMs, 5);
  }, 90_000);

  it('a paused campaign is not fed; resumed, it is fed and dialed to the end', async () => {
    const sim = await simulator({ callDurationMs: { min: 50, max: 100 } });
    const rt = await runtime(sim);
    const phones = numbers(120, 61412700000);
    const c = await campaign('pause', phones);
    await load(rt, c);
    await pauseCampaign(rt, 'pause');
    // The window ran dry (its jobs gone): still nothing is fed while paused, by a worker's look or by the feed step itself.
    await rt.queues.get('pause').drain();
    expect(await topUp(rt, c, 'test', Date.now(), 20)).toBe(0);
    expect(await feedRows(rt, c, 20)).toBe(0);
    expect(await rt.store.feed.cursor('pause')).toMatchObject({ fed: 20, unfed: 100 });
    const d = dialing([rt], 'pause');
    try {
      // Several feed looks (0.5 s each) with the queue's window of 20 waiting and the workers on a paused queue.
      await new Promise((r) => setTimeout(r, 2000));
      expect(await rt.store.feed.cursor('pause')).toMatchObject({ fed: 20, unfed: 100 });
      // At most the reaper's requeues of the 20 open rows whose jobs were drained.
      expect(await jobsQueued(rt, 'pause')).toBeLessThanOrEqual(20);
      expect(postsByNumber(sim).size).toBe(0);
      await resumeCampaign(rt, 'pause');
      await done(rt, 'pause', 60_000);
    } finally {
      await d.stop();
    }
    expect([...postsByNumber(sim).values()].filter((n) => n !== 1)).toEqual([]);
    expect(postsByNumber(sim).size).toBe(120);
  }, 90_000);

  it('a feeder SIGKILLed between its claim and its addBulk loses no row: the reaper requeues them, each is dialed once', async () => {
    const sim = await simulator({ callDurationMs: { min: 50, max: 100 } });
    const rt = await runtime(sim);
    const phones = numbers(60, 61412800000);
    const c = await campaign('killed', phones);
    await load(rt, c);
    // The first window (rows 1–20) has its jobs; another feeder claims rows 21–45 and dies before adding theirs.
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/feed-kill-child.ts', prefix, 'killed', '25'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (s: Buffer) => String(s).includes('claimed') && resolve());
      child.once('exit', (code) => reject(new Error(`feeder child exited ${code} before its claim`)));
    });
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(await rt.store.feed.cursor('killed')).toMatchObject({ fed: 45, unfed: 15 });
    expect(await jobsQueued(rt, 'killed')).toBe(20);
    expect(await rt.redis.zcard(rt.store.keys.open('killed'))).toBe(45);
    // The reaper, when the claimed rows' lease runs out: their jobs are gone (never added), so each gets a new one.
    const reaped = await reapCampaign({ store: rt.store, queues: rt.queues, log: rt.log, lockMs: 10_000 }, 'killed', Date.now() + 60 * 60_000);
    expect(reaped).toBe(25);
    expect(await jobsQueued(rt, 'killed')).toBe(45);
    const d = dialing([rt], 'killed');
    try {
      await done(rt, 'killed', 60_000);
    } finally {
      await d.stop();
    }
    expect(postsByNumber(sim).size).toBe(60);
    expect([...postsByNumber(sim).values()].filter((n) => n !== 1)).toEqual([]);
  }, 90_000);

  it('a campaign loaded before the feeder (every row with a job and in open, no cursor) finishes, and an append to it is fed', async () => {
    const sim = await simulator({ callDurationMs: { min: 50, max: 100 } });
    const rt = await runtime(sim);
    const phones = numbers(80, 61412900000);
    const c = await campaign('old', phones);
    // What the previous version left: every queued row with its job and in open, no `fed`/`unfed` in the campaign hash.
    await load(rt, c);
    const rest = Array.from({ length: 60 }, (_, i) => 21 + i);
    await rt.redis.zadd(rt.store.keys.open('old'), ...rest.flatMap((row) => [Date.now() + 60_000, String(row)]));
    await rt.queues.get('old').addBulk(rest.map((row) => dialJob(c, row)));
    await rt.redis.hdel(rt.store.keys.campaign('old'), 'fed', 'unfed');
    expect(await jobsQueued(rt, 'old')).toBe(80);
    expect(await rt.redis.zcard(rt.store.keys.open('old'))).toBe(80);
    expect(await rt.store.feed.cursor('old')).toMatchObject({ fed: undefined, unfed: 0 });
    expect((await campaignStatus(rt.store, rt.queues, 'old')).queued).toBe(80);
    const d = dialing([rt], 'old');
    try {
      await done(rt, 'old', 60_000);
      // An append: the cursor starts at the old list's last row; the new rows are fed by the loader and the workers.
      const more = numbers(50, 61413000000);
      const a = await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => Date.now(), append: true, feedWindowMax: 20 }, c, Readable.from([csvOf(more)]));
      expect(a).toMatchObject({ added: 50 });
      await done(rt, 'old', 60_000);
    } finally {
      await d.stop();
    }
    expect(postsByNumber(sim).size).toBe(130);
    expect([...postsByNumber(sim).values()].filter((n) => n !== 1)).toEqual([]);
    expect(await rt.store.feed.cursor('old')).toMatchObject({ fed: 130, unfed: 0 });
  }, 90_000);
});
