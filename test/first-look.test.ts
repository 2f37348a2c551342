/**
 * The first look at a placed call with per-call lookups: one poll interval
 * until the campaign's calls have been seen to end, then their 90th
 * percentile length (1 s at the least), without extra GETs.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CallDetails } from '../src/api/client.js';
import type { RowRecord } from '../src/campaign/row.js';
import type { Campaign } from '../src/config/campaign.js';
import { FirstLookLearner } from '../src/poller/first-look.js';
import { campaignIn, openTestRuntime, startDialing, type Dialing, type TestRuntime } from './helpers/dialer.js';
import { useTestBed } from './helpers/bed.js';
import { numbers, useSimulators } from './helpers/sim-http.js';

const simulator = useSimulators();
const bed = useTestBed('first-look');
const { prefix, open } = bed;

/** The learner reads only the name and poll settings. */
const campaign = (poll: { interval_seconds: number; first_look_seconds?: number }): Campaign => ({ name: 'fl', poll: { timeout_minutes: 60, ...poll } }) as unknown as Campaign;
const ended = (placedAt: number, ms: number): CallDetails => ({ id: 'c', status: 'completed', endedAt: new Date(placedAt + ms).toISOString(), raw: {} });

describe('FirstLookLearner', () => {
  it('waits one interval until 20 calls were seen ended, then takes their 90th percentile, within 1 s..interval', () => {
    const l = new FirstLookLearner();
    const c = campaign({ interval_seconds: 5 });
    for (let i = 0; i < 19; i++) l.observe('fl', 1000, ended(1000, 2000 + i * 10));
    expect(l.firstLookMs(c)).toBe(5000);
    l.observe('fl', 1000, ended(1000, 2500));
    expect(l.firstLookMs(c)).toBe(2170); // 18th of 20 sorted: 2000 + 17 × 10
    // Long calls: never later than the interval.
    for (let i = 0; i < 200; i++) l.observe('fl', 0, ended(0, 60_000));
    expect(l.firstLookMs(c)).toBe(5000);
    // Very short ones: never earlier than 1 s.
    for (let i = 0; i < 200; i++) l.observe('fl', 0, ended(0, 100));
    expect(l.firstLookMs(c)).toBe(1000);
    // Another campaign learns on its own; a call without an end time teaches nothing.
    l.observe('other', 0, { id: 'x', status: 'completed', raw: {} });
    expect(l.firstLookMs({ ...c, name: 'other' })).toBe(5000);
  });

  it('poll.first_look_seconds wins', () => {
    const l = new FirstLookLearner();
    for (let i = 0; i < 50; i++) l.observe('fl', 0, ended(0, 300));
    expect(l.firstLookMs(campaign({ interval_seconds: 5, first_look_seconds: 2.5 }))).toBe(2500);
  });
});

describe('per-call lookups of short calls over HTTP', () => {
  it('looks at the interval first, then soon after the call ends, at about one GET per call', async () => {
    const sim = await simulator({ callDurationMs: { min: 200, max: 500 } });
    const t = await openTestRuntime(prefix, sim);
    const entry: { t: TestRuntime; d?: Dialing } = { t };
    open.push(entry);
    const c = await campaignIn(path.join(bed.dir, 'short'), {
      name: 'short', assistant_id: 'CE_1', default_country: 'AU',
      rate: { calls: 15, per_seconds: 1 }, concurrency: 10,
      poll: { interval_seconds: 3, timeout_minutes: 5 },
      results: path.join(bed.dir, 'short', 'results.csv'),
    }, ['name,phone', ...numbers(80, 61414000000).map((p, i) => `P${i},${p}`)].join('\n') + '\n');
    entry.d = await startDialing(t.rt, c);
    await entry.d.done(40_000);
    const rows = Object.values(await t.rt.redis.hgetall(t.rt.store.keys.rows('short'))).map((v) => JSON.parse(v) as RowRecord);
    const gets = sim.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/calls?id='));
    expect(rows.every((r) => r.outcome === sim.calls.get(r.call_id!)!.outcome)).toBe(true);
    // Each call ends before its first look: one GET each, the deferral costs none.
    expect(gets.length).toBe(rows.length);
    const firstLook = rows.map((r) => {
      const call = sim.calls.get(r.call_id!)!;
      return { created: call.createdAt, after: gets.find((g) => g.call_id === r.call_id)!.t - call.createdAt };
    }).sort((a, b) => a.created - b.created);
    // Nothing is known at first: a whole interval.
    expect(Math.min(...firstLook.slice(0, 10).map((x) => x.after))).toBeGreaterThanOrEqual(2900);
    // Once 20 calls were seen ended: 1 s (their 90th percentile is under it), give or take a poll tick.
    const late = firstLook.slice(-20).map((x) => x.after);
    expect(Math.min(...late)).toBeGreaterThanOrEqual(950);
    expect(Math.max(...late)).toBeLessThan(2000);
  });
});
