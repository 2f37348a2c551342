import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { DateTime } from 'luxon';
import { stringify as toYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listSchedules, removeSchedule, scheduledRun, syncSchedules } from '../src/campaign/schedule.js';
import { Dialer } from '../src/dialer.js';
import { campaignIn, cleanupPrefix, postsByNumber, runCli, startDialing, testPrefix, waitFor, withRuntime, REDIS_URL } from './helpers/dialer.js';
import { numbers, useSimulators } from './helpers/sim-http.js';

const prefix = testPrefix('schedule');
const simulator = useSimulators();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-schedule-'));
});
afterAll(async () => {
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

const FAST = { callDurationMs: { min: 100, max: 300 } };
const csvOf = (phones: string[]) => ['name,phone', ...phones.map((p, i) => `P${i + 1},${p}`)].join('\n') + '\n';
const base = (name: string, extra: Record<string, unknown> = {}) => ({
  name, assistant_id: 'CE_S', contacts: 'contacts.csv', default_country: 'AU',
  rate: { calls: 50, per_seconds: 1 }, concurrency: 5,
  poll: { interval_seconds: 0.2, timeout_minutes: 1 }, ...extra,
});

async function writeFolder(folder: string, files: Record<string, unknown>): Promise<void> {
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, 'contacts.csv'), csvOf(numbers(2, 61413000000)));
  for (const [f, v] of Object.entries(files)) await writeFile(path.join(folder, f), typeof v === 'string' ? v : f.endsWith('.json') ? JSON.stringify(v) : toYaml(v));
}

describe('scheduled runs', () => {
  it('names each run <name>-<stamp in the schedule zone> and inserts the stamp into the results path', () => {
    const c = { name: 'nightly', resultsPath: '/r/out/nightly.csv', schedule: { cron: '0 9 * * 1-5', timezone: 'Australia/Brisbane' } } as never;
    const at = Date.parse('2026-12-01T23:30:00Z'); // 09:30 on the 2nd in Brisbane (UTC+10)
    const run = scheduledRun(c, at);
    expect(run.name).toBe('nightly-202612020930');
    expect(run.resultsPath).toBe('/r/out/nightly-202612020930.csv');
    expect(run.schedule).toBeUndefined();
    const long = scheduledRun({ ...(c as object), name: 'x'.repeat(63) } as never, at);
    expect(long.name).toMatch(/^x{50}-202612020930$/);
    expect(scheduledRun({ ...(c as object), schedule: { cron: '*/2 * * * * *' } } as never, at).name).toMatch(/^nightly-\d{14}$/);
  });

  it('schedule sync registers, updates and removes schedulers to match the folder; bad files are reported and skipped', async () => {
    const folder = path.join(dir, 'sync');
    await writeFolder(folder, {
      'a.yaml': base('sync-a', { schedule: { cron: '0 9 * * 1-5', timezone: 'Australia/Brisbane' } }),
      'b.yml': base('sync-b', { schedule: { cron: '30 18 * * *' } }),
      'c.json': base('sync-c', { schedule: { cron: '0 7 * * *', timezone: 'Europe/London' } }),
      'broken.yaml': { name: 'Not Valid', contacts: 'contacts.csv' },
      'badcron.yml': base('sync-bad-cron', { schedule: { cron: '99 99 * * *' } }),
      'once.yaml': base('sync-once', { schedule: { start_at: '2026-12-01T09:00:00+10:00' } }),
      'notes.txt': 'not a campaign',
    });
    await withRuntime(prefix, undefined, async ({ rt }) => {
      const r1 = await syncSchedules(rt, folder);
      expect(r1.upserted.map((s) => s.campaign).sort()).toEqual(['sync-a', 'sync-b', 'sync-c']);
      expect(r1.errors.map((e) => e.file)).toEqual([path.join(folder, 'badcron.yml'), path.join(folder, 'broken.yaml')]);
      expect(r1.errors[0]!.error).toMatch(/badcron\.yml: schedule\.cron: .*99/);
      expect(r1.errors[1]!.error).toMatch(/broken\.yaml: .*name/);
      expect(r1.ignored).toEqual([path.join(folder, 'once.yaml')]);
      const a = r1.upserted.find((s) => s.campaign === 'sync-a')!;
      expect(a).toMatchObject({ pattern: '0 9 * * 1-5', timezone: 'Australia/Brisbane', file: path.join(folder, 'a.yaml') });
      // The next 09:00 on a weekday in Brisbane.
      const next = DateTime.fromISO(a.next!, { zone: 'Australia/Brisbane' });
      expect(next.toFormat('HH:mm')).toBe('09:00');
      expect(next.weekday).toBeLessThanOrEqual(5);
      expect(next.toMillis()).toBeGreaterThan(Date.now());

      // Edit a, delete b, break c: a is updated, b removed, c reported and left alone.
      await writeFile(path.join(folder, 'a.yaml'), toYaml(base('sync-a', { schedule: { cron: '15 10 * * *', timezone: 'Australia/Brisbane' } })));
      await rm(path.join(folder, 'b.yml'));
      await writeFile(path.join(folder, 'c.json'), '{"name": "sync-c", ');
      const r2 = await syncSchedules(rt, folder);
      expect(r2.upserted.map((s) => s.campaign)).toEqual(['sync-a']);
      expect(r2.removed).toEqual(['sync-b']);
      expect(r2.errors.map((e) => path.basename(e.file)).sort()).toEqual(['badcron.yml', 'broken.yaml', 'c.json']);
      const list = await listSchedules(rt);
      expect(list.map((s) => [s.campaign, s.pattern])).toEqual([['sync-a', '15 10 * * *'], ['sync-c', '0 7 * * *']]);
      for (const s of list) expect(Date.parse(s.next!)).toBeGreaterThan(Date.now());

      // The CLI shows the same, as JSON.
      const cli = await runCli(['schedule', 'list', '--json'], { REDIS_URL, DIALER_PREFIX: prefix });
      expect(cli.code, cli.stderr).toBe(0);
      expect((JSON.parse(cli.stdout) as { campaign: string }[]).map((s) => s.campaign)).toEqual(['sync-a', 'sync-c']);

      expect(await removeSchedule(rt, 'sync-a')).toBe(true);
      expect(await removeSchedule(rt, 'sync-c')).toBe(true);
      expect(await listSchedules(rt)).toEqual([]);
    });
  });

  it('a cron schedule makes one run per tick, each with its own run id and results file', async () => {
    const sim = await simulator(FAST);
    const folder = path.join(dir, 'cron');
    const phones = numbers(3, 61413100000);
    await writeFolder(folder, {
      'nightly.yaml': base('nightly', {
        schedule: { cron: '*/2 * * * * *', timezone: 'Australia/Brisbane' },
        results: path.join(dir, 'cron-results', 'nightly.csv'),
        sms_actions: [{ content: 'Thanks for your time', instructions: 'send at the end of the call' }],
      }),
    });
    await writeFile(path.join(folder, 'contacts.csv'), csvOf(phones));
    await withRuntime(prefix, sim, async ({ rt }) => {
      // What `dialer worker` + `dialer poller` run: schedule ticks, and results written when a run finishes.
      const dialer = new Dialer(rt, { workerScanMs: 100, pollerTickMs: 50 });
      dialer.startWorkers();
      dialer.startPoller();
      const runsSoFar = async () => (await rt.store.listCampaigns()).filter((id) => id.startsWith('nightly-')).sort();
      let runs: string[] = [];
      try {
        expect((await syncSchedules(rt, folder)).upserted).toHaveLength(1);
        await waitFor(async () => (runs = await runsSoFar()).length >= 2, 'two scheduled runs', 15_000);
        await removeSchedule(rt, 'nightly');
        // A tick in flight when the schedule went may still load a run: wait for it to show, then count.
        await new Promise((r) => setTimeout(r, 500));
        runs = await runsSoFar();
        const [r1, r2] = runs as [string, string];
        for (const id of runs) {
          await waitFor(async () => (await rt.store.getCampaign(id))?.state === 'done', `${id} to be done`, 15_000);
        }
        expect(r1).not.toBe(r2);
        for (const id of [r1, r2]) {
          expect(id).toMatch(/^nightly-\d{14}$/);
          // The stamp is the tick's time in Brisbane.
          const at = DateTime.fromFormat(id.slice('nightly-'.length), 'yyyyLLddHHmmss', { zone: 'Australia/Brisbane' });
          expect(Math.abs(at.toMillis() - Date.now())).toBeLessThan(30_000);
          const file = path.join(dir, 'cron-results', `${id}.csv`);
          await waitFor(() => existsSync(file), `results of ${id}`, 5000);
          const rows = parseCsv<Record<string, string>>(await readFile(file, 'utf8'), { columns: true });
          expect(rows.map((r) => r.phone)).toEqual(phones);
          for (const r of rows) expect(['completed', 'no-answer', 'busy', 'voicemail', 'failed']).toContain(r.outcome);
          // Each run is a campaign of its own, with its own ledger.
          expect((await rt.store.getCampaign(id))?.campaign.resultsPath).toBe(file);
        }
        // Each number was called once per run, no more.
        const posts = postsByNumber(sim);
        for (const p of phones) expect(posts.get(p)).toBe(runs.length);
        // The SMS action was created once and attached, for every run.
        expect(sim.actions.size).toBe(1);
        expect([...sim.actions.values()][0]!.attached_to).toEqual(['CE_S']);
        expect(sim.requests.filter((r) => r.method === 'POST' && r.path === '/actions')).toHaveLength(1);
      } finally {
        await dialer.close();
      }
    });
  }, 40_000);

  it('schedule.start_at: loaded now, nothing dialed before the start time, everything after', async () => {
    const sim = await simulator(FAST);
    const phones = numbers(4, 61413200000);
    const startAt = Date.now() + 3000;
    const iso = DateTime.fromMillis(startAt, { zone: 'Australia/Brisbane' }).toISO()!; // with a +10:00 offset
    expect(iso).toMatch(/\+10:00$/);
    const c = await campaignIn(path.join(dir, 'later'), base('later', { schedule: { start_at: iso }, results: path.join(dir, 'later.csv') }), csvOf(phones));
    await withRuntime(prefix, sim, async ({ rt }) => {
      const d = await startDialing(rt, c);
      try {
        expect(d.load).toMatchObject({ accepted: 4, jobs: 4 });
        const delayed = await rt.queues.get('later').getJobCounts('delayed', 'wait');
        expect(delayed).toMatchObject({ delayed: 4, wait: 0 });
        await new Promise((r) => setTimeout(r, startAt - Date.now() - 300));
        expect(sim.requests.filter((r) => r.method === 'POST')).toEqual([]);
        await d.done(15_000);
      } finally {
        await d.stop();
      }
      const posts = sim.requests.filter((r) => r.method === 'POST');
      expect(posts).toHaveLength(4);
      for (const p of posts) expect(p.t).toBeGreaterThanOrEqual(startAt);
      expect(Math.min(...posts.map((p) => p.t))).toBeLessThan(startAt + 2000);
    });
  }, 30_000);
});
