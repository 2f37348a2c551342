/**
 * Redis Cluster, spread layout (a DIALER_PREFIX without braces): each
 * campaign's keys carry the campaign as their hash tag and the account-wide
 * keys the prefix, so campaigns land on different masters of a private
 * 3-master cluster. Several campaigns are dialed by worker processes and a
 * poller process against a faulty simulator, one worker is killed with
 * SIGKILL mid-run; then the chaos checks (test/chaos/verify.ts) must hold for
 * every campaign, no cap may have been exceeded at the simulator, and every
 * key must sit in its campaign's slot or the account's.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCampaignFile, type Campaign } from '../src/config/campaign.js';
import { Dialer } from '../src/dialer.js';
import { writeResults } from '../src/results/export.js';
import type { Runtime } from '../src/runtime.js';
import { startSimulator, type RequestLogEntry, type Simulator } from '../src/simulator/index.js';
import { keyNodes, scanKeys } from '../src/store/redis.js';
import { mobile, type InputRow } from './chaos/contacts.js';
import { alive, kill9, spawnCli, stop, type Proc } from './chaos/procs.js';
import { verify } from './chaos/verify.js';
import { openTestRuntime, testPrefix, waitFor, writeCampaign } from './helpers/dialer.js';
import { indexDrift } from './helpers/index-drift.js';
import { startLocalCluster, type LocalCluster } from './helpers/redis-cluster.js';
import { mostLive } from './histories/invariants.js';

const base = testPrefix('spread');
/** Fixed names: their slots are fixed too, and fall on all three masters of a fresh cluster. */
const NAMES = ['spread-a', 'spread-b', 'spread-c', 'spread-d', 'spread-e'];
const ROWS = 30;
const ACCOUNT_RATE = 15;
const ACCOUNT_LIVE = 6;
const CAMPAIGN_RATE = 6;
const CAMPAIGN_LIVE = 3;

let cluster: LocalCluster;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-spread-test-'));
  cluster = await startLocalCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** `ROWS` contacts of campaign `k` (numbers apart from the other campaigns'): every 10th invalid, rows 15 and 25 repeat rows 3 and 13. */
function contacts(k: number): { csv: string; rows: InputRow[] } {
  const rows: InputRow[] = [];
  for (let row = 1; row <= ROWS; row++) {
    const name = `Person ${row}`;
    if (row % 10 === 0) rows.push({ row, name, phone: '12345', expect: 'rejected' });
    else if (row === 15 || row === 25) rows.push({ row, name, phone: rows[row - 13]!.phone, expect: 'duplicate', ownerRow: row - 12 });
    else rows.push({ row, name, phone: mobile(k * 1000 + row), expect: 'accepted' });
  }
  return { csv: ['name,phone', ...rows.map((r) => `${r.name},${r.phone}`)].join('\n') + '\n', rows };
}

const isPost = (e: RequestLogEntry) => e.method === 'POST' && e.path.split('?')[0] === '/calls';
const phoneOf = (e: RequestLogEntry) => ((e.body ?? {}) as { phoneNumber?: string }).phoneNumber ?? '';

/** Most POSTs inside any window of `ms` (by the simulator's clock). */
function mostInWindow(times: number[], ms: number): number {
  const t = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i]! - t[j]! >= ms) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('Redis Cluster, one hash tag per campaign', () => {
  it('campaigns land on several masters; the chaos checks and every cap hold with a worker killed mid-run', async () => {
    const sim: Simulator = await startSimulator({
      callDurationMs: { min: 200, max: 700 }, seed: 21,
      faults: { error5xxRate: 0.05, error5xxAfterCreateRate: 0.03, dropAfterCreateRate: 0.03, hangRate: 0.02 },
    });
    const { rt } = await openTestRuntime(base, sim, { redisClusterNodes: cluster.nodes });
    const procs: Proc[] = [];
    try {
      expect(rt.store.keys.spread).toBe(true);
      const campaigns: { c: Campaign; rows: InputRow[] }[] = [];
      const loader = new Dialer(rt);
      for (const [k, name] of NAMES.entries()) {
        const { csv, rows } = contacts(k + 1);
        const yaml = {
          name, assistant_id: 'CE_1', default_country: 'AU',
          rate: { calls: CAMPAIGN_RATE, per_seconds: 1 }, concurrency: 4, max_live_calls: CAMPAIGN_LIVE,
          retry: { attempts: 4, backoff_ms: 200, max_backoff_ms: 1000 },
          poll: { interval_seconds: 0.3, first_look_seconds: 0.3, timeout_minutes: 5 },
          results: path.join(dir, `${name}.csv`),
        };
        const c = await loadCampaignFile(await writeCampaign(path.join(dir, name), yaml, csv));
        expect(await loader.load(c)).toMatchObject({ rows: ROWS, accepted: 25, rejected: 3, duplicates: 2 });
        campaigns.push({ c, rows });
      }

      // The campaigns' keys sit on more than one master (a master that does not serve the slot answers MOVED).
      const masters = keyNodes(rt.redis);
      expect(masters).toHaveLength(3);
      const holders = await Promise.all(NAMES.map(async (id) => (await Promise.all(masters.map((m) => m.exists(rt.store.keys.rows(id)).catch(() => 0)))).indexOf(1)));
      expect(holders.every((h) => h >= 0)).toBe(true);
      expect(new Set(holders).size).toBeGreaterThanOrEqual(2);

      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR,
        DIALER_PREFIX: base, REDIS_CLUSTER_NODES: cluster.nodes.join(','), REDIS_URL: 'redis://127.0.0.1:1',
        CALLEASE_API_KEY: 'sim-key', CALLEASE_BASE_URL: sim.url, LOG_LEVEL: 'info',
        CALLEASE_MAX_CALLS_PER_SECOND: String(ACCOUNT_RATE), CALLEASE_MAX_LIVE_CALLS: String(ACCOUNT_LIVE),
        DIALER_HTTP_TIMEOUT_MS: '1500', DIALER_LOCK_MS: '4000', DIALER_REAP_EVERY_MS: '1000',
      };
      const start = (i: number, role: 'worker' | 'poller') => (procs[i] = spawnCli(`${role}${i}`, [role], env, path.join(dir, `${role}${i}.log`)));
      start(0, 'worker');
      start(1, 'worker');
      start(2, 'poller');

      // A third of the way in, one worker dies mid-dial and a fresh one takes its place.
      const valid = campaigns.reduce((n, { rows }) => n + rows.filter((r) => r.expect === 'accepted').length, 0);
      await waitFor(() => sim.requests.filter(isPost).length >= valid / 3, 'a third of the POSTs', 90_000, 20);
      await kill9(procs[0]!);
      start(3, 'worker');

      const states = async () => Promise.all(NAMES.map(async (id) => (await rt.store.getCampaign(id))?.state));
      try {
        await waitFor(async () => (await states()).every((s) => s === 'done'), 'every campaign to be done', 150_000, 250);
      } catch (e) {
        const logs = await Promise.all(procs.map(async (p) => `${p.name}: ${(await readFile(path.join(dir, `${p.name}.log`), 'utf8').catch(() => '')).slice(-1500)}`));
        throw new Error(`${(e as Error).message}: ${JSON.stringify(await states())}\n${logs.join('\n')}`);
      }
      for (const p of procs) expect(p.name === 'worker0' || alive(p), `${p.name} died by itself`).toBe(true);
      await Promise.all(procs.map((p) => stop(p)));

      // The chaos verdict, per campaign, from the simulator's records and the results file.
      const posts = sim.requests.filter(isPost);
      const calls = [...sim.calls.values()];
      for (const { c, rows } of campaigns) {
        const numbers = new Set(rows.filter((r) => r.expect === 'accepted').map((r) => r.phone));
        const file = path.join(dir, `${c.name}.csv`);
        await writeResults(rt.store, c.name, file, 'csv');
        const results = parseCsv<Record<string, string>>(await readFile(file, 'utf8'), { columns: true });
        const verdict = verify({
          rows, results, kills: { workers: 1, poller: 0, redis: 0 }, wallSeconds: 0,
          log: sim.requests.filter((e) => !isPost(e) || numbers.has(phoneOf(e))),
          simCalls: calls.filter((x) => numbers.has(x.phoneNumber)).map((x) => ({ id: x.id, phone: x.phoneNumber, status: x.outcome })),
        });
        expect(verdict.failures, c.name).toEqual([]);
        expect(await indexDrift(rt.redis as unknown as Redis, rt.store.keys, c.name), c.name).toEqual([]);
        // The campaign's caps, at the simulator.
        const mine = calls.filter((x) => numbers.has(x.phoneNumber)).map((x) => ({ createdAt: x.createdAt, endsAt: x.createdAt + x.plannedMs }));
        expect(mostLive(mine).max, `${c.name} live calls`).toBeLessThanOrEqual(CAMPAIGN_LIVE);
        expect(mostInWindow(posts.filter((p) => numbers.has(phoneOf(p))).map((p) => p.t), 1000), `${c.name} POSTs in a second`).toBeLessThanOrEqual(CAMPAIGN_RATE);
      }
      // The account's caps, over every campaign.
      expect(mostLive(calls.map((x) => ({ createdAt: x.createdAt, endsAt: x.createdAt + x.plannedMs }))).max).toBeLessThanOrEqual(ACCOUNT_LIVE);
      expect(mostInWindow(posts.map((p) => p.t), 1000)).toBeLessThanOrEqual(ACCOUNT_RATE);
      // The faults did happen.
      expect(posts.filter((p) => p.fault).length).toBeGreaterThan(0);

      await checkSlots(rt);
    } finally {
      await Promise.all(procs.map((p) => stop(p, 2000)));
      await rt.close();
      await sim.close();
    }
  }, 240_000);
});

/** Every key (ours and BullMQ's) is in its campaign's slot or in the account's. */
async function checkSlots(rt: Runtime): Promise<void> {
  const slot = (k: string) => rt.redis.call('CLUSTER', 'KEYSLOT', k) as Promise<number>;
  const all: string[] = [];
  for await (const batch of scanKeys(rt.redis, '*')) all.push(...batch);
  const accountSlot = await slot(base);
  const account = all.filter((k) => k.startsWith(`{${base}}:`));
  expect(account).toContain(`{${base}}:campaigns`);
  for (const k of account) expect(await slot(k), k).toBe(accountSlot);
  for (const id of NAMES) {
    const own = all.filter((k) => k.startsWith(`${base}:c:{${id}}`) || k.startsWith(`${base}:dial-{${id}}:`));
    expect(own).toContain(`${base}:c:{${id}}:rows`);
    expect(own).toContain(`${base}:c:{${id}}:ledger`);
    expect(own).toContain(`${base}:dial-{${id}}:meta`);
    const want = await slot(id);
    for (const k of own) expect(await slot(k), k).toBe(want);
  }
  const known = (k: string) => k.startsWith(`{${base}}:`) || NAMES.some((id) => k.startsWith(`${base}:c:{${id}}`) || k.startsWith(`${base}:dial-{${id}}:`));
  expect(all.filter((k) => !known(k))).toEqual([]);
}
