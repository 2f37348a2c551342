/**
 * Batched call lookups (CALLEASE_CALLS_BATCH) against the simulator over real
 * HTTP: a worker and a poller in this process, as `dialer run` has them.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { batchPath, resolveCallsBatch, type CallsBatchOptions } from '../src/api/batch.js';
import { readEnv } from '../src/config/env.js';
import type { RowRecord } from '../src/campaign/row.js';
import type { RequestLogEntry, Simulator, SimulatorOptions } from '../src/simulator/index.js';
import { campaignIn, openTestRuntime, startDialing, type Dialing, type TestRuntime } from './helpers/dialer.js';
import { useTestBed } from './helpers/bed.js';
import { numbers, useSimulators } from './helpers/sim-http.js';

const simulator = useSimulators();
const bed = useTestBed('poller-batch');
const { prefix, open } = bed;

/** Each campaign its own numbers (the frequency cap counts calls to a number across campaigns). */
let base = 61413000000;
const csvOf = (phones: string[]) => ['name,phone', ...phones.map((p, i) => `Person ${i + 1},${p}`)].join('\n') + '\n';

async function run(name: string, n: number, simOpts: SimulatorOptions, batch: CallsBatchOptions, campaign: Record<string, unknown> = {}) {
  const sim = await simulator({ callDurationMs: { min: 100, max: 400 }, ...simOpts });
  const t = await openTestRuntime(prefix, sim, { callsBatch: resolveCallsBatch(batch) });
  const entry: { t: TestRuntime; d?: Dialing } = { t };
  open.push(entry);
  const c = await campaignIn(path.join(bed.dir, name), {
    name, assistant_id: 'CE_1', default_country: 'AU',
    rate: { calls: 100, per_seconds: 1 }, concurrency: 20,
    poll: { interval_seconds: 0.2, timeout_minutes: 5 },
    results: path.join(bed.dir, name, 'results.csv'),
    ...campaign,
  }, csvOf(numbers(n, (base += 1000))));
  entry.d = await startDialing(t.rt, c);
  await entry.d.done(30_000);
  const rows = Object.values(await t.rt.redis.hgetall(t.rt.store.keys.rows(name))).map((v) => JSON.parse(v) as RowRecord);
  return { sim, t, rows };
}

const gets = (sim: Simulator) => sim.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/calls'));
const isBatch = (r: RequestLogEntry) => r.path.includes('ids=');
/** The ids a batched GET asked for (from its query). */
const askedIds = (r: RequestLogEntry) => new URLSearchParams(r.path.slice(r.path.indexOf('?') + 1)).get('ids')!.split(',');

/** Every row ended with the outcome its call really had on the simulator. */
function expectRealOutcomes(sim: Simulator, rows: RowRecord[]): void {
  for (const r of rows) {
    const call = sim.calls.get(r.call_id!);
    expect(call, `row ${r.row}`).toBeDefined();
    expect(r.outcome, `row ${r.row}`).toBe(call!.outcome);
  }
}

describe('batched GET /calls (CALLEASE_CALLS_BATCH=ids)', () => {
  it('follows every call to its real outcome with fewer GETs than calls and no per-call GET', async () => {
    const { sim, rows } = await run('happy', 40, {}, { mode: 'ids', max: 10 });
    expect(rows).toHaveLength(40);
    expectRealOutcomes(sim, rows);
    const g = gets(sim);
    expect(g.filter((r) => !isBatch(r))).toHaveLength(0);
    expect(g.length).toBeLessThan(40);
    // The max batch size holds.
    expect(Math.max(...g.map((r) => askedIds(r).length))).toBeLessThanOrEqual(10);
    // Each row was made final by a batch answer that carried its call in a final state.
    for (const r of rows) expect(g.some((x) => x.call_ids?.includes(r.call_id!)), `row ${r.row}`).toBe(true);
  });

  it('looks up a call the batch answer lacks on its own, and never takes it as ended', async () => {
    // A third of the calls never appear in a batch answer; some calls can't be looked up at all.
    const { sim, rows, t } = await run('missing', 30, { faults: { batchOmitRate: 0.35, lookupFailRate: 0.1 } }, { mode: 'ids' }, { poll: { interval_seconds: 0.2, timeout_minutes: 0.08 } });
    const g = gets(sim);
    const answered = new Set(g.flatMap((r) => r.call_ids ?? []));
    const omitted = rows.filter((r) => !answered.has(r.call_id!));
    const failing = rows.filter((r) => sim.calls.get(r.call_id!)!.lookupFails);
    expect(omitted.length).toBeGreaterThan(0);
    expect(failing.length).toBeGreaterThan(0);
    for (const r of omitted) {
      // Its own GET /calls?id=<id>, after the batch left it out.
      const own = g.filter((x) => !isBatch(x) && x.path === `/calls?id=${encodeURIComponent(r.call_id!)}`);
      expect(own.length, `row ${r.row}`).toBeGreaterThan(0);
      if (sim.calls.get(r.call_id!)!.lookupFails) {
        // Never seen by any lookup: it ends `unknown` at the poll timeout, not with a made-up outcome.
        expect(r.outcome, `row ${r.row}`).toBe('unknown');
        expect(r.error).toMatch(/could not be looked up|still/);
      } else {
        expect(r.outcome, `row ${r.row}`).toBe(sim.calls.get(r.call_id!)!.outcome);
        expect(own.some((x) => x.status === 200)).toBe(true);
      }
    }
    expectRealOutcomes(sim, rows.filter((r) => !sim.calls.get(r.call_id!)!.lookupFails));
    expect(t.logs.some((l) => /switched off/.test(String(l.msg)))).toBe(false);
  });

  it('falls back to per-call GETs when the batch answer is not JSON, and stops batching after five', async () => {
    // 10/s for 3 s: more than five rounds of due calls.
    const { sim, rows, t } = await run('malformed', 30, { faults: { batchBadBodyRate: 1 } }, { mode: 'ids' }, { rate: { calls: 10, per_seconds: 1 } });
    expectRealOutcomes(sim, rows);
    const g = gets(sim);
    const batches = g.filter(isBatch);
    expect(batches.every((r) => r.fault === 'bad-body' && r.status === 200)).toBe(true);
    // Every call was found by its own GET.
    for (const r of rows) expect(g.some((x) => !isBatch(x) && x.path === `/calls?id=${encodeURIComponent(r.call_id!)}` && x.status === 200), `row ${r.row}`).toBe(true);
    expect(t.logs.filter((l) => l.msg === 'batched call lookup unusable; these calls are looked up one by one')).toHaveLength(5);
    // Five unusable answers in a row: batching is switched off for the process, per-call from then on.
    expect(batches).toHaveLength(5);
    expect(t.logs.filter((l) => /switched off/.test(String(l.msg)))).toHaveLength(1);
    expect(g.filter((x) => !isBatch(x) && x.t > batches[4]!.t).length).toBeGreaterThan(0);
  });

  it('a 429 on a batch GET: no burst of per-call GETs, the calls wait Retry-After, then finish', async () => {
    const { sim, rows } = await run('limited', 30, { faults: { batch429Rate: 0.5 }, seed: 3 }, { mode: 'ids', max: 10 });
    expectRealOutcomes(sim, rows);
    const g = gets(sim);
    const limited = g.filter((r) => isBatch(r) && r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(g.filter((r) => !isBatch(r))).toHaveLength(0);
    for (const l of limited) {
      for (const id of askedIds(l)) {
        const next = g.find((x) => x.t > l.t && isBatch(x) && askedIds(x).includes(id));
        expect(next, `call ${id} looked at again`).toBeDefined();
        // Retry-After: 1 → at least a second later (the poll interval is 0.2 s).
        expect(next!.t - l.t, `call ${id}`).toBeGreaterThanOrEqual(950);
      }
    }
  });
});

describe('batch settings', () => {
  it('off unless CALLEASE_CALLS_BATCH is set; defaults per mode; bad values named', () => {
    expect(readEnv({}).callsBatch.mode).toBe('off');
    expect(readEnv({ CALLEASE_CALLS_BATCH: 'ids' }).callsBatch).toEqual({ mode: 'ids', path: '/calls?ids={ids}', max: 50 });
    expect(readEnv({ CALLEASE_CALLS_BATCH: 'list' }).callsBatch.path).toBe('/calls?created_after={created_after}');
    expect(readEnv({ CALLEASE_CALLS_BATCH: 'ids', CALLEASE_CALLS_BATCH_PATH: '/v2/calls/batch?call_ids={ids}', CALLEASE_CALLS_BATCH_MAX: '20' }).callsBatch).toEqual({ mode: 'ids', path: '/v2/calls/batch?call_ids={ids}', max: 20 });
    expect(() => readEnv({ CALLEASE_CALLS_BATCH: 'yes' })).toThrow(/CALLEASE_CALLS_BATCH must be one of off, ids, list/);
    expect(() => readEnv({ CALLEASE_CALLS_BATCH: 'ids', CALLEASE_CALLS_BATCH_PATH: '/calls?id={id}' })).toThrow(/must contain '\{ids\}'/);
    expect(() => readEnv({ CALLEASE_CALLS_BATCH: 'ids', CALLEASE_CALLS_BATCH_MAX: '500' })).toThrow(/from 1 to 100/);
    expect(() => readEnv({ CALLEASE_CALLS_BATCH: 'ids', CALLEASE_CALLS_BATCH_MAX: '2.5' })).toThrow(/CALLEASE_CALLS_BATCH_MAX must be a whole number/);
  });

  it('fills the template: ids URL-encoded and comma-joined, created_after a minute before the earliest call', () => {
    expect(batchPath(resolveCallsBatch({ mode: 'ids' }), ['a b', 'c/d'], 0)).toBe('/calls?ids=a%20b,c%2Fd');
    expect(batchPath(resolveCallsBatch({ mode: 'list' }), ['x'], Date.parse('2026-12-02T10:01:00Z'))).toBe('/calls?created_after=2026-12-02T10%3A00%3A00.000Z');
  });

  it('an array answer (getShape array) works as well as the envelope', async () => {
    const { sim, rows } = await run('array', 15, { getShape: 'array' }, { mode: 'ids' });
    expectRealOutcomes(sim, rows);
    expect(gets(sim).every(isBatch)).toBe(true);
  });
});

describe('listing GET /calls (CALLEASE_CALLS_BATCH=list)', () => {
  it('matches the listing by id and follows every call to its real outcome', async () => {
    const { sim, rows } = await run('listing', 20, {}, { mode: 'list' });
    expectRealOutcomes(sim, rows);
    const g = gets(sim);
    expect(g.length).toBeGreaterThan(0);
    expect(g.every((r) => r.path.startsWith('/calls?created_after='))).toBe(true);
    expect(g.length).toBeLessThan(20);
  });
});
