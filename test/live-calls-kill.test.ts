import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignStatus } from '../src/campaign/status.js';
import { loadCampaign } from '../src/loader/load.js';
import { Poller } from '../src/poller/poller.js';
import { campaignIn, cleanupPrefix, REDIS_URL, testPrefix, waitFor, withRuntime } from './helpers/dialer.js';
import { Children, csvOf, simLiveStats } from './helpers/live.js';
import { numbers, useSimulators } from './helpers/sim-http.js';

const prefix = testPrefix('live-kill');
const children = new Children();
const simulator = useSimulators();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-live-kill-'));
});
afterAll(async () => {
  await children.stopAll();
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

/**
 * The lease is longer than the longest call (6 s) plus a third of itself (the
 * most a slot can have run since its last renewal): a slot of a killed worker
 * whose POST did create a call then outlives that call on the simulator, so
 * freeing it can't let a sixth call be live at once.
 */
const LEASE_MS = 10_000;

describe('a killed worker\'s live-call slots', () => {
  it('come back within the lease after SIGKILL mid-POST; the campaign still finishes and the cap held', async () => {
    // Slow answers at first, so the first worker is surely in the middle of POSTs (calls already created) when it is killed.
    const sim = await simulator({ callDurationMs: { min: 3000, max: 6000 }, seed: 33, faults: { latencyMs: 2500 } });
    const env = {
      REDIS_URL, DIALER_PREFIX: prefix, CALLEASE_API_KEY: 'sim-key', CALLEASE_BASE_URL: sim.url, LOG_LEVEL: 'warn',
      DIALER_LIVE_LEASE_MS: String(LEASE_MS), DIALER_LOCK_MS: '20000', DIALER_HTTP_TIMEOUT_MS: '5000', DIALER_REAP_EVERY_MS: '1000',
    };
    const c = await campaignIn(path.join(dir, 'live-kill'), {
      name: 'live-kill', assistant_id: 'CE_LIVE', default_country: 'AU', max_live_calls: 5,
      rate: { calls: 10, per_seconds: 1 }, concurrency: 5, poll: { interval_seconds: 0.25, timeout_minutes: 2 },
      ambiguous_grace_seconds: 2, results: path.join(dir, 'live-kill.csv'),
    }, csvOf(numbers(20, 61417400000)));

    await withRuntime(prefix, sim, async ({ rt }) => {
      const first = children.start(['worker'], env);
      await waitFor(async () => (await rt.redis.hlen(rt.store.keys.workers)) >= 1, 'the first worker to start', 90_000, 200);
      const poller = new Poller({ store: rt.store, api: rt.api(), log: rt.log, queues: rt.queues, lockMs: 20_000, tickMs: 50, liveLeaseMs: LEASE_MS });
      poller.start();
      try {
        await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => Date.now() }, c);
        // Its POSTs are under way (the simulator made the calls and holds the answers).
        const sendingRows = async () => {
          const live = await rt.store.live.rows(c.name);
          const recs = await rt.store.getRows(c.name, live);
          return live.filter((_, i) => recs[i]?.state === 'sending');
        };
        const held = (await waitFor(async () => {
          const rows = await sendingRows();
          return rows.length >= 2 && sim.calls.size >= 2 ? rows : undefined;
        }, 'the first worker to be in the middle of two POSTs', 60_000, 20))!;
        first.kill('SIGKILL');
        const killedAt = Date.now();
        sim.setOptions({ faults: { latencyMs: 0 } });
        await new Promise<void>((resolve) => first.once('exit', () => resolve()));
        // Nobody renews them now; they are still counted until their lease ends.
        expect((await rt.store.live.rows(c.name)).filter((r) => held.includes(r)).length).toBeGreaterThan(0);

        for (let i = 0; i < 2; i++) children.start(['worker'], env);
        const freed = (await waitFor(async () => {
          const live = await rt.store.live.rows(c.name);
          return held.every((r) => !live.includes(r)) ? Date.now() : undefined;
        }, 'the killed worker\'s slots to come back', LEASE_MS + 20_000, 100))!;
        console.log(`killed worker held ${held.length} slot(s) mid-POST; back ${freed - killedAt} ms after SIGKILL (lease ${LEASE_MS} ms)`);
        expect(freed - killedAt).toBeLessThanOrEqual(LEASE_MS + 3000);

        await waitFor(async () => (await rt.store.getCampaign(c.name))?.state === 'done', 'the campaign to be done', 150_000, 200);
        const s = await campaignStatus(rt.store, rt.queues, c.name);
        expect(s.finished).toBe(20);
        expect(s.live_calls).toBe(0);
        // The killed worker's calls were found and followed to their real outcome: none ended unknown or dead-lettered.
        expect(s.completed + s['no-answer'] + s.busy + s.voicemail + s.failed).toBe(20);
      } finally {
        await poller.close();
      }
    });

    const stats = await simLiveStats(sim);
    expect(stats.max_live).toBeLessThanOrEqual(5);
    expect(stats.live).toBe(0);
    // One call per contact on the simulator: the killed worker's POSTs were adopted, not sent again.
    const perNumber = new Map<string, number>();
    for (const call of sim.calls.values()) perNumber.set(call.phoneNumber, (perNumber.get(call.phoneNumber) ?? 0) + 1);
    expect(perNumber.size).toBe(20);
    expect([...perNumber.values()].every((n) => n === 1)).toBe(true);
  }, 300_000);
});
