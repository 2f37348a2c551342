import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignStatus } from '../src/campaign/status.js';
import { parseCampaign } from '../src/config/campaign.js';
import { readEnv } from '../src/config/env.js';
import { loadCampaign } from '../src/loader/load.js';
import { Poller } from '../src/poller/poller.js';
import { liveStats, type SimCall } from '../src/simulator/index.js';
import { campaignIn, cleanupPrefix, postsByNumber, REDIS_URL, testPrefix, waitFor, withRuntime } from './helpers/dialer.js';
import { capBoundMs, Children, csvOf, simLiveStats, simSpan } from './helpers/live.js';
import { numbers, useSimulators } from './helpers/sim-http.js';

const prefix = testPrefix('live');
const children = new Children();
const simulator = useSimulators();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-live-'));
});
afterAll(async () => {
  await children.stopAll();
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

const call = (createdAt: number, plannedMs: number) => ({ createdAt, plannedMs }) as SimCall;

describe('the simulator counts calls live at once by its own clock', () => {
  it.each([
    { calls: [], live: 0, max: 0 },
    { calls: [call(0, 10)], live: 1, max: 1 },
    // Back to back: one ends in the very ms the next starts, never two at once.
    { calls: [call(0, 10), call(10, 10), call(20, 10)], live: 1, max: 1 },
    { calls: [call(0, 100), call(10, 10), call(15, 10), call(30, 5)], live: 1, max: 3 },
    { calls: [call(0, 5), call(1, 5), call(2, 5), call(3, 5), call(100, 1)], live: 3, max: 4 },
  ])('$max at most, $live now', ({ calls, live, max }) => {
    const s = liveStats(calls, 5);
    expect(s.calls).toBe(calls.length);
    expect(s.live).toBe(live);
    expect(s.max_live).toBe(max);
    expect(s.max_live_at === null).toBe(max === 0);
  });
});

describe('the settings', () => {
  it('max_live_calls is optional, a positive whole number, and a bad value names the file and key', () => {
    const base = 'name: x\nassistant_id: A\ncontacts: c.csv\n';
    expect(parseCampaign(base, 'x.yaml', '/tmp').max_live_calls).toBeUndefined();
    expect(parseCampaign(`${base}max_live_calls: 8\n`, 'x.yaml', '/tmp').max_live_calls).toBe(8);
    for (const bad of ['0', '2.5', 'many']) expect(() => parseCampaign(`${base}max_live_calls: ${bad}\n`, 'x.yaml', '/tmp')).toThrow(/x\.yaml: max_live_calls: /);
  });

  it('CALLEASE_MAX_LIVE_CALLS and DIALER_LIVE_LEASE_MS', () => {
    expect(readEnv({}).maxLiveCalls).toBeUndefined();
    expect(readEnv({}).liveLeaseMs).toBe(30_000);
    expect(readEnv({ CALLEASE_MAX_LIVE_CALLS: '40', DIALER_LIVE_LEASE_MS: '5000' })).toMatchObject({ maxLiveCalls: 40, liveLeaseMs: 5000 });
    expect(() => readEnv({ CALLEASE_MAX_LIVE_CALLS: '2.5' })).toThrow(/CALLEASE_MAX_LIVE_CALLS must be a whole number/);
    expect(() => readEnv({ CALLEASE_MAX_LIVE_CALLS: '-1' })).toThrow(/CALLEASE_MAX_LIVE_CALLS must be a positive number/);
    expect(() => readEnv({ DIALER_LIVE_LEASE_MS: '500' })).toThrow(/DIALER_LIVE_LEASE_MS must be at least 3000/);
  });
});

describe('max_live_calls', () => {
  it('three worker processes, calls of 3–6 s, max_live_calls 5: never more than 5 live on the simulator, and the list drains at the pace the cap allows', async () => {
    const sim = await simulator({ callDurationMs: { min: 3000, max: 6000 }, seed: 12 });
    const env = { REDIS_URL, DIALER_PREFIX: prefix, CALLEASE_API_KEY: 'sim-key', CALLEASE_BASE_URL: sim.url, LOG_LEVEL: 'warn' };
    const contacts = numbers(20, 61417100000);
    const c = await campaignIn(path.join(dir, 'live-five'), {
      name: 'live-five', assistant_id: 'CE_LIVE', default_country: 'AU', max_live_calls: 5,
      rate: { calls: 10, per_seconds: 1 }, concurrency: 5, poll: { interval_seconds: 0.25, timeout_minutes: 2 },
      results: path.join(dir, 'live-five.csv'),
    }, csvOf(contacts));

    let doneAt = 0;
    const seen: number[] = [];
    await withRuntime(prefix, sim, async ({ rt }) => {
      for (let i = 0; i < 3; i++) children.start(['worker'], env);
      await waitFor(async () => (await rt.redis.hlen(rt.store.keys.workers)) >= 3, 'three workers to start', 90_000, 200);
      const poller = new Poller({ store: rt.store, api: rt.api(), log: rt.log, queues: rt.queues, lockMs: rt.env.lockMs, tickMs: 50 });
      poller.start();
      try {
        await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => Date.now() }, c);
        await waitFor(async () => {
          const s = await campaignStatus(rt.store, rt.queues, c.name);
          seen.push(s.live_calls);
          expect(s.max_live_calls).toBe(5);
          return s.state === 'done';
        }, 'the campaign to be done', 90_000, 200);
        doneAt = Date.now();
        const s = await campaignStatus(rt.store, rt.queues, c.name);
        expect(s.finished).toBe(20);
        expect(s.completed + s['no-answer'] + s.busy + s.voicemail + s.failed).toBe(20);
        expect(s.live_calls).toBe(0);
      } finally {
        await poller.close();
      }
    });

    const stats = await simLiveStats(sim);
    expect(stats.calls).toBe(20);
    // The simulator's own count: at most 5 at once, and the cap was what held it (5 reached).
    expect(stats.max_live).toBe(5);
    expect(stats.live).toBe(0);
    // What status showed meanwhile stayed within the cap too, and saw calls live.
    expect(Math.max(...seen)).toBeLessThanOrEqual(5);
    expect(Math.max(...seen)).toBeGreaterThan(0);
    // Each contact called once.
    expect([...postsByNumber(sim).values()].every((n) => n === 1)).toBe(true);
    expect(postsByNumber(sim).size).toBe(20);

    // The pace: never faster than the cap allows (the calls' total time over 5 slots),
    // and not much slower (a slot is taken again within a poll or two of its call's end).
    const bound = capBoundMs(sim, 5);
    const span = simSpan(sim);
    const drained = span.lastEnd - span.firstPost;
    console.log(`max_live_calls 5: 20 calls, mean ${(bound * 5 / 20 / 1000).toFixed(2)} s; cap bound ${(bound / 1000).toFixed(1)} s; drained (first POST to last call end) ${(drained / 1000).toFixed(1)} s; done ${((doneAt - span.firstPost) / 1000).toFixed(1)} s after the first POST`);
    expect(drained).toBeGreaterThanOrEqual(bound);
    expect(drained).toBeLessThan(bound * 2 + 8000);
  }, 240_000);
});
