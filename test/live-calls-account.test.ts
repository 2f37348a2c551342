import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignStatus } from '../src/campaign/status.js';
import { loadCampaign } from '../src/loader/load.js';
import { Poller } from '../src/poller/poller.js';
import { campaignIn, cleanupPrefix, postsByNumber, REDIS_URL, testPrefix, waitFor, withRuntime } from './helpers/dialer.js';
import { capBoundMs, Children, csvOf, simLiveStats, simSpan } from './helpers/live.js';
import { numbers, useSimulators } from './helpers/sim-http.js';

const prefix = testPrefix('live-acct');
const children = new Children();
const simulator = useSimulators();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-live-acct-'));
});
afterAll(async () => {
  await children.stopAll();
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

describe('CALLEASE_MAX_LIVE_CALLS', () => {
  it('two campaigns at once on three worker processes, account cap 5: never more than 5 live on the simulator over both', async () => {
    const sim = await simulator({ callDurationMs: { min: 3000, max: 6000 }, seed: 21 });
    const env = { REDIS_URL, DIALER_PREFIX: prefix, CALLEASE_API_KEY: 'sim-key', CALLEASE_BASE_URL: sim.url, LOG_LEVEL: 'warn', CALLEASE_MAX_LIVE_CALLS: '5' };
    const lists = [numbers(12, 61417200000), numbers(12, 61417300000)];
    // Neither campaign has a cap of its own, and each alone could have 10 live.
    const campaigns = await Promise.all(['acct-a', 'acct-b'].map((name, i) => campaignIn(path.join(dir, name), {
      name, assistant_id: 'CE_LIVE', default_country: 'AU', rate: { calls: 10, per_seconds: 1 }, concurrency: 10,
      poll: { interval_seconds: 0.25, timeout_minutes: 2 }, results: path.join(dir, `${name}.csv`),
    }, csvOf(lists[i]!))));

    const accountSeen: number[] = [];
    await withRuntime(prefix, sim, async ({ rt }) => {
      for (let i = 0; i < 3; i++) children.start(['worker'], env);
      await waitFor(async () => (await rt.redis.hlen(rt.store.keys.workers)) >= 3, 'three workers to start', 90_000, 200);
      const poller = new Poller({ store: rt.store, api: rt.api(), log: rt.log, queues: rt.queues, lockMs: rt.env.lockMs, tickMs: 50 });
      poller.start();
      try {
        for (const c of campaigns) await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => Date.now() }, c);
        await waitFor(async () => {
          accountSeen.push(await rt.store.live.accountCount());
          const states = await Promise.all(campaigns.map(async (c) => (await rt.store.getCampaign(c.name))?.state));
          return states.every((s) => s === 'done');
        }, 'both campaigns to be done', 120_000, 200);
        for (const c of campaigns) {
          const s = await campaignStatus(rt.store, rt.queues, c.name);
          expect(s.finished).toBe(12);
          expect(s.completed + s['no-answer'] + s.busy + s.voicemail + s.failed).toBe(12);
          expect(s.live_calls).toBe(0);
          expect(s.max_live_calls).toBeUndefined();
        }
      } finally {
        await poller.close();
      }
    });

    const stats = await simLiveStats(sim);
    expect(stats.calls).toBe(24);
    expect(stats.max_live).toBe(5);
    expect(Math.max(...accountSeen)).toBeLessThanOrEqual(5);
    expect(Math.max(...accountSeen)).toBeGreaterThan(0);
    // Both campaigns dialed while the other was under way (the cap was shared, not taken in turns).
    const calls = [...sim.calls.values()];
    const spanOf = (prefixDigits: string) => {
      const cs = calls.filter((x) => x.phoneNumber.startsWith(prefixDigits));
      return { first: Math.min(...cs.map((x) => x.createdAt)), last: Math.max(...cs.map((x) => x.createdAt)) };
    };
    const a = spanOf('+614172');
    const b = spanOf('+614173');
    expect(a.first).toBeLessThan(b.last);
    expect(b.first).toBeLessThan(a.last);
    expect([...postsByNumber(sim).values()].every((n) => n === 1)).toBe(true);
    expect(postsByNumber(sim).size).toBe(24);

    const bound = capBoundMs(sim, 5);
    const span = simSpan(sim);
    const drained = span.lastEnd - span.firstPost;
    console.log(`CALLEASE_MAX_LIVE_CALLS 5, two campaigns: 24 calls, mean ${(bound * 5 / 24 / 1000).toFixed(2)} s; cap bound ${(bound / 1000).toFixed(1)} s; drained ${(drained / 1000).toFixed(1)} s`);
    expect(drained).toBeGreaterThanOrEqual(bound);
    expect(drained).toBeLessThan(bound * 2 + 8000);
  }, 240_000);
});
