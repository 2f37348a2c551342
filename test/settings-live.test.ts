import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeSettings } from '../src/campaign/settings.js';
import { parseAssignment } from '../src/config/settings-patch.js';
import { Dialer } from '../src/dialer.js';
import type { RequestLogEntry } from '../src/simulator/index.js';
import { campaignIn, cleanupPrefix, REDIS_URL, runCli, testPrefix, waitFor, withRuntime } from './helpers/dialer.js';
import { processes } from './helpers/processes.js';
import { numbers } from './helpers/sim-http.js';

/**
 * `dialer set` of the rate against running `dialer worker` processes: the
 * rate the simulator sees changes within 2 s, with no restart. Times are the
 * simulator's own (a process of its own, request log on disk); the moment of
 * the change is its audit event's stream id (Redis time, same machine). The
 * test follows the change in Redis, not the CLI's exit, so a slow start of
 * the CLI on a busy machine only makes the first phase longer.
 */

const prefix = testPrefix('set-live');
const procs = processes();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-set-live-'));
});
afterAll(async () => {
  await procs.stopAll();
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

const CONTACTS = 1500;
const csvOf = (phones: string[]) => ['name,phone', ...phones.map((p, i) => `P${i + 1},${p}`)].join('\n') + '\n';
const count = (times: number[], from: number, to: number) => times.filter((t) => t >= from && t < to).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('dialer set on a running campaign', () => {
  it('rate.calls 20/s → 2/s reaches three running worker processes within 2 s (and 2/s → 20/s too)', async () => {
    const logPath = path.join(dir, 'requests.jsonl');
    const sim = await procs.simulator(['--duration-ms', '100-400', '--log', logPath]);
    const env = { REDIS_URL, DIALER_PREFIX: prefix, CALLEASE_API_KEY: 'sim-key', CALLEASE_BASE_URL: sim.url, LOG_LEVEL: 'warn' };
    const c = await campaignIn(path.join(dir, 'live'), {
      name: 'set-live', assistant_id: 'CE_SET', default_country: 'AU', rate: { calls: 20, per_seconds: 1 }, concurrency: 10,
      poll: { interval_seconds: 0.2, timeout_minutes: 1 }, results: path.join(dir, 'set-live.csv'),
    }, csvOf(numbers(CONTACTS, 61417100000)));

    const { t1, t2, cli, events } = await withRuntime(prefix, undefined, async ({ rt }) => {
      for (let i = 0; i < 3; i++) procs.start(['worker'], env);
      procs.start(['poller'], env);
      await waitFor(async () => (await rt.redis.hlen(rt.store.keys.workers)) >= 3, 'three workers to start', 150_000, 100);
      const dialer = new Dialer(rt);
      await dialer.load(c);
      const v0 = (await rt.store.getCampaign(c.name))!.version;
      await waitFor(async () => (await rt.store.limits.dialsLastMinute(c.name, Date.now())) >= 45, '45 dials at 20/s', 60_000, 50);
      const cli = runCli(['set', c.name, 'rate.calls=2'], env, 120_000);
      await waitFor(async () => (await rt.store.settings.version(c.name)) > v0, 'the CLI to change the rate', 120_000, 20);
      const t1 = Date.now();
      await sleep(6500);
      // And back up, in process (the moment is known exactly here): 20/s again within the same allowance.
      const t2 = Date.now();
      await changeSettings(rt, c.name, [parseAssignment('rate.calls=20')], 'cli');
      await sleep(4000);
      await dialer.cancel(c.name);
      await waitFor(async () => (await rt.store.getCampaign(c.name))?.state === 'canceled', 'the campaign to end canceled', 60_000, 100);
      expect((await rt.store.counts(c.name)).finished).toBe(CONTACTS);
      const events: { at: number; ev: Record<string, string> }[] = [];
      for await (const [eid, ev] of rt.store.privacy.auditEntries(c.name)) if (ev.type === 'settings') events.push({ at: Number(eid.split('-')[0]), ev });
      return { t1, t2, cli: await cli, events };
    }, { baseUrl: sim.url });
    await procs.stopAll(); // the simulator flushes its log as it stops

    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('rate.calls: 20 → 2');
    // The audit stream holds both changes, with their time, keys and values.
    expect(events).toHaveLength(2);
    expect(events[0]!.ev).toMatchObject({ type: 'settings', by: 'cli', keys: 'rate.calls', version: String(2) });
    expect(JSON.parse(events[0]!.ev.changes!)).toEqual([{ key: 'rate.calls', old: 20, new: 2 }]);
    expect(Math.abs(Date.parse(events[0]!.ev.at!) - events[0]!.at)).toBeLessThan(1000);
    // The change's own time (Redis), not when the test saw it.
    const changed = events[0]!.at;
    expect(changed).toBeLessThanOrEqual(t1);
    const back = events[1]!.at;
    expect(back).toBeGreaterThanOrEqual(t2);

    const log = (await readFile(logPath, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as RequestLogEntry);
    const posts = log.filter((r) => r.method === 'POST' && r.path.startsWith('/calls'));
    const times = posts.map((r) => r.t).sort((a, b) => a - b);
    // Nobody twice.
    expect(new Set(posts.map((r) => (r.body as { phoneNumber: string }).phoneNumber)).size).toBe(posts.length);

    // Before: the first rate (20/s; at least 12 in the second before the change, allowing for load).
    const before = count(times, changed - 1000, changed);
    // Obeyed from the last POST that still had 4 or more in the second up to it (2/s allows 2, at most 3).
    const late = times.filter((t) => t >= changed && t < back && count(times, t - 999, t + 1) >= 4);
    const obeyMs = late.length ? late.at(-1)! - changed : 0;
    // After the 2 s allowed: the new rate, 2/s (spaced 510 ms apart).
    const slowFrom = changed + 2000;
    const slowCount = count(times, slowFrom, back);
    const slowRate = slowCount / ((back - slowFrom) / 1000);
    let busiest = 0;
    // Seconds inside the slow stretch only: one running past `back` would count POSTs already at 20/s again.
    for (const t of times.filter((x) => x >= slowFrom && x + 1000 <= back)) busiest = Math.max(busiest, count(times, t, t + 1000));
    // Back at 20/s within the same 2 s: the second from 2 s to 3 s after that change. (The second
    // from 1 s to 2 s once held 9 in a CI rehearsal on a loaded machine: stricter than the claim.)
    const fast = count(times, back + 2000, back + 3000);
    process.stdout.write(`[settings-live] 20/s→2/s: ${before} POSTs in the second before; obeyed ${obeyMs} ms after the change; ` +
      `then ${slowCount} POSTs in ${((back - slowFrom) / 1000).toFixed(1)} s (${slowRate.toFixed(2)}/s, busiest second ${busiest}); ` +
      `2/s→20/s: ${fast} POSTs in the second 2-3 s after\n`);
    expect(before).toBeGreaterThanOrEqual(12);
    expect(obeyMs).toBeLessThanOrEqual(2000);
    expect(slowRate).toBeGreaterThan(1.2);
    expect(slowRate).toBeLessThan(2.4);
    expect(busiest).toBeLessThanOrEqual(3);
    expect(fast).toBeGreaterThanOrEqual(10);
  }, 420_000);

  it('a refused change exits non-zero naming every key, and changes nothing', async () => {
    const env = { REDIS_URL, DIALER_PREFIX: prefix, LOG_LEVEL: 'warn' };
    const c = await campaignIn(path.join(dir, 'refused'), { name: 'set-refused', assistant_id: 'CE_R', default_country: 'AU' }, csvOf(numbers(2, 61417900000)));
    await withRuntime(prefix, undefined, async ({ rt }) => {
      await rt.store.saveCampaign(c, 'paused');
      const before = (await rt.store.getCampaign(c.name))!;
      const r = await runCli(['set', c.name, 'rate.calls=0', 'name=other', 'rate.burst=1', 'calling_hours.end=7pm'], env, 120_000);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      for (const key of ['rate.calls: ', 'name: cannot change on a loaded campaign', 'rate.burst: unknown key', 'calling_hours.end: must be "HH:MM"']) expect(r.stderr).toContain(key);
      const after = (await rt.store.getCampaign(c.name))!;
      expect(after.version).toBe(before.version);
      expect(after.campaign).toEqual(before.campaign);
      const missing = await runCli(['set', 'no-such-campaign', 'rate.calls=2'], env, 120_000);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('no campaign named "no-such-campaign"');
    });
  }, 300_000);
});
