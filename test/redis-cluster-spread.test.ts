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
import { readEventsEnv } from '../src/config/events.js';
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
import { Receiver } from './helpers/receiver.js';
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
  it('refuses to start over campaigns of the earlier one-slot layout, and says how to keep them', async () => {
    const prefix = `${base}-old`;
    // As a deployment of an earlier version left them: every key under {prefix}, the campaign list included.
    const { rt: old } = await openTestRuntime(`{${prefix}}`, undefined, { redisClusterNodes: cluster.nodes });
    try {
      expect(old.store.keys.spread).toBe(false);
      await old.redis.sadd(old.store.keys.campaigns, 'legacy');
      await old.redis.hset(old.store.keys.campaign('legacy'), 'state', 'running');
      await expect(openTestRuntime(prefix, undefined, { redisClusterNodes: cluster.nodes })).rejects.toThrow(`set DIALER_PREFIX={${prefix}} to keep using them`);
      // With the braces it opens in the old layout and finds the campaign.
      const { rt: kept } = await openTestRuntime(`{${prefix}}`, undefined, { redisClusterNodes: cluster.nodes });
      try {
        expect(await kept.store.listCampaigns()).toContain('legacy');
        expect(await kept.redis.hget(kept.store.keys.campaign('legacy'), 'state')).toBe('running');
      } finally {
        await kept.close();
      }
      // Once the old campaign is gone, the spread layout starts.
      await old.redis.del(old.store.keys.campaign('legacy'));
      const { rt: spread } = await openTestRuntime(prefix, undefined, { redisClusterNodes: cluster.nodes });
      expect(spread.store.keys.spread).toBe(true);
      await spread.close();
    } finally {
      await old.redis.srem(old.store.keys.campaigns, 'legacy');
      await old.close();
    }
  }, 60_000);

  it('events, schedules, erasure checks, the archive and deletes work with the campaign and account keys in different slots', async () => {
    const prefix = testPrefix('spread-ev');
    const secret = 'whsec-test-0123456789abcdef';
    const receiver = new Receiver(secret);
    await receiver.start();
    const sim = await startSimulator({ callDurationMs: { min: 100, max: 300 }, seed: 22 });
    const events = { ...readEventsEnv({}), secret, backoffMs: 50, maxBackoffMs: 400, attempts: 20, timeoutMs: 2000, relayMs: 50 };
    const { rt } = await openTestRuntime(prefix, sim, { redisClusterNodes: cluster.nodes, events });
    rt.env.events.url = receiver.url;
    const dialer = new Dialer(rt, { workerScanMs: 100, pollerTickMs: 50 });
    try {
      const id = 'spread-events';
      const phones = Array.from({ length: 8 }, (_, i) => mobile(900 + i));
      const c = await loadCampaignFile(await writeCampaign(path.join(dir, id), {
        name: id, assistant_id: 'CE_1', default_country: 'AU', rate: { calls: 50, per_seconds: 1 }, concurrency: 4,
        poll: { interval_seconds: 0.2, timeout_minutes: 5 }, results: path.join(dir, `${id}.csv`), events: { fields: ['name'] },
      }, ['name,phone', ...phones.map((p, i) => `Person ${i + 1},${p}`)].join('\n') + '\n'));
      await dialer.load(c);
      dialer.startEvents();
      dialer.startWorkers({ campaigns: [id], bare: true });
      dialer.startPoller({ bare: true });
      await waitFor(async () => (await rt.store.getCampaign(id))?.state === 'done', 'the campaign to finish', 40_000, 100);
      // The campaign's own outbox (its slot), relayed into the account's delivery queue (the account's slot).
      const want = [...phones.map((_, i) => `evt_${id}_${i + 1}_finished`), `evt_${id}_started_1`, `evt_${id}_finished_1`];
      await waitFor(() => want.every((e) => receiver.delivered().has(e)), 'every event to arrive', 30_000, 100);
      expect(await rt.store.events.backlog()).toMatchObject({ outbox: 0 });

      // The archive keeps to the campaign's slot: packed, read the same, unpacked by a write (a re-load adds nothing).
      const nums = phones.map((_, i) => i + 1);
      const rowsBefore = await rt.store.getRows(id, nums);
      expect(await rt.store.archive.archive(id)).toMatchObject({ result: 'archived', rows: phones.length });
      expect(await rt.store.getRows(id, nums)).toEqual(rowsBefore);
      const packed = await rt.store.archive.keysOf(id);
      expect(packed.length).toBeGreaterThanOrEqual(4);
      for (const k of packed) expect(await rt.redis.call('CLUSTER', 'KEYSLOT', k), k).toBe(await rt.redis.call('CLUSTER', 'KEYSLOT', id));
      expect((await dialer.load(c)).jobs).toBe(0);
      expect(await rt.store.archive.isArchived(id)).toBe(false);
      expect(await rt.store.getRows(id, nums)).toEqual(rowsBefore);

      // One run of a schedule at a time: the previous run's state is read from its own slot.
      expect(await rt.store.claimScheduleRun('nightly', 'nightly-1')).toEqual({ claimed: true });
      await rt.store.setCampaignField('nightly-1', 'state', 'running');
      expect(await rt.store.claimScheduleRun('nightly', 'nightly-2')).toEqual({ claimed: false, open: 'nightly-1' });
      await rt.store.setCampaignField('nightly-1', 'state', 'done');
      expect(await rt.store.claimScheduleRun('nightly', 'nightly-2')).toEqual({ claimed: true });
      await rt.store.deleteCampaign('nightly-1');

      // `forget`'s last check finds a number wherever it is, over both kinds of keys.
      const found = await rt.store.privacy.findText([phones[0]!.slice(1)]);
      expect(found.map((f) => f.key)).toContain(rt.store.keys.rows(id));

      // A campaign removed goes from the account's list and from its own slot.
      await rt.store.saveCampaign({ ...c, name: 'spread-gone' }, 'running');
      expect(await rt.store.listCampaigns()).toContain('spread-gone');
      await rt.store.deleteCampaign('spread-gone');
      expect(await rt.store.listCampaigns()).not.toContain('spread-gone');
      expect(await rt.redis.exists(rt.store.keys.campaign('spread-gone'))).toBe(0);
      await dialer.close();
      await checkSlots(rt, prefix, [id]);
    } finally {
      await dialer.close();
      await rt.close();
      await sim.close();
      await receiver.stop();
    }
  }, 120_000);

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

/** Every key of deployment `prefix` (ours and BullMQ's) is in the slot of one of `ids` or in the account's. */
async function checkSlots(rt: Runtime, prefix = base, ids = NAMES): Promise<void> {
  const slot = (k: string) => rt.redis.call('CLUSTER', 'KEYSLOT', k) as Promise<number>;
  const all: string[] = [];
  for await (const batch of scanKeys(rt.redis, '*')) all.push(...batch.filter((k) => k.startsWith(`{${prefix}}:`) || k.startsWith(`${prefix}:`)));
  const accountSlot = await slot(prefix);
  const account = all.filter((k) => k.startsWith(`{${prefix}}:`));
  expect(account).toContain(`{${prefix}}:campaigns`);
  for (const k of account) expect(await slot(k), k).toBe(accountSlot);
  const mine = (id: string, k: string) => k.startsWith(`${prefix}:c:{${id}}`) || k.startsWith(`${prefix}:dial-{${id}}:`);
  for (const id of ids) {
    const own = all.filter((k) => mine(id, k));
    expect(own).toContain(`${prefix}:c:{${id}}:rows`);
    expect(own).toContain(`${prefix}:c:{${id}}:ledger`);
    expect(own).toContain(`${prefix}:dial-{${id}}:meta`);
    const want = await slot(id);
    for (const k of own) expect(await slot(k), k).toBe(want);
  }
  expect(all.filter((k) => !k.startsWith(`{${prefix}}:`) && !ids.some((id) => mine(id, k)))).toEqual([]);
}
