import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { campaignStatus } from '../src/campaign/status.js';
import { Dialer } from '../src/dialer.js';
import { useSimulators } from './helpers/sim-http.js';
import { campaignIn, cleanupPrefix, testPrefix, waitFor, withRuntime } from './helpers/dialer.js';

const prefix = testPrefix('deadline');
afterAll(() => cleanupPrefix(prefix));
const simulator = useSimulators();
/** The reaper (every worker runs it) ends the rest soon after the deadline. */
const ENV = { reapEveryMs: 300 };

const posts = (sim: { requests: { method: string; path: string; t: number; body?: unknown; call_id?: string }[] }) =>
  sim.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/calls')).map((r) => ({ t: r.t, phone: (r.body as { phoneNumber: string }).phoneNumber, callId: r.call_id }));

describe('campaign deadline (schedule.end_after / end_at)', () => {
  it('at the deadline the contacts not dialed and the redials not made end expired; calls in flight finish; the campaign ends and writes its results', async () => {
    const ANN = '+61412300000';
    const others = Array.from({ length: 19 }, (_, i) => `+6141230${String(i + 1).padStart(4, '0')}`);
    // Calls of 2.5-3 s at 2 calls/s: the calls of the last seconds before the deadline are still live at it.
    const sim = await simulator({ callDurationMs: { min: 2500, max: 3000 }, outcomeFor: { [ANN]: ['no-answer', 'completed'], ...Object.fromEntries(others.map((p) => [p, 'completed'])) } });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'deadline-'));
    const results = path.join(dir, 'results.csv');
    const c = await campaignIn(dir, {
      name: 'deadline-a', assistant_id: 'A1', default_country: 'AU', rate: { calls: 2, per_seconds: 1 },
      poll: { interval_seconds: 0.2, timeout_minutes: 1 },
      schedule: { end_after: '6s' },
      // Ann's redial falls due before the deadline but the frequency cap (a gate every redial passes) holds it.
      redial: { 'no-answer': { after_minutes: [0.005] } }, frequency_cap: 1,
      results,
    }, `name,phone\nAnn,${ANN}\n${others.map((p, i) => `P${i},${p}`).join('\n')}\n`);
    await withRuntime(prefix, sim, async ({ rt }) => {
      const dialer = new Dialer(rt, { workerScanMs: 100, pollerTickMs: 50 });
      try {
        await dialer.load(c);
        const deadline = (await rt.store.deadline.deadlineMs(c.name))!;
        expect(deadline).toBeGreaterThan(Date.now() + 4000);
        expect((await campaignStatus(rt.store, rt.queues, c.name)).deadline).toBe(new Date(deadline).toISOString());
        // Not bare: the campaign's end writes its results file, as `dialer worker` does.
        dialer.startWorkers({ campaigns: [c.name] });
        dialer.startPoller();
        await waitFor(async () => (await rt.store.campaignState(c.name)) === 'done', 'the campaign to end', 40_000, 100);
        const st = await campaignStatus(rt.store, rt.queues, c.name);

        // Nobody was dialed after the deadline: each dial stepped into `sending` before it (worker clock), and reached the API at once.
        const ps = posts(sim);
        expect(ps.length).toBeGreaterThan(3);
        expect(ps.length).toBeLessThan(20);
        for await (const [, e] of rt.store.ledgerEntries(c.name)) if (e.sent !== undefined) expect(e.sent).toBeLessThan(deadline);
        for (const p of ps) expect(p.t).toBeLessThan(deadline + 500);
        expect(ps.filter((p) => p.phone === ANN)).toHaveLength(1);

        // Calls live at the deadline ended with their real outcome.
        const live = [...sim.calls.values()].filter((x) => x.createdAt < deadline && x.createdAt + x.plannedMs > deadline);
        expect(live.length).toBeGreaterThan(0);
        const dialed = new Set(ps.map((p) => p.phone));
        const rows = (await rt.store.getRows(c.name, Array.from({ length: 20 }, (_, i) => i + 1))).map((r) => r!);
        for (const r of rows.slice(1)) {
          if (dialed.has(r.phone)) expect(r, `row ${r.row}`).toMatchObject({ outcome: 'completed', call_id: ps.find((p) => p.phone === r.phone)!.callId });
          else expect(r, `row ${r.row}`).toMatchObject({ outcome: 'expired', error: 'not dialed: the campaign reached its deadline' });
        }
        for (const x of live) expect(rows.find((r) => r.phone === x.phoneNumber)?.outcome).toBe('completed');
        // Ann's redial was not made: her row ends expired and still shows her one call.
        expect(rows[0]).toMatchObject({ outcome: 'expired', call_id: ps.find((p) => p.phone === ANN)!.callId, error: 'redial not made: the campaign reached its deadline', attempts: 1 });

        const notDialed = 19 - (dialed.size - 1);
        expect(st).toMatchObject({ state: 'done', finished: 20, pending: 0, expired: notDialed + 1, completed: dialed.size - 1 });
        expect(st.outcomes.expired).toBe(notDialed + 1);

        // The results file, one row per contact, written at the campaign's end.
        const file = await waitFor(() => readFile(results, 'utf8').catch(() => ''), 'the results file', 10_000);
        const out = parseCsv<{ row: string; outcome: string }>(file, { columns: true });
        expect(out).toHaveLength(20);
        expect(out.filter((r) => r.outcome === 'expired')).toHaveLength(notDialed + 1);
      } finally {
        await dialer.close();
      }
    }, ENV);
  }, 60_000);

  it('a deadline passed while no worker ran: the next worker dials nobody and ends every row expired', async () => {
    const sim = await simulator({ callDurationMs: { min: 100, max: 200 } });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'deadline-'));
    const c = await campaignIn(dir, {
      name: 'deadline-b', assistant_id: 'A1', default_country: 'AU',
      schedule: { end_at: new Date(Date.now() + 1500).toISOString() }, results: path.join(dir, 'results.csv'),
    }, 'name,phone\nAnn,0412 300 101\nBob,0412 300 102\nCat,0412 300 103\n');
    await withRuntime(prefix, sim, async ({ rt }) => {
      const dialer = new Dialer(rt, { workerScanMs: 100, pollerTickMs: 50 });
      try {
        await dialer.load(c);
        const deadline = (await rt.store.deadline.deadlineMs(c.name))!;
        await waitFor(() => Date.now() > deadline + 100, 'the deadline to pass', 5000);
        // The step into `sending` refuses by itself, whoever asks.
        const begin = await rt.store.ledgerBegin(c.name, '+61412300101', Date.now(), 'tok', 60_000);
        expect(begin).toMatchObject({ ok: false, why: 'expired' });
        dialer.startWorkers({ campaigns: [c.name], bare: true });
        await waitFor(async () => (await rt.store.campaignState(c.name)) === 'done', 'the campaign to end', 20_000, 100);
        expect(posts(sim)).toHaveLength(0);
        expect(await rt.store.counts(c.name)).toMatchObject({ expired: 3, finished: 3 });
        const audit = await rt.redis.xrange(rt.store.keys.audit(c.name), '-', '+');
        expect(audit.filter(([, f]) => f.includes('expired'))).toHaveLength(3);
      } finally {
        await dialer.close();
      }
    }, ENV);
  }, 40_000);
});
