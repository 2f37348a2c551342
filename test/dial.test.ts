import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { CALL_OUTCOMES } from '../src/config/campaign.js';
import { writeResults } from '../src/results/export.js';
import type { RowRecord } from '../src/campaign/row.js';
import type { Simulator, SimulatorOptions } from '../src/simulator/index.js';
import { campaignIn, openTestRuntime, postsByNumber, startDialing, waitFor, type Dialing, type TestRuntime } from './helpers/dialer.js';
import { useTestBed } from './helpers/bed.js';
import { numbers, useSimulators } from './helpers/sim-http.js';
import { decodeRow } from '../src/store/row-codec.js';

const simulator = useSimulators();
const bed = useTestBed('dial');
const { prefix, open } = bed;

const FAST = { callDurationMs: { min: 100, max: 300 } } satisfies SimulatorOptions;

/** A simulator, a runtime on it, the campaign loaded and being dialed in this process. */
async function dial(name: string, simOpts: SimulatorOptions, campaign: Record<string, unknown>, csv: string) {
  const sim = await simulator({ ...FAST, ...simOpts });
  const t = await openTestRuntime(prefix, sim);
  const entry: { t: TestRuntime; d?: Dialing } = { t };
  open.push(entry);
  const c = await campaignIn(path.join(bed.dir, name), {
    name, assistant_id: 'CE_1', default_country: 'AU',
    rate: { calls: 200, per_seconds: 1 }, concurrency: 20,
    retry: { attempts: 3, backoff_ms: 100, max_backoff_ms: 1000 },
    poll: { interval_seconds: 0.2, timeout_minutes: 5 },
    results: path.join(bed.dir, name, 'results.csv'),
    ...campaign,
  }, csv);
  entry.d = await startDialing(t.rt, c);
  return { sim, t, c, d: entry.d, rt: t.rt };
}

const csvOf = (phones: string[]) => ['name,phone', ...phones.map((p, i) => `Person ${i + 1},${p}`)].join('\n') + '\n';

async function allRows(t: TestRuntime, id: string): Promise<RowRecord[]> {
  const h = await t.rt.redis.hgetall(t.rt.store.keys.rows(id));
  return Object.values(h).map((v) => decodeRow(v)).sort((a, b) => a.row - b.row);
}

/** Waits until every number in `nums` has had `n` POSTs. */
const postsReached = (sim: Simulator, nums: string[], n: number) =>
  waitFor(() => nums.every((x) => (postsByNumber(sim).get(x) ?? 0) >= n), `${n} POST(s) per number`, 15_000);

describe('dialing in-process against the simulator', () => {
  it('places exactly one call per valid number and finishes every row', async () => {
    const valid = numbers(46, 61412100000);
    // 46 valid, 2 invalid, 2 duplicates (one in national format) = 50 contacts.
    const phones = [...valid.slice(0, 20), '12345', valid[3]!, ...valid.slice(20, 40), 'call me maybe', '0412 100 010', ...valid.slice(40)];
    expect(phones).toHaveLength(50);
    const { sim, t, d } = await dial('fifty', {}, {}, csvOf(phones));
    expect(d.load).toMatchObject({ rows: 50, accepted: 46, rejected: 2, duplicates: 2 });
    await d.done();

    const posts = postsByNumber(sim);
    expect([...posts.keys()].sort()).toEqual([...valid].sort());
    expect([...posts.values()].every((n) => n === 1)).toBe(true);
    expect(sim.calls.size).toBe(46);

    const rows = await allRows(t, 'fifty');
    expect(rows.map((r) => r.row)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    for (const r of rows) expect(r.outcome, `row ${r.row}`).toBeDefined();
    const placed = rows.filter((r) => r.call_id);
    expect(placed).toHaveLength(46);
    for (const r of placed) {
      const call = sim.calls.get(r.call_id!)!;
      expect(call.phoneNumber).toBe(r.phone);
      expect(r.outcome).toBe(call.outcome);
      expect(CALL_OUTCOMES).toContain(r.outcome);
      expect(r.attempts).toBe(1);
    }
    expect(rows.filter((r) => r.outcome === 'rejected').map((r) => r.row)).toEqual([21, 43]);
    expect(rows.filter((r) => r.outcome === 'duplicate').map((r) => [r.row, r.error])).toEqual([[22, 'duplicate of row 4'], [44, 'duplicate of row 11']]);
    expect(await t.rt.store.counts('fifty')).toMatchObject({ finished: 50 });
  });

  it('honours 429: every contact is still placed exactly once, and a 429 uses no attempt', async () => {
    const nums = numbers(20, 61412200000);
    const { sim, t, d } = await dial('limited', { rateLimitPerSecond: 5 }, { rate: { calls: 50, per_seconds: 1 }, concurrency: 10 }, csvOf(nums));
    await d.done(25_000);

    const limited = sim.requests.filter((r) => r.fault === '429');
    expect(limited.length).toBeGreaterThan(0);
    // Numbers that met a 429 before their call went through (their rows below still say attempt 1).
    expect(new Set(limited.map((r) => (r.body as { phoneNumber: string }).phoneNumber)).size).toBeGreaterThan(0);
    const created = sim.requests.filter((r) => r.method === 'POST' && r.status === 201);
    expect(created.map((r) => (r.body as { phoneNumber: string }).phoneNumber).sort()).toEqual([...nums].sort());
    expect(sim.calls.size).toBe(20);

    const rows = await allRows(t, 'limited');
    for (const r of rows) {
      expect(CALL_OUTCOMES, `row ${r.row}`).toContain(r.outcome);
      expect(r.attempts, `row ${r.row}`).toBe(1);
      expect(sim.calls.get(r.call_id!)?.phoneNumber).toBe(r.phone);
    }
    for await (const [, e] of t.rt.store.ledgerEntries('limited')) {
      expect(e).toMatchObject({ s: 'placed', a: 1 });
      // A placed entry keeps no POST start (only sending and ambiguous entries need it).
      expect(e.sent).toBeUndefined();
    }
    const logged = t.logs.filter((l) => l.decision === 'rate-limited');
    expect(logged.length).toBeGreaterThan(0);
    expect(String(logged[0]!.err)).toContain('429');
  });

  it('dead-letters a contact that can never succeed, with the reason in its results row', async () => {
    const nums = numbers(8, 61412300000);
    const { sim, t, c, d } = await dial('deadletter', { assistants: ['known'] }, { assistant_id: 'unknown' }, csvOf(nums));
    await d.done();

    const posts = postsByNumber(sim);
    expect([...posts.keys()].sort()).toEqual([...nums].sort());
    expect([...posts.values()].every((n) => n === 1)).toBe(true); // a 404 is not retried
    expect(sim.calls.size).toBe(0);

    const rows = await allRows(t, 'deadletter');
    for (const r of rows) {
      expect(r).toMatchObject({ outcome: 'dead-letter', attempts: 1, http_status: 404 });
      expect(r.error).toMatch(/404/);
    }
    const dlq = await t.rt.redis.zrange(t.rt.store.keys.dlq('deadletter'), 0, -1);
    expect(dlq.map(Number).sort((a, b) => a - b)).toEqual(rows.map((r) => r.row));

    // The rendered results carry the reason too.
    const out = await writeResults(t.rt.store, 'deadletter', c.resultsPath);
    const results = parseCsv<Record<string, string>>(await readFile(out.file, 'utf8'), { columns: true });
    expect(results).toHaveLength(8);
    for (const r of results) {
      expect(r.outcome).toBe('dead-letter');
      expect(r.error).toMatch(/404/);
      expect(r.http_status).toBe('404');
    }
  });

  describe('a POST that may or may not have placed a call', () => {
    it('5xx (no call created), on_ambiguous skip: ends unknown after the grace, never redialed', async () => {
      const nums = numbers(6, 61412400000);
      const { sim, t, d } = await dial('amb-skip', { faults: { error5xxRate: 1 } }, { ambiguous_grace_seconds: 1, on_ambiguous: 'skip' }, csvOf(nums));
      await postsReached(sim, nums, 1);
      // The simulator's 5xx fault hits GET /calls too; reconciliation needs the lookup to work.
      sim.setOptions({ faults: { error5xxRate: 0 } });
      await d.done();

      expect(sim.calls.size).toBe(0);
      const posts = postsByNumber(sim);
      expect([...posts.keys()].sort()).toEqual([...nums].sort());
      expect([...posts.values()].every((n) => n === 1)).toBe(true);
      for (const r of await allRows(t, 'amb-skip')) {
        expect(r).toMatchObject({ outcome: 'unknown', attempts: 1 });
        expect(r.call_id).toBeUndefined();
        expect(r.error).toMatch(/on_ambiguous: skip/);
      }
      // The reconciliation did look the numbers up.
      expect(sim.requests.some((r) => r.method === 'GET' && r.path.startsWith('/calls?') && r.path.includes('phoneNumber'))).toBe(true);
    });

    it('connection dropped after the call was created: the poller finds the call and follows it to its real outcome', async () => {
      const nums = numbers(6, 61412500000);
      const { sim, t, d } = await dial('amb-found', { faults: { dropAfterCreateRate: 1 } }, { ambiguous_grace_seconds: 1, on_ambiguous: 'redial' }, csvOf(nums));
      await d.done();

      expect(sim.requests.filter((r) => r.fault === 'drop')).toHaveLength(6);
      const posts = postsByNumber(sim);
      expect([...posts.values()].every((n) => n === 1)).toBe(true);
      expect(posts.size).toBe(6);
      for (const r of await allRows(t, 'amb-found')) {
        const call = sim.calls.get(r.call_id!);
        expect(call, `row ${r.row} call`).toBeDefined();
        expect(call!.phoneNumber).toBe(r.phone);
        expect(r.outcome).toBe(call!.outcome);
        expect(r.attempts).toBe(1);
      }
    });

    it('5xx on the first attempt only, on_ambiguous redial: exactly two POSTs and a real outcome', async () => {
      const nums = numbers(6, 61412600000);
      const { sim, t, d } = await dial('amb-redial', { faults: { error5xxRate: 1 } }, { ambiguous_grace_seconds: 1, on_ambiguous: 'redial' }, csvOf(nums));
      await postsReached(sim, nums, 1);
      sim.setOptions({ faults: { error5xxRate: 0 } });
      await d.done();

      const posts = postsByNumber(sim);
      expect([...posts.keys()].sort()).toEqual([...nums].sort());
      expect([...posts.values()]).toEqual(nums.map(() => 2));
      expect(sim.calls.size).toBe(6);
      for (const r of await allRows(t, 'amb-redial')) {
        const call = sim.calls.get(r.call_id!);
        expect(call?.phoneNumber, `row ${r.row}`).toBe(r.phone);
        expect(r.outcome).toBe(call!.outcome);
        expect(r.attempts).toBe(2);
      }
    });
  });
});
