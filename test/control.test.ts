import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelCampaign, pauseCampaign, resumeCampaign } from '../src/campaign/control.js';
import { CALL_OUTCOMES } from '../src/config/campaign.js';
import { writeResults } from '../src/results/export.js';
import type { RequestLogEntry, Simulator } from '../src/simulator/index.js';
import { campaignIn, cleanupPrefix, postsByNumber, startDialing, testPrefix, waitFor, withRuntime } from './helpers/dialer.js';
import { numbers, sleep, useSimulators } from './helpers/sim-http.js';
import { decodeRow } from '../src/store/row-codec.js';

const prefix = testPrefix('control');
const simulator = useSimulators();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-control-'));
});
afterAll(async () => {
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

const csvOf = (phones: string[]) => ['name,phone', ...phones.map((p, i) => `P${i + 1},${p}`)].join('\n') + '\n';
const campaign = (name: string, assistant: string, phones: string[], extra: Record<string, unknown> = {}) =>
  campaignIn(path.join(dir, name), {
    name, assistant_id: assistant, default_country: 'AU', rate: { calls: 10, per_seconds: 1 }, concurrency: 2,
    poll: { interval_seconds: 0.2, timeout_minutes: 1 }, results: path.join(dir, `${name}.csv`), ...extra,
  }, csvOf(phones));

/** POST /calls of one campaign (told apart by assistant id), optionally within [from, to]. */
const postsOf = (sim: Simulator, assistant: string, from = -Infinity, to = Infinity): RequestLogEntry[] =>
  sim.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/calls') && (r.body as { assistant_id?: string }).assistant_id === assistant && r.t >= from && r.t <= to);

describe('pause, resume, cancel', () => {
  it('pausing one of two running campaigns stops only its dials; resume finishes it', async () => {
    const sim = await simulator({ callDurationMs: { min: 100, max: 300 } });
    const phonesA = numbers(30, 61415100000);
    const phonesB = numbers(60, 61415200000);
    const a = await campaign('ctl-a', 'CE_A', phonesA);
    const b = await campaign('ctl-b', 'CE_B', phonesB);
    await withRuntime(prefix, sim, async ({ rt }) => {
      const da = await startDialing(rt, a);
      const db = await startDialing(rt, b);
      let resumed = 0;
      try {
        await waitFor(() => postsOf(sim, 'CE_A').length >= 5, 'a few dials of ctl-a', 10_000);
        expect(await pauseCampaign(rt, 'ctl-a')).toBe('paused');
        const paused = Date.now();
        await sleep(2500);
        expect((await rt.store.getCampaign('ctl-a'))?.state).toBe('paused');
        resumed = Date.now();
        expect(await resumeCampaign(rt, 'ctl-a')).toBe('running');

        // Only dials already past the queue (at most `concurrency`) may still land, and only right after the pause.
        expect(postsOf(sim, 'CE_A', paused, resumed).length).toBeLessThanOrEqual(2);
        expect(postsOf(sim, 'CE_A', paused + 1000, resumed)).toEqual([]);
        // The other campaign kept dialing the whole time.
        expect(postsOf(sim, 'CE_B', paused, resumed).length).toBeGreaterThanOrEqual(15);
        expect(postsOf(sim, 'CE_B', resumed - 1000, resumed).length).toBeGreaterThan(0);
        // ctl-a was not finished when paused.
        expect(postsOf(sim, 'CE_A', -Infinity, resumed).length).toBeLessThan(30);

        await Promise.all([da.done(20_000), db.done(20_000)]);
      } finally {
        await Promise.all([da.stop(), db.stop()]);
      }
      expect(postsOf(sim, 'CE_A', resumed).length).toBeGreaterThan(0);
      const posts = postsByNumber(sim);
      for (const p of [...phonesA, ...phonesB]) expect(posts.get(p), p).toBe(1);
      for (const id of ['ctl-a', 'ctl-b']) {
        const rows = Object.values(await rt.redis.hgetall(rt.store.keys.rows(id))).map((v) => decodeRow(v));
        for (const r of rows) expect(CALL_OUTCOMES).toContain(r.outcome);
      }
    });
  }, 40_000);

  it('cancel ends every row not yet dialed as canceled, and none of them is dialed after', async () => {
    const sim = await simulator({ callDurationMs: { min: 100, max: 300 } });
    const phones = numbers(40, 61415300000);
    const c = await campaign('ctl-c', 'CE_C', phones, { rate: { calls: 5, per_seconds: 1 }, concurrency: 1 });
    await withRuntime(prefix, sim, async ({ rt }) => {
      const d = await startDialing(rt, c);
      try {
        await waitFor(() => postsOf(sim, 'CE_C').length >= 5, 'a few dials of ctl-c', 10_000);
        const r = await cancelCampaign(rt, 'ctl-c');
        const canceledAt = Date.now();
        expect(r.canceled).toBeGreaterThanOrEqual(40 - 5 - 3);
        // Dials already placed are followed to their real outcome; then every row is final.
        await waitFor(async () => (await rt.store.counts('ctl-c')).finished === 40, 'every row final', 10_000);
        await sleep(1000);
        expect(postsOf(sim, 'CE_C', canceledAt).length).toBeLessThanOrEqual(1); // one in flight at most
        expect((await rt.store.getCampaign('ctl-c'))?.state).toBe('canceled');

        const out = await writeResults(rt.store, 'ctl-c', c.resultsPath);
        const results = parseCsv<{ row: string; phone: string; outcome: string }>(await readFile(out.file, 'utf8'), { columns: true });
        expect(results).toHaveLength(40);
        const canceled = results.filter((x) => x.outcome === 'canceled');
        expect(canceled).toHaveLength(r.canceled);
        const posts = postsByNumber(sim);
        for (const x of canceled) expect(posts.get(x.phone), `canceled row ${x.row}`).toBeUndefined();
        for (const x of results.filter((y) => y.outcome !== 'canceled')) {
          expect(posts.get(x.phone), `row ${x.row}`).toBe(1);
          expect(CALL_OUTCOMES).toContain(x.outcome);
        }
        expect(postsOf(sim, 'CE_C').length).toBe(40 - r.canceled);
        // The queue holds nothing more to dial.
        const jobs = await rt.queues.get('ctl-c').getJobCounts('wait', 'delayed', 'prioritized', 'paused' as never);
        expect(Object.values(jobs).reduce((x, y) => x + y, 0)).toBe(0);
      } finally {
        await d.stop();
      }
    });
  }, 30_000);
});
