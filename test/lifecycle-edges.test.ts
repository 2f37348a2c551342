/**
 * Regression tests for the edges of a campaign's life: cancel, pause,
 * crashes and re-loads at awkward moments. Each case once left a row that
 * never ended or a person called twice. Real Redis, the simulator over HTTP,
 * real subprocesses where a crash is the point.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelCampaign } from '../src/campaign/control.js';
import { runScheduledTick } from '../src/campaign/schedule.js';
import { reap } from '../src/dialer/reaper.js';
import { WorkerService } from '../src/dialer/service.js';
import { Dialer } from '../src/dialer.js';
import { loadCampaign } from '../src/loader/load.js';
import { Poller } from '../src/poller/poller.js';
import type { Runtime } from '../src/runtime.js';
import type { Campaign } from '../src/config/campaign.js';
import { WebhookHandler } from '../src/server/webhooks.js';
import { createDialGate, createLoadScreen } from '../src/gate/index.js';
import { REPO_ROOT, campaignIn, cleanupPrefix, postsByNumber, testPrefix, waitFor, withRuntime } from './helpers/dialer.js';
import { numbers, sleep, useSimulators } from './helpers/sim-http.js';

const prefix = testPrefix('edges');
const simulator = useSimulators();
let dir: string;
const FAST = { rowLeaseMs: 500, reapEveryMs: 200, lockMs: 3000 };

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-edges-'));
});
afterAll(async () => {
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

const csvOf = (phones: string[], extra = '') => [`name,phone${extra ? ',' + extra : ''}`, ...phones.map((p, i) => `P${i + 1},${p}${extra ? ',x' : ''}`)].join('\n') + '\n';
const campaign = (name: string, phones: string[], extra: Record<string, unknown> = {}, csv = csvOf(phones)) =>
  campaignIn(path.join(dir, name), {
    name, assistant_id: `CE_${name}`, default_country: 'AU', rate: { calls: 20, per_seconds: 1 }, concurrency: 4,
    poll: { interval_seconds: 0.2, timeout_minutes: 1 }, results: path.join(dir, `${name}.csv`), ambiguous_grace_seconds: 1, ...extra,
  }, csv);
const load = (rt: Runtime, c: Campaign) => loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => rt.clock.now(), screen: createLoadScreen(rt) }, c);

/** Workers (with the reaper) and a poller in this process, for every campaign. */
function dialing(rt: Runtime, campaigns?: string[]) {
  const workers = new WorkerService(rt, { campaigns, scanMs: 100, gate: createDialGate(rt) });
  const poller = new Poller({ store: rt.store, api: rt.api(), log: rt.log, queues: rt.queues, lockMs: rt.env.lockMs, tickMs: 50 });
  workers.start();
  poller.start();
  return { stop: () => Promise.all([workers.close(), poller.close()]) };
}
const ended = (rt: Runtime, id: string, timeoutMs = 20_000) =>
  waitFor(async () => {
    const s = await rt.store.campaignState(id);
    return s === 'done' || s === 'canceled' ? s : undefined;
  }, `campaign ${id} to end`, timeoutMs, 100);
/** `dialer load` of `c` as a subprocess (to be killed with a real signal). */
const spawnLoad = (c: Campaign, simUrl: string) => spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/main.ts'), 'load', c.file], {
  env: { ...process.env, REDIS_URL: 'redis://127.0.0.1:6379', DIALER_PREFIX: prefix, CALLEASE_API_KEY: 'sim-key', CALLEASE_BASE_URL: simUrl, LOG_LEVEL: 'error' },
  stdio: 'ignore',
});
const openRows = async (rt: Runtime, id: string) => (await rt.store.getCampaign(id))!.total! - ((await rt.store.counts(id)).finished ?? 0);

describe('every row ends', () => {
  it('cancel ends every row even when the CSV has a column named "outcome"', async () => {
    const sim = await simulator({ callDurationMs: { min: 200, max: 400 } });
    await withRuntime(prefix, sim, async ({ rt }) => {
      const c = await campaign('outcome-col', numbers(30, 61415200000), {}, csvOf(numbers(30, 61415200000), 'outcome'));
      await load(rt, c);
      await rt.queues.get(c.name).pause(); // nothing dials: every row is open when the cancel comes
      const r = await cancelCampaign(rt, c.name);
      expect(r).toMatchObject({ canceled: 30, in_flight: 0, state: 'canceled' });
      expect(await openRows(rt, c.name)).toBe(0);
      expect((await rt.store.counts(c.name)).canceled).toBe(30);
    }, FAST);
  });

  it('cancel while calls are in flight with redial configured: no redial follows, the campaign ends canceled', async () => {
    const sim = await simulator({ callDurationMs: { min: 800, max: 1200 }, outcomes: { 'no-answer': 1 } });
    await withRuntime(prefix, sim, async ({ rt }) => {
      const phones = numbers(8, 61415210000);
      const c = await campaign('cancel-redial', phones, { redial: { outcomes: ['no-answer'], max: 3, after_minutes: 0.01 } });
      await load(rt, c);
      const d = dialing(rt, [c.name]);
      try {
        await waitFor(async () => (await rt.store.rowStates(c.name)).placed >= 4, 'calls placed');
        const r = await cancelCampaign(rt, c.name);
        const returned = Date.now();
        expect(r.in_flight).toBeGreaterThan(0);
        expect(await ended(rt, c.name)).toBe('canceled');
        expect(await openRows(rt, c.name)).toBe(0);
        // No POST started after cancel returned, and nobody got a second call.
        expect(sim.requests.filter((q) => q.method === 'POST' && q.t > returned)).toEqual([]);
        expect(Math.max(...postsByNumber(sim).values())).toBe(1);
      } finally {
        await d.stop();
      }
    }, FAST);
  });

  it('cancel during a load: the rows written after it end canceled and nothing is dialed', async () => {
    const sim = await simulator();
    await withRuntime(prefix, sim, async ({ rt }) => {
      const phones = numbers(5000, 61415300000);
      const c = await campaign('cancel-load', phones);
      const d = dialing(rt, [c.name]);
      try {
        const loading = load(rt, c);
        await waitFor(async () => (await rt.store.rowCount(c.name)) > 0, 'the first rows');
        await cancelCampaign(rt, c.name, { waitMs: 2000 });
        const sum = await loading;
        expect(sum.rows).toBe(5000);
        expect(await ended(rt, c.name)).toBe('canceled');
        expect(await rt.store.counts(c.name)).toMatchObject({ canceled: 5000, finished: 5000 });
        expect(await rt.queues.get(c.name).isPaused()).toBe(true);
        expect(sim.requests.filter((q) => q.method === 'POST')).toEqual([]);
      } finally {
        await d.stop();
      }
    }, FAST);
  });

  it('a load killed half-way (kill -9), then loaded again, is dialed to the end', async () => {
    const sim = await simulator();
    const phones = numbers(40_000, 61415400000);
    const c = await campaign('killed-load', phones);
    const child = spawnLoad(c, sim.url);
    await withRuntime(prefix, sim, async ({ rt }) => {
      await waitFor(async () => (await rt.store.rowCount(c.name)) >= 2000, 'the loader to write rows', 30_000);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      expect((await rt.store.getCampaign(c.name))!.state).toBe('loading');
      const small = { ...c, contactsPath: path.join(dir, 'killed-load-small.csv') };
      await writeFile(small.contactsPath, csvOf(phones.slice(0, 50)));
      // The second load takes over at once (the first loader's process is gone) and starts afresh.
      expect(await load(rt, small)).toMatchObject({ rows: 50, accepted: 50 });
      const d = dialing(rt, [c.name]);
      try {
        expect(await ended(rt, c.name)).toBe('done');
        expect(postsByNumber(sim).size).toBe(50);
      } finally {
        await d.stop();
      }
    }, FAST);
  }, 60_000);

  it('a cancel of a campaign whose load was killed (kill -9) reads the rest of the list: every row of the file ends canceled', async () => {
    const sim = await simulator();
    const phones = numbers(20_000, 61415450000);
    const c = await campaign('killed-cancel', phones);
    const child = spawnLoad(c, sim.url);
    await withRuntime(prefix, sim, async ({ rt }) => {
      await waitFor(async () => (await rt.store.rowCount(c.name)) >= 1000, 'the loader to write rows', 30_000);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const written = await rt.store.rowCount(c.name);
      expect(written).toBeLessThan(20_000);
      const r = await new Dialer(rt).cancel(c.name, { waitMs: 1000 });
      expect(r.state).toBe('canceled');
      expect((await rt.store.getCampaign(c.name))!.total).toBe(20_000);
      expect(await rt.store.counts(c.name)).toMatchObject({ canceled: 20_000, finished: 20_000 });
      expect(sim.requests.filter((q) => q.method === 'POST')).toEqual([]);
    }, FAST);
  }, 90_000);

  it('a call whose GET /calls always fails ends unknown at the poll timeout', async () => {
    // A real HTTP API that places calls but can never tell about them.
    const api: Server = createServer((req, res) => {
      if (req.method === 'POST') {
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `call-${Math.random().toString(36).slice(2)}` }));
      } else res.writeHead(503).end('down');
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    try {
      await withRuntime(prefix, undefined, async ({ rt }) => {
        const c = await campaign('get-fails', numbers(2, 61415500000), { poll: { interval_seconds: 0.2, timeout_minutes: 0.03 } });
        await load(rt, c);
        const d = dialing(rt, [c.name]);
        try {
          expect(await ended(rt, c.name, 30_000)).toBe('done');
          expect(await rt.store.counts(c.name)).toMatchObject({ unknown: 2 });
          expect((await rt.store.getRow(c.name, 1))!.error).toMatch(/could not be looked up/);
        } finally {
          await d.stop();
        }
      }, { ...FAST, baseUrl: url, httpTimeoutMs: 1000 });
    } finally {
      api.close();
    }
  }, 60_000);

  it('a worker killed mid-POST, then the campaign canceled: the reaper reconciles the row although no worker serves it', async () => {
    const sim = await simulator();
    await withRuntime(prefix, sim, async ({ rt }) => {
      const phones = numbers(3, 61415600000);
      const c = await campaign('killed-post', phones);
      await load(rt, c);
      // What a worker killed between its step into `sending` and the answer leaves.
      expect((await rt.store.ledgerBegin(c.name, phones[0]!, Date.now() - 10_000, 'dead-worker', 0)).ok).toBe(true);
      await cancelCampaign(rt, c.name, { waitMs: 100 });
      expect(await rt.store.campaignState(c.name)).toBe('canceling');
      const poller = new Poller({ store: rt.store, api: rt.api(), log: rt.log, queues: rt.queues, lockMs: 3000, tickMs: 50 });
      poller.start();
      try {
        await waitFor(async () => (await reap({ store: rt.store, queues: rt.queues, log: rt.log, lockMs: 3000 }, 'test', 100)) > 0 || (await rt.store.campaignState(c.name)) === 'canceled', 'the reaper to act', 10_000, 200);
        expect(await ended(rt, c.name)).toBe('canceled');
        expect((await rt.store.getRow(c.name, 1))!.outcome).toBe('unknown');
        expect(await openRows(rt, c.name)).toBe(0);
      } finally {
        await poller.close();
      }
    }, FAST);
  });

  it('a job removed behind the lifecycle (Bull Board, a stall limit) is given back by the reaper', async () => {
    const sim = await simulator();
    await withRuntime(prefix, sim, async ({ rt }) => {
      const c = await campaign('lost-job', numbers(4, 61415700000));
      await load(rt, c);
      await rt.queues.get(c.name).obliterate({ force: true });
      const d = dialing(rt, [c.name]);
      try {
        expect(await ended(rt, c.name)).toBe('done');
        expect(await rt.store.counts(c.name)).toMatchObject({ finished: 4 });
        expect(postsByNumber(sim).size).toBe(4);
        expect((await rt.store.getRow(c.name, 1))!.reaped).toBe(1);
      } finally {
        await d.stop();
      }
    }, FAST);
  });
});

describe('crash between two steps of a hand-over', () => {
  it('a poller killed after deciding a redial but before queueing its job: the reaper gives the row its job within seconds', async () => {
    const sim = await simulator();
    await withRuntime(prefix, sim, async ({ rt }) => {
      const phone = '+61415900000';
      const c = await campaign('lost-redial', [phone], { redial: { outcomes: ['no-answer'], max: 1, after_minutes: 0.01 } });
      await load(rt, c);
      await rt.queues.get(c.name).obliterate({ force: true });
      // The poller's steps up to the one that never came: the call ended no-answer,
      // the ledger says a redial may go, the row is due it under a job not yet added.
      expect((await rt.store.ledgerBegin(c.name, phone, Date.now(), 'first', 60_000)).ok).toBe(true);
      await rt.store.ledgerMove(c.name, phone, ['sending'], { s: 'placed', id: 'call-first', n: 1 });
      await rt.store.moveRow(c.name, 1, { to: 'placed', patch: { call_id: 'call-first' } });
      await rt.store.ledgerMove(c.name, phone, ['placed'], { s: 'pending' });
      expect(await rt.store.moveRow(c.name, 1, { to: 'redial-due', patch: { status: 'redial after no-answer', job: 'lost-redial-1-redial1' }, leaseMs: rt.store.handoffLeaseMs })).toBe('applied');
      const start = Date.now();
      const d = dialing(rt, [c.name]);
      try {
        // The default row lease is a minute; the hand-over's is 10 s at most.
        await waitFor(() => postsByNumber(sim).get(phone) === 1, 'the redial to be placed', 25_000, 200);
        expect(Date.now() - start).toBeLessThan(rt.store.handoffLeaseMs + 8000);
        expect((await rt.store.getRow(c.name, 1))!.reaped).toBe(1);
      } finally {
        await d.stop();
      }
    }, { reapEveryMs: 500, lockMs: 3000 });
  }, 40_000);
});

describe('never twice', () => {
  it('a late or duplicate webhook for the previous call leaves a row whose redial is due alone', async () => {
    const sim = await simulator();
    await withRuntime(prefix, sim, async ({ rt }) => {
      const c = await campaign('late-hook', numbers(1, 61415800000));
      await load(rt, c);
      await rt.store.moveRow(c.name, 1, { to: 'sending' });
      await rt.store.moveRow(c.name, 1, { to: 'placed', patch: { call_id: 'call-old', status: 'queued' } });
      await rt.store.moveRow(c.name, 1, { to: 'redial-due', patch: { status: 'redial after no-answer', job: 'late-hook-1-redial1' } });
      const hooks = new WebhookHandler(rt);
      const r = await hooks.handle({ call_id: 'call-old', status: 'completed', phoneNumber: '+61415800000' });
      expect(r.nudged).toBe(false);
      expect(await rt.store.getRow(c.name, 1)).toMatchObject({ state: 'redial-due', status: 'redial after no-answer' });
      expect(await rt.store.isPollScheduled(c.name, 1)).toBe(false);
    });
  });

  it('a resent step into sending (ioredis replays after a reconnect) finds its own attempt', async () => {
    await withRuntime(prefix, undefined, async ({ rt }) => {
      const c = await campaign('resend', numbers(1, 61415810000));
      await load(rt, c);
      const first = await rt.store.ledgerBegin(c.name, '+61415810000', Date.now(), 'attempt-1', 60_000);
      const resent = await rt.store.ledgerBegin(c.name, '+61415810000', Date.now(), 'attempt-1', 60_000);
      const other = await rt.store.ledgerBegin(c.name, '+61415810000', Date.now(), 'attempt-2', 60_000);
      expect([first.ok, resent.ok, resent.why, other.ok, other.why]).toEqual([true, true, 'resent', false, 'dialed']);
      expect(resent.entry!.a).toBe(1);
    });
  });

  it('overlapping cron ticks: a tick while the previous run is open is skipped', async () => {
    await withRuntime(prefix, undefined, async ({ rt }) => {
      const c = await campaign('cron', numbers(3, 61415820000), { schedule: { cron: '*/5 * * * *', timezone: 'UTC' } });
      const t0 = Date.parse('2026-12-01T09:00:00Z');
      const dialer = new Dialer(rt);
      const loadRun = (run: Campaign) => dialer.load(run);
      const first = await runScheduledTick(rt, c, t0, loadRun);
      expect(first.load?.accepted).toBe(3);
      const second = await runScheduledTick(rt, c, t0 + 5 * 60_000, loadRun);
      expect(second).toMatchObject({ skipped: first.run.name });
      expect(await rt.store.getCampaign(second.run.name)).toBeUndefined();
      await cancelCampaign(rt, first.run.name);
      const third = await runScheduledTick(rt, c, t0 + 10 * 60_000, loadRun);
      expect(third.load?.accepted).toBe(3);
    });
  });

  it('loading a running campaign again never overwrites a row in flight with a screened verdict', async () => {
    await withRuntime(prefix, undefined, async ({ rt }) => {
      const c = await campaign('reload-screen', numbers(2, 61415830000));
      await load(rt, c);
      await rt.store.moveRow(c.name, 1, { to: 'sending' });
      await rt.store.moveRow(c.name, 1, { to: 'placed', patch: { call_id: 'call-1' } });
      await rt.store.redis.sadd(rt.store.keys.suppression, '+61415830000');
      await sleep(10);
      await load(rt, c);
      expect(await rt.store.getRow(c.name, 1)).toMatchObject({ state: 'placed', call_id: 'call-1' });
      expect((await rt.store.getRow(c.name, 1))!.outcome).toBeUndefined();
    });
  });
});
