/**
 * The composition root: `dialer serve --with-workers` runs what `dialer worker`
 * and `dialer poller` run (SMS actions detached and results written when a
 * campaign finishes, schedule ticks), and `close()` is safe to call again.
 * Real Redis, the simulator over HTTP.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { stringify as toYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeSchedule, syncSchedules } from '../src/campaign/schedule.js';
import { ensureSmsActions } from '../src/campaign/sms-actions.js';
import { Dialer } from '../src/dialer.js';
import { startServer } from '../src/server/service.js';
import { campaignIn, cleanupPrefix, postsByNumber, testPrefix, waitFor, withRuntime } from './helpers/dialer.js';
import { numbers, useSimulators } from './helpers/sim-http.js';

const prefix = testPrefix('root');
const simulator = useSimulators();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-root-'));
});
afterAll(async () => {
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

const FAST = { callDurationMs: { min: 100, max: 300 } };
const csvOf = (phones: string[]) => ['name,phone', ...phones.map((p, i) => `P${i + 1},${p}`)].join('\n') + '\n';
const base = (name: string, extra: Record<string, unknown> = {}) => ({
  name, assistant_id: 'CE_ROOT', contacts: 'contacts.csv', default_country: 'AU',
  rate: { calls: 50, per_seconds: 1 }, concurrency: 5,
  poll: { interval_seconds: 0.2, timeout_minutes: 1 }, ...extra,
});
const SMS = [{ content: 'Thanks for your time', instructions: 'send at the end of the call' }];

describe('serve --with-workers does what dialer worker does', () => {
  it('detaches SMS actions and writes results when a campaign finishes, and runs schedule ticks', async () => {
    const sim = await simulator(FAST);
    const phones = numbers(3, 61414100000);
    const results = path.join(dir, 'sms.csv');
    const c = await campaignIn(path.join(dir, 'sms'), base('root-sms', { sms_actions: SMS, detach_actions_on_finish: true, results }), csvOf(phones));
    const folder = path.join(dir, 'ticks');
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, 'contacts.csv'), csvOf(numbers(2, 61414200000)));
    await writeFile(path.join(folder, 'tick.yaml'), toYaml(base('tick', { schedule: { cron: '*/1 * * * * *' }, results: path.join(dir, 'tick-results', 'tick.csv') })));

    await withRuntime(prefix, sim, async ({ rt }) => {
      const server = await startServer(rt, {
        port: 0, host: '127.0.0.1', token: 'root-token-0123456789abcdef', uploadLimitBytes: 1024 * 1024, resultsDir: dir,
        withWorkers: true, workerScanMs: 100, pollerTickMs: 50,
      });
      try {
        // What `dialer load` does: attach the actions, load the contacts; the server's workers dial them.
        await ensureSmsActions(rt, c);
        await new Dialer(rt).load(c);
        const [action] = [...sim.actions.values()];
        expect(action?.attached_to).toEqual(['CE_ROOT']);

        await waitFor(async () => (await rt.store.getCampaign('root-sms'))?.state === 'done', 'root-sms to be done', 15_000);
        await waitFor(async () => action!.attached_to.length === 0, 'the SMS action to be detached', 5000);
        expect(await rt.redis.hget(rt.store.keys.campaign('root-sms'), 'sms_actions_detached_at')).toBeTruthy();
        await waitFor(() => existsSync(results), 'the results file', 5000);
        const rows = parseCsv<Record<string, string>>(await readFile(results, 'utf8'), { columns: true });
        expect(rows.map((r) => r.phone)).toEqual(phones);

        // A schedule tick is picked up by the server's own schedule service and its run dialed to the end.
        expect((await syncSchedules(rt, folder)).upserted).toHaveLength(1);
        const run = (await waitFor(async () => (await rt.store.listCampaigns()).find((id) => id.startsWith('tick-')), 'a scheduled run', 15_000))!;
        await removeSchedule(rt, 'tick');
        await waitFor(async () => (await rt.store.getCampaign(run))?.state === 'done', `${run} to be done`, 15_000);
        await waitFor(() => existsSync(path.join(dir, 'tick-results', `${run}.csv`)), `results of ${run}`, 5000);
        for (const p of numbers(2, 61414200000)) expect(postsByNumber(sim).get(p)).toBeGreaterThanOrEqual(1);
      } finally {
        const first = server.close();
        expect(server.close()).toBe(first);
        await first;
      }
      // Closed: the in-process worker no longer reports a heartbeat.
      expect(await rt.redis.hlen(rt.store.keys.workers)).toBe(0);
    });
  }, 45_000);
});

describe('Dialer.close', () => {
  it('returns the same promise twice, may be forced afterwards, and stops every service it started', async () => {
    const sim = await simulator(FAST);
    const c = await campaignIn(path.join(dir, 'close'), base('root-close', { results: path.join(dir, 'close.csv') }), csvOf(numbers(2, 61414300000)));
    await withRuntime(prefix, sim, async ({ rt }) => {
      const dialer = new Dialer(rt, { workerScanMs: 100, pollerTickMs: 50 });
      const svc = dialer.startWorkers();
      const poller = dialer.startPoller();
      await waitFor(async () => (await rt.redis.hget(rt.store.keys.workers, svc.id)) !== null, 'a worker heartbeat');
      const first = dialer.close();
      expect(dialer.close()).toBe(first);
      await first;
      await expect(dialer.close(true)).resolves.toBeUndefined();
      expect(poller.state).toBe('stopped');
      expect(await rt.redis.hget(rt.store.keys.workers, svc.id)).toBeNull();
      expect(() => dialer.startPoller()).toThrow(/closed/);

      // Nothing is left dialing: a campaign loaded now stays untouched.
      await new Dialer(rt).load(c);
      await new Promise((r) => setTimeout(r, 600));
      expect(sim.requests.filter((r) => r.method === 'POST' && r.path === '/calls')).toEqual([]);
    });
  }, 20_000);
});
