/**
 * kill -9 of the processes delivering events loses none: a campaign on the
 * simulator is dialed, polled and its events relayed and delivered by real
 * `dialer worker` and `dialer poller` subprocesses, killed with SIGKILL
 * several times while events are on their way (in the outbox, queued, or
 * mid-POST) and started again. After the last restart every event has
 * arrived at the receiver (which also fails 30% at random), signed, each id
 * always with the same body.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readEventsEnv } from '../src/config/events.js';
import { Dialer } from '../src/dialer.js';
import { listEventDeadLetters } from '../src/events/dead-letters.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { kill9, spawnCli, stop, type Proc } from './chaos/procs.js';
import { campaignIn, cleanupPrefix, openTestRuntime, REDIS_URL, testPrefix, waitFor, type TestRuntime } from './helpers/dialer.js';
import { Receiver } from './helpers/receiver.js';
import { numbers, sleep } from './helpers/sim-http.js';

const prefix = testPrefix('events-crash');
const SECRET = 'whsec-crash-test-secret';
const CONTACTS = 40;
const KILLS = 2;
const open: { dir?: string; t?: TestRuntime; sim?: Simulator; receiver?: Receiver; procs: Proc[] } = { procs: [] };

afterAll(async () => {
  await Promise.allSettled(open.procs.map((p) => kill9(p)));
  await open.t?.rt.close();
  await open.sim?.close();
  await open.receiver?.stop();
  await cleanupPrefix(prefix);
  if (open.dir) await rm(open.dir, { recursive: true, force: true });
});

describe('events survive kill -9', () => {
  it('SIGKILL of the worker and poller while events are on their way loses none; after a restart everything arrives', async () => {
    const dir = (open.dir = await mkdtemp(path.join(tmpdir(), 'dialer-events-crash-')));
    const receiver = (open.receiver = new Receiver(SECRET, { failRate: 0.3, seed: 99 }));
    await receiver.start();
    const sim = (open.sim = await startSimulator({ callDurationMs: { min: 300, max: 900 } }));
    const events = { ...readEventsEnv({}), url: receiver.url, secret: SECRET };
    const t = (open.t = await openTestRuntime(prefix, sim, { events }));
    const phones = numbers(CONTACTS, 61416000000);
    const c = await campaignIn(path.join(dir, 'c'), {
      name: 'crash', assistant_id: 'CE_1', default_country: 'AU', rate: { calls: 15, per_seconds: 1 }, concurrency: 5,
      poll: { interval_seconds: 0.2, timeout_minutes: 5 }, results: path.join(dir, 'results.csv'), events: { fields: ['name'] },
    }, ['name,phone', ...phones.map((p, i) => `P${i + 1},${p}`)].join('\n') + '\n');
    await new Dialer(t.rt).load(c);

    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH, HOME: process.env.HOME, REDIS_URL, DIALER_PREFIX: prefix, LOG_LEVEL: 'warn',
      CALLEASE_API_KEY: 'sim-key', CALLEASE_BASE_URL: sim.url,
      DIALER_EVENTS_SECRET: SECRET, DIALER_EVENTS_BACKOFF_MS: '50', DIALER_EVENTS_MAX_BACKOFF_MS: '500', DIALER_EVENTS_ATTEMPTS: '500',
      DIALER_EVENTS_TIMEOUT_MS: '2000', DIALER_EVENTS_RELAY_MS: '50',
      DIALER_LOCK_MS: '4000', DIALER_ROW_LEASE_MS: '3000', DIALER_REAP_EVERY_MS: '500',
    };
    const log = path.join(dir, 'procs.log');
    const startProcs = () => {
      const ps = [spawnCli('worker', ['worker'], env, log), spawnCli('poller', ['poller'], env, log)];
      open.procs.push(...ps);
      return ps;
    };
    const backlogAtKill: number[] = [];
    const t0 = Date.now();
    for (let k = 0; k < KILLS; k++) {
      const before = receiver.delivered().size;
      const ps = startProcs();
      // Killed once this generation has delivered a few events: it is in the middle of relaying and delivering.
      await waitFor(() => receiver.delivered().size >= Math.min(before + 6, CONTACTS), `generation ${k + 1} to deliver events`, 60_000, 20);
      await sleep(Math.floor(Math.random() * 300));
      // The first kill comes while the receiver is down and at least one event waits (in the outbox or retrying),
      // so some kill always lands with events on their way, however fast a quiet machine delivers; the
      // second comes wherever the run happens to be (mid-POST, between retries, or drained).
      if (k === 0) {
        receiver.unavailable = true;
        await waitFor(async () => {
          const b = await t.rt.store.events.backlog();
          return b.outbox + b.undelivered > 0;
        }, 'an event on its way while the receiver is down', 30_000, 5);
      }
      await Promise.all(ps.map((p) => kill9(p)));
      receiver.unavailable = false;
      const b = await t.rt.store.events.backlog();
      backlogAtKill.push(b.outbox + b.undelivered);
      if (process.env.EVENTS_CRASH_TRACE) console.log(`kill ${k + 1} at ${Date.now() - t0} ms, delivered ${receiver.delivered().size}`);
    }
    const last = startProcs();
    const expected = new Set([...phones.map((_, i) => `evt_crash_${i + 1}_finished`), 'evt_crash_started_1', 'evt_crash_finished_1']);
    await waitFor(() => [...expected].every((id) => receiver.delivered().has(id)), 'every event after the last restart', 90_000, 100);
    await Promise.all(last.map((p) => stop(p)));

    expect(new Set(receiver.requests.map((r) => r.id))).toEqual(expected);
    expect(receiver.requests.every((r) => r.verified)).toBe(true);
    const bodies = new Map<string, Set<string>>();
    for (const r of receiver.requests) bodies.set(r.id, (bodies.get(r.id) ?? new Set()).add(r.body));
    expect([...bodies.values()].every((b) => b.size === 1)).toBe(true);
    expect((await t.rt.store.getCampaign('crash'))?.state).toBe('done');
    expect(await listEventDeadLetters(t.rt)).toEqual([]);
    // The kills came while events were still on their way, not after the fact.
    expect(backlogAtKill.some((n) => n > 0)).toBe(true);
    const successes = receiver.successes();
    const figures = {
      kills: KILLS * 2, events: expected.size, requests: receiver.requests.length,
      failed_answers: receiver.requests.filter((r) => r.status !== 200).length,
      duplicates: [...successes.values()].reduce((n, x) => n + x - 1, 0), backlog_at_kill: backlogAtKill,
    };
    console.log(`events kill -9 figures: ${JSON.stringify(figures)}`);
    const logText = await readFile(log, 'utf8').catch(() => '');
    expect(logText).not.toMatch(/"level":50/);
  }, 240_000);
});
