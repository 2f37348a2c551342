import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../src/config/campaign.js';
import { WorkerService } from '../src/dialer/service.js';
import { loadCampaign } from '../src/loader/load.js';
import { Poller } from '../src/poller/poller.js';
import type { RowRecord } from '../src/campaign/row.js';
import type { Runtime } from '../src/runtime.js';
import { createDialGate, createLoadScreen } from '../src/gate/index.js';
import type { Simulator } from '../src/simulator/index.js';
import { campaignIn, cleanupPrefix, postsByNumber, REDIS_URL, runCli, startDialing, testPrefix, waitFor, withRuntime } from './helpers/dialer.js';
import { useSimulators } from './helpers/sim-http.js';

const prefix = testPrefix('safety-dial');
afterAll(() => cleanupPrefix(prefix));
const simulator = useSimulators();

const SUNDAY_NOON_SYDNEY = '2026-06-07T02:00:00Z';
const MONDAY_0900_SYDNEY = '2026-06-07T23:00:00.000Z';
const MONDAY_1000_SYDNEY = '2026-06-08T00:00:00Z';
/** Wed 10:30 in Sydney, 08:30 in Perth. */
const WED_0830_PERTH = '2026-06-03T00:30:00Z';

const fast = { assistant_id: 'A1', default_country: 'AU', rate: { calls: 100, per_seconds: 1 }, poll: { interval_seconds: 0.1, timeout_minutes: 1 } };
const dirOf = () => mkdtemp(path.join(os.tmpdir(), 'safety-dial-'));
const posts = (sim: Simulator) => sim.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/calls'));

async function rows(rt: Runtime, c: Campaign, n: number): Promise<RowRecord[]> {
  const rs = await rt.store.getRows(c.name, Array.from({ length: n }, (_, i) => i + 1));
  return rs.map((r) => r!);
}

describe('calling windows', () => {
  it('Sunday in Sydney: no call is placed; status (subprocess, same DIALER_NOW) shows the contacts waiting for Monday 09:00', async () => {
    const sim = await simulator({ callDurationMs: { min: 50, max: 100 } });
    const dir = await dirOf();
    const c = await campaignIn(dir, { ...fast, name: 'win-sunday', calling_hours: { preset: 'au-telemarketing' }, results: path.join(dir, 'r.csv') },
      'name,phone\nAnn,02 9876 5001\nBob,(02) 9876 5002\nCat,+61 2 9876 5003\n');
    await withRuntime(prefix, sim, async ({ rt }) => {
      const d = await startDialing(rt, c);
      try {
        await waitFor(async () => (await rows(rt, c, 3)).every((r) => r.status === 'waiting'), 'every row waiting for its window');
        await new Promise((r) => setTimeout(r, 300)); // a late POST would show by now
      } finally {
        await d.stop();
      }
      expect(posts(sim)).toHaveLength(0);
      for (const r of await rows(rt, c, 3)) {
        expect(r).toMatchObject({ timezone: 'Australia/Sydney', next_at: MONDAY_0900_SYDNEY });
        expect(r.outcome).toBeUndefined();
        expect(r.error).toMatch(/outside calling window \(au-telemarketing Sun no calls Australia\/Sydney\)/);
      }
    }, { now: SUNDAY_NOON_SYDNEY });

    const env = { DIALER_PREFIX: prefix, REDIS_URL, DIALER_NOW: SUNDAY_NOON_SYDNEY, LOG_LEVEL: 'error' };
    const st = await runCli(['status', c.name, '--json'], env);
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ pending: 3, finished: 0, waiting_for_window: 3, next_opening: MONDAY_0900_SYDNEY, waiting_for_time: 3 });

    const w = await runCli(['windows', c.name, '--json', '--sample', '2'], env);
    expect(w.code, w.stderr).toBe(0);
    const report = JSON.parse(w.stdout);
    expect(report).toMatchObject({ campaign: c.name, sampled: 2, open_now: 0 });
    expect(report.contacts[0]).toMatchObject({ number: '+612•••••001', timezone: 'Australia/Sydney', open: false, next_opening: MONDAY_0900_SYDNEY });
    expect(w.stdout).not.toContain('+61298765001');
    const at = await runCli(['windows', c.name, '--json', '--at', MONDAY_1000_SYDNEY], env);
    expect(JSON.parse(at.stdout)).toMatchObject({ sampled: 3, open_now: 3 });
  }, 120_000);

  it('Monday 10:00 in Sydney: the same kind of list is dialed', async () => {
    const sim = await simulator({ callDurationMs: { min: 50, max: 100 } });
    const dir = await dirOf();
    const c = await campaignIn(dir, { ...fast, name: 'win-monday', calling_hours: { preset: 'au-telemarketing' } }, 'name,phone\nAnn,02 9876 5101\nBob,02 9876 5102\n');
    await withRuntime(prefix, sim, async ({ rt }) => {
      const d = await startDialing(rt, c);
      try {
        await d.done();
      } finally {
        await d.stop();
      }
      expect(postsByNumber(sim)).toEqual(new Map([['+61298765101', 1], ['+61298765102', 1]]));
      expect((await rows(rt, c, 2)).map((r) => r.timezone)).toEqual(['Australia/Sydney', 'Australia/Sydney']);
      const audit: string[] = [];
      for await (const [, ev] of rt.store.privacy.auditEntries(c.name)) audit.push(`local_time ${ev.local_time}`);
      expect(audit.join('\n')).toContain('local_time 2026-06-08T10:00');
    }, { now: MONDAY_1000_SYDNEY });
  });

  it('an AU mobile (every state zone) waits while only some zones are open; a Sydney landline goes', async () => {
    const sim = await simulator({ callDurationMs: { min: 50, max: 100 } });
    const dir = await dirOf();
    const c = await campaignIn(dir, { ...fast, name: 'win-mobile', calling_hours: { preset: 'au-telemarketing' } }, 'name,phone\nAnn,02 9876 5201\nMo,0412 555 201\n');
    await withRuntime(prefix, sim, async ({ rt }) => {
      const d = await startDialing(rt, c);
      try {
        await waitFor(async () => (await rt.store.getRow(c.name, 1))?.outcome, 'the landline to finish');
        await waitFor(async () => (await rt.store.getRow(c.name, 2))?.status === 'waiting', 'the mobile to wait');
      } finally {
        await d.stop();
      }
      expect(postsByNumber(sim)).toEqual(new Map([['+61298765201', 1]]));
      const mo = (await rt.store.getRow(c.name, 2))!;
      expect(mo.timezone!.split('|')).toHaveLength(7);
      expect(mo).toMatchObject({ next_at: '2026-06-03T01:00:00.000Z', error: expect.stringContaining('Australia/Perth') });
    }, { now: WED_0830_PERTH });
  });
});

describe('suppression', () => {
  it('global set (CLI, at load and added after load) and campaign file: never sent, ends suppressed', async () => {
    const sim = await simulator({ callDurationMs: { min: 50, max: 100 } });
    const dir = await dirOf();
    const add = await runCli(['suppress', 'add', '(02) 9876 5301', '--country', 'AU'], { DIALER_PREFIX: prefix, REDIS_URL });
    expect(add.code, add.stderr).toBe(0);
    await writeFile(path.join(dir, 'dnc.csv'), 'Customer,Number\nBob,+61 2 9876 5302\n');
    const c = await campaignIn(dir, { ...fast, name: 'supp', suppression: 'dnc.csv', results: path.join(dir, 'r.csv') },
      'name,phone\nAnn,0298765301\nBob,02 9876 5302\nCat,02 9876 5303\nDan,02 9876 5304\n');
    await withRuntime(prefix, sim, async ({ rt }) => {
      // Load first; Cat joins the global list before any worker runs: only the gate can stop her.
      const sum = await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => rt.clock.now(), screen: createLoadScreen(rt) }, c);
      expect(sum).toMatchObject({ accepted: 2, screened: 2, jobs: 2 });
      const late = await runCli(['suppress', 'add', '+61298765303'], { DIALER_PREFIX: prefix, REDIS_URL });
      expect(late.code, late.stderr).toBe(0);
      const workers = new WorkerService(rt, { campaigns: [c.name], scanMs: 100, gate: createDialGate(rt) });
      const poller = new Poller({ store: rt.store, api: rt.api(), log: rt.log, queues: rt.queues, lockMs: rt.env.lockMs, tickMs: 50 });
      workers.start();
      poller.start();
      try {
        await waitFor(async () => (await rt.store.getCampaign(c.name))?.state === 'done', 'campaign done');
      } finally {
        await Promise.all([workers.close(), poller.close()]);
      }
      expect(postsByNumber(sim)).toEqual(new Map([['+61298765304', 1]]));
      const rs = await rows(rt, c, 4);
      expect(rs.map((r) => r.outcome)).toEqual(['suppressed', 'suppressed', 'suppressed', expect.any(String)]);
      expect(rs[0]!.error).toMatch(/global suppression/);
      expect(rs[1]!.error).toMatch(/campaign's suppression/);
      expect(rs[2]!.error).toMatch(/global suppression/);
      expect(rs[3]!.outcome).not.toBe('suppressed');
    });
    const list = await runCli(['suppress', 'list', '--json'], { DIALER_PREFIX: prefix, REDIS_URL });
    expect(JSON.parse(list.stdout)).toEqual({ count: 2, masked: true, numbers: ['+612•••••301', '+612•••••303'] });
    const rm = await runCli(['suppress', 'remove', '+61298765303', '--json'], { DIALER_PREFIX: prefix, REDIS_URL });
    expect(JSON.parse(rm.stdout)).toEqual({ removed: 1, not_listed: 0 });
  }, 120_000);
});

describe('frequency cap', () => {
  it('two campaigns with the same number and frequency_cap 1 running at once: exactly one POST to it', async () => {
    const sim = await simulator({ callDurationMs: { min: 50, max: 100 } });
    const shared = '+61298765401';
    const make = async (name: string, other: string) =>
      campaignIn(await dirOf(), { ...fast, name, frequency_cap: 1, concurrency: 5 }, `name,phone\nShared,02 9876 5401\nOther,${other}\n`);
    const [a, b] = await Promise.all([make('freq-a', '02 9876 5402'), make('freq-b', '02 9876 5403')]);
    await withRuntime(prefix, sim, async ({ rt }) => {
      const [da, db] = await Promise.all([startDialing(rt, a), startDialing(rt, b)]);
      try {
        await waitFor(async () => {
          const [ra, rb] = [(await rt.store.getRow(a.name, 1))!, (await rt.store.getRow(b.name, 1))!];
          return [ra, rb].some((r) => r.outcome) && [ra, rb].some((r) => r.status === 'waiting');
        }, 'one campaign to call the shared number and the other to wait');
        await waitFor(async () => (await rt.store.getRow(a.name, 2))?.outcome && (await rt.store.getRow(b.name, 2))?.outcome, 'the other numbers to finish');
      } finally {
        await Promise.all([da.stop(), db.stop()]);
      }
      const byNumber = postsByNumber(sim);
      expect(byNumber.get(shared)).toBe(1);
      expect(byNumber.get('+61298765402')).toBe(1);
      expect(byNumber.get('+61298765403')).toBe(1);
      const waiting = [(await rt.store.getRow(a.name, 1))!, (await rt.store.getRow(b.name, 1))!].find((r) => !r.outcome)!;
      expect(waiting.error).toMatch(/frequency cap: 1 call to this number in 24 h/);
      expect(Date.parse(waiting.next_at!) - Date.now()).toBeGreaterThan(23.9 * 3_600_000);
    });
  });

  it('a POST that surely placed no call gives its reservation back', async () => {
    const sim = await simulator({ assistants: ['A1'] });
    const c = await campaignIn(await dirOf(), { ...fast, name: 'freq-release', assistant_id: 'no-such-assistant', frequency_cap: 1 }, 'name,phone\nAnn,02 9876 5501\n');
    await withRuntime(prefix, sim, async ({ rt }) => {
      const d = await startDialing(rt, c);
      try {
        await d.done();
      } finally {
        await d.stop();
      }
      expect((await rt.store.getRow(c.name, 1))?.outcome).toBe('dead-letter');
      expect(posts(sim).length).toBeGreaterThan(0);
      expect(await rt.redis.zcard(rt.store.keys.frequency('+61298765501'))).toBe(0);
    });
  });
});

describe('zones at load', () => {
  it('results say which zones were used: column, number, fallback; unknown under calling hours is rejected', async () => {
    const dir = await dirOf();
    const csv = 'name,phone,tz\nAnn,0412 555 601,Australia/Perth\nBob,0412 555 602,Mars/Base\nCat,+1 800 555 0100,\n';
    const withFallback = await campaignIn(dir, { ...fast, name: 'tz-a', timezone_column: 'tz', fallback_timezone: 'America/Chicago', calling_hours: { preset: 'us-tcpa' } }, csv);
    const noFallback = await campaignIn(await dirOf(), { ...fast, name: 'tz-b', timezone_column: 'tz', calling_hours: { preset: 'us-tcpa' } }, csv);
    await withRuntime(prefix, undefined, async ({ rt }) => {
      const screen = createLoadScreen(rt);
      for (const c of [withFallback, noFallback]) await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => rt.clock.now(), screen }, c);
      const a = await rows(rt, withFallback, 3);
      expect(a.map((r) => r.timezone)).toEqual(['Australia/Perth', expect.stringMatching(/^Australia\/Adelaide\|.*\|Australia\/Sydney$/), 'America/Chicago (fallback)']);
      expect(a.map((r) => r.outcome)).toEqual([undefined, undefined, undefined]);
      const b = await rows(rt, noFallback, 3);
      expect(b[2]).toMatchObject({ timezone: 'unknown', outcome: 'rejected', error: expect.stringMatching(/time zone unknown/) });
      const csvOut = path.join(dir, 'out.csv');
      const exp = await runCli(['export', withFallback.name, '--out', csvOut], { DIALER_PREFIX: prefix, REDIS_URL });
      expect(exp.code, exp.stderr).toBe(0);
      expect(await readFile(csvOut, 'utf8')).toContain('America/Chicago (fallback)');
    });
  });
});
