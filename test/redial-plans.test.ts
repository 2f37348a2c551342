import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/simulator/index.js';
import { useSimulators } from './helpers/sim-http.js';
import { campaignIn, cleanupPrefix, postsByNumber, startDialing, testPrefix, withRuntime } from './helpers/dialer.js';

const prefix = testPrefix('plans');
afterAll(() => cleanupPrefix(prefix));
const simulator = useSimulators();
const MIN = 60_000;
/** How late a redial may come after its wait: the poll interval, the worker picking the job up, a loaded machine. */
const SLACK_MS = 2000;

/** Per number, each POST's time (simulator request log) and when the call it made ended (simulator's call). */
function attempts(sim: Simulator, phone: string): { postAt: number; endedAt: number; outcome: string }[] {
  const posts = sim.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/calls') && (r.body as { phoneNumber?: string }).phoneNumber === phone);
  return posts.map((p) => {
    const call = sim.calls.get(p.call_id ?? '');
    if (!call) throw new Error(`no call for POST at ${p.time}`);
    return { postAt: p.t, endedAt: call.createdAt + call.plannedMs, outcome: call.outcome };
  });
}

/** The wait between each call's end and the next POST to the same number. */
const gaps = (a: ReturnType<typeof attempts>) => a.slice(1).map((x, i) => x.postAt - a[i]!.endedAt);

describe('retry plans per outcome', () => {
  it('each outcome gets its own list of waits; the n-th redial of an outcome waits its n-th interval', async () => {
    const P = { na: '+61412100001', busy: '+61412100002', vm: '+61412100003', failed: '+61412100004', mixed: '+61412100005', done: '+61412100006' };
    const sim = await simulator({
      callDurationMs: { min: 100, max: 200 },
      outcomeFor: {
        [P.na]: 'no-answer', [P.busy]: 'busy', [P.vm]: 'voicemail', [P.failed]: 'failed',
        [P.mixed]: ['no-answer', 'busy', 'no-answer', 'completed'], [P.done]: 'completed',
      },
    });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'plans-'));
    // Waits (minutes) chosen out of order, so a redial using the wrong interval shows.
    const waits = { 'no-answer': [0.02, 0.06, 0.01], busy: [0.04, 0.01], voicemail: [0.03], failed: [0.005, 0.03] };
    const c = await campaignIn(dir, {
      name: 'plans-a', assistant_id: 'A1', default_country: 'AU', rate: { calls: 50, per_seconds: 1 }, frequency_cap: 20,
      poll: { interval_seconds: 0.1, timeout_minutes: 1 },
      redial: Object.fromEntries(Object.entries(waits).map(([o, w]) => [o, { after_minutes: w }])),
      results: path.join(dir, 'results.csv'),
    }, `name,phone\n${Object.values(P).map((p, i) => `C${i},${p}`).join('\n')}\n`);
    await withRuntime(prefix, sim, async ({ rt }) => {
      const d = await startDialing(rt, c);
      try {
        await d.done(45_000);
      } finally {
        await d.stop();
      }
      const ms = (xs: number[]) => xs.map((m) => m * MIN);
      const expectWaits = (phone: string, want: number[]) => {
        const g = gaps(attempts(sim, phone));
        expect(g.length, phone).toBe(want.length);
        g.forEach((gap, i) => {
          expect(gap, `${phone} redial ${i + 1}`).toBeGreaterThanOrEqual(want[i]!);
          expect(gap, `${phone} redial ${i + 1}`).toBeLessThan(want[i]! + SLACK_MS);
        });
      };
      // The list's length is the most redials after that outcome.
      expectWaits(P.na, ms(waits['no-answer']));
      expectWaits(P.busy, ms(waits.busy));
      expectWaits(P.vm, ms(waits.voicemail));
      expectWaits(P.failed, ms(waits.failed));
      // no-answer (1st no-answer redial), busy (1st busy redial), no-answer (2nd no-answer redial), completed.
      expect(attempts(sim, P.mixed).map((a) => a.outcome)).toEqual(['no-answer', 'busy', 'no-answer', 'completed']);
      expectWaits(P.mixed, ms([waits['no-answer'][0]!, waits.busy[0]!, waits['no-answer'][1]!]));
      expect(postsByNumber(sim).get(P.done)).toBe(1);

      const rows = await rt.store.getRows(c.name, [1, 2, 3, 4, 5, 6]);
      expect(rows.map((r) => [r?.outcome, r?.attempts])).toEqual([['no-answer', 4], ['busy', 3], ['voicemail', 2], ['failed', 3], ['completed', 4], ['completed', 1]]);
      expect(rows[4]?.redials).toEqual({ 'no-answer': 2, busy: 1 });
    });
  }, 60_000);

  it('the one-plan shape still redials up to max in all, after_minutes each', async () => {
    const A = '+61412100011';
    const sim = await simulator({ callDurationMs: { min: 100, max: 200 }, outcomeFor: { [A]: ['busy', 'no-answer', 'busy', 'busy'] } });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'plans-'));
    const c = await campaignIn(dir, {
      name: 'plans-one', assistant_id: 'A1', default_country: 'AU', rate: { calls: 50, per_seconds: 1 }, frequency_cap: 20,
      poll: { interval_seconds: 0.1, timeout_minutes: 1 },
      redial: { outcomes: ['busy', 'no-answer'], max: 2, after_minutes: 0.01 },
      results: path.join(dir, 'results.csv'),
    }, `name,phone\nAnn,${A}\n`);
    await withRuntime(prefix, sim, async ({ rt }) => {
      const d = await startDialing(rt, c);
      try {
        await d.done(30_000);
      } finally {
        await d.stop();
      }
      const a = attempts(sim, A);
      expect(a.map((x) => x.outcome)).toEqual(['busy', 'no-answer', 'busy']);
      for (const g of gaps(a)) expect(g).toBeGreaterThanOrEqual(0.01 * MIN);
      expect(await rt.store.getRow(c.name, 1)).toMatchObject({ outcome: 'busy', attempts: 3 });
    });
  }, 60_000);
});

describe('redial.priority', () => {
  /**
   * One worker slot (concurrency 1) at 4 calls/s and 12 fresh contacts behind
   * the first: Ann's redial falls due while most of them still wait. `first`
   * dials it next (at most the one fresh contact already taken goes before);
   * `last` dials it only after every fresh contact.
   */
  async function order(priority: 'first' | 'last', name: string, block: number): Promise<{ freshAfterDue: number; freshAfterRedial: number }> {
    // Numbers of their own per test: the frequency cap counts calls across campaigns.
    const ANN = `+614122${block}0000`;
    const fresh = Array.from({ length: 12 }, (_, i) => `+614122${block}${String(i + 1).padStart(4, '0')}`);
    const sim = await simulator({ callDurationMs: { min: 50, max: 100 }, outcomeFor: { [ANN]: ['no-answer', 'completed'], ...Object.fromEntries(fresh.map((p) => [p, 'completed'])) } });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'prio-'));
    const c = await campaignIn(dir, {
      name, assistant_id: 'A1', default_country: 'AU', rate: { calls: 4, per_seconds: 1 }, concurrency: 1, frequency_cap: 20,
      poll: { interval_seconds: 0.1, timeout_minutes: 1 },
      redial: { 'no-answer': { after_minutes: [0.005] }, priority },
      results: path.join(dir, 'results.csv'),
    }, `name,phone\nAnn,${ANN}\n${fresh.map((p, i) => `F${i},${p}`).join('\n')}\n`);
    return withRuntime(prefix, sim, async ({ rt, logs }) => {
      const d = await startDialing(rt, c);
      try {
        await d.done(45_000);
      } finally {
        await d.stop();
      }
      const posts = sim.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/calls')).map((r) => ({ t: r.t, phone: (r.body as { phoneNumber: string }).phoneNumber }));
      expect(posts).toHaveLength(14);
      const redialAt = posts.filter((p) => p.phone === ANN).at(-1)!.t;
      // When the redial fell due: the poller's decision (logged) plus the plan's wait.
      const scheduled = logs.find((l) => l.msg === 'redial scheduled' && l.campaign === name);
      expect(scheduled).toBeDefined();
      const dueAt = Date.parse(scheduled!.time as string) + 0.005 * MIN;
      const freshPosts = posts.filter((p) => p.phone !== ANN);
      return {
        freshAfterDue: freshPosts.filter((p) => p.t >= dueAt && p.t < redialAt).length,
        freshAfterRedial: freshPosts.filter((p) => p.t > redialAt).length,
      };
    });
  }

  it('first: a redial due is dialed before the fresh contacts still waiting', async () => {
    const r = await order('first', 'prio-first', 1);
    expect(r.freshAfterDue).toBeLessThanOrEqual(1);
    expect(r.freshAfterRedial).toBeGreaterThan(0);
  }, 60_000);

  it('last: a redial due waits until every fresh contact was dialed', async () => {
    const r = await order('last', 'prio-last', 2);
    expect(r.freshAfterRedial).toBe(0);
    expect(r.freshAfterDue).toBeGreaterThan(1);
  }, 60_000);
});
