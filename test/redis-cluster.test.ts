/**
 * Redis Cluster (REDIS_CLUSTER_NODES) with a `{tagged}` DIALER_PREFIX: a
 * private 3-master cluster, one campaign dialed by `dialer run` as a
 * subprocess and one dialed in-process, both against the simulator. Every
 * key — ours and BullMQ's — must carry the `{prefix}` hash tag (one slot, as
 * before the spread layout), so Lua scripts and BullMQ's multi-key scripts
 * never cross slots.
 */
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'bullmq';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/cli/local-redis.js';
import { CALL_OUTCOMES, loadCampaignFile } from '../src/config/campaign.js';
import { writeResults } from '../src/results/export.js';
import { checkRedisDurability } from '../src/runtime.js';
import { CLOSE_WAIT_MS, closeWorker } from '../src/store/close.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { keyNodes, scanKeys } from '../src/store/redis.js';
import { deletePrefix, openTestRuntime, postsByNumber, runCli, startDialing, testPrefix, writeCampaign } from './helpers/dialer.js';
import { startLocalCluster, type LocalCluster } from './helpers/redis-cluster.js';

// A `{tagged}` prefix keeps every key in one slot (the spread layout is test/redis-cluster-spread.test.ts).
const tag = `{${testPrefix('cluster')}}`;
const prefix = tag;
let cluster: LocalCluster;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-cluster-test-'));
  cluster = await startLocalCluster();
}, 60_000);
afterAll(async () => {
  // The cluster is private to this file: stopping it removes every key.
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
});

type Expect = { kind: 'call'; e164: string } | { kind: 'rejected' } | { kind: 'duplicate'; of: number; e164: string };

/** 30 contacts (`base` keeps two campaigns' numbers apart): every 10th invalid, rows 15 and 25 repeat earlier people. */
function contacts(base: number): { csv: string; expected: Expect[]; valid: string[] } {
  const lines = ['name,phone'];
  const expected: Expect[] = [];
  for (let row = 1; row <= 30; row++) {
    let phone: string;
    if (row % 10 === 0) {
      phone = ['12345', 'n/a', 'call me'][row / 10 - 1]!;
      expected.push({ kind: 'rejected' });
    } else if (row === 15 || row === 25) {
      const of = row - 12;
      const first = expected[of - 1] as Extract<Expect, { kind: 'call' }>;
      phone = first.e164; // the same person, written in E.164 this time
      expected.push({ kind: 'duplicate', of, e164: first.e164 });
    } else {
      const n = String(base + row).padStart(6, '0');
      phone = `0412 ${n.slice(0, 3)} ${n.slice(3)}`;
      expected.push({ kind: 'call', e164: `+61412${n}` });
    }
    lines.push(`Person ${row},${phone}`);
  }
  const valid = expected.filter((e): e is Extract<Expect, { kind: 'call' }> => e.kind === 'call').map((e) => e.e164);
  return { csv: lines.join('\n') + '\n', expected, valid };
}

const campaignYaml = (name: string, results: string) => ({
  name, assistant_id: 'CE_1', default_country: 'AU',
  rate: { calls: 100, per_seconds: 1 }, concurrency: 10,
  retry: { attempts: 3, backoff_ms: 100, max_backoff_ms: 1000 },
  poll: { interval_seconds: 0.2, timeout_minutes: 5 },
  results,
});

/** One results row per input row, outcomes as the simulator says, every valid number POSTed exactly once. */
function checkRun(rows: Record<string, string>[], expected: Expect[], valid: string[], sim: Simulator): void {
  expect(rows.map((r) => Number(r.row))).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  rows.forEach((r, i) => {
    const want = expected[i]!;
    expect(r.name).toBe(`Person ${i + 1}`);
    if (want.kind === 'call') {
      expect(r.phone).toBe(want.e164);
      expect(CALL_OUTCOMES, `row ${r.row}`).toContain(r.outcome);
      const call = sim.calls.get(r.call_id!);
      expect(call?.phoneNumber, `row ${r.row}`).toBe(want.e164);
      expect(r.outcome, `row ${r.row}`).toBe(call!.outcome);
    } else if (want.kind === 'duplicate') {
      expect(r).toMatchObject({ outcome: 'duplicate', error: `duplicate of row ${want.of}`, call_id: '' });
    } else {
      expect(r.outcome, `row ${r.row}`).toBe('rejected');
    }
  });
  const posts = postsByNumber(sim);
  expect([...posts.keys()].sort()).toEqual([...valid].sort());
  expect([...posts.entries()].filter(([, n]) => n !== 1)).toEqual([]);
}

/** Redis state of a campaign that did not finish, for the failure message. */
async function whereStuck(id: string, sim: Simulator): Promise<string> {
  const { rt } = await openTestRuntime(prefix, undefined, { redisClusterNodes: cluster.nodes });
  try {
    const rows = Object.values(await rt.redis.hgetall(rt.store.keys.rows(id))).map((v) => JSON.parse(v) as { outcome?: string });
    const ledger = Object.entries(await rt.redis.hgetall(rt.store.keys.ledger(id))).filter(([, v]) => (JSON.parse(v) as { s: string }).s !== 'placed');
    return JSON.stringify({
      campaign: await rt.redis.hgetall(rt.store.keys.campaign(id)),
      counts: await rt.store.counts(id),
      open: rows.filter((r) => !r.outcome).length,
      firstOpen: rows.filter((r) => !r.outcome).slice(0, 3),
      ledgerNotPlaced: ledger,
      polls: await rt.redis.zrange(rt.store.keys.polls, 0, -1, 'WITHSCORES'),
      now: Date.now(),
      jobs: await rt.queues.get(id).getJobCounts(),
      simulator: { posts: sim.requests.filter((r) => r.method === 'POST').length, gets: sim.requests.filter((r) => r.method === 'GET').length },
    }, null, 1);
  } catch (e) {
    return `(could not read the campaign's state: ${String(e)})`;
  } finally {
    await rt.close();
  }
}

const readCsv = async (file: string) => parseCsv<Record<string, string>>(await readFile(file, 'utf8'), { columns: true });

describe('Redis Cluster', () => {
  it('an unreachable cluster is reported with the setting to check', async () => {
    const spare = await freePort(); // nothing listens there
    await expect(openTestRuntime(prefix, undefined, { redisClusterNodes: [`127.0.0.1:${spare}`] }))
      .rejects.toThrow(new RegExp(`cannot reach Redis Cluster 127\\.0\\.0\\.1:${spare} .*check REDIS_CLUSTER_NODES`));
  }, 15_000);

  it('the durability check asks every master, not one at random', async () => {
    const { rt } = await openTestRuntime(prefix, undefined, { redisClusterNodes: cluster.nodes });
    try {
      expect(await checkRedisDurability(rt)).toEqual([]);
      const [, , last] = keyNodes(rt.redis);
      await last!.config('SET', 'maxmemory-policy', 'allkeys-lru');
      try {
        const warnings = await checkRedisDurability(rt);
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toContain(`Redis node 127.0.0.1:${last!.options.port} maxmemory-policy is "allkeys-lru"`);
      } finally {
        await last!.config('SET', 'maxmemory-policy', 'noeviction');
      }
    } finally {
      await rt.close();
    }
  });

  it('`dialer run` with REDIS_CLUSTER_NODES dials a campaign to the end', async () => {
    const sim = await startSimulator({ callDurationMs: { min: 100, max: 400 }, seed: 11 });
    try {
      const { csv, expected, valid } = contacts(100);
      const results = path.join(dir, 'cli-results.csv');
      const file = await writeCampaign(path.join(dir, 'cli'), campaignYaml('clusterrun', results), csv);
      const env = { CALLEASE_API_KEY: 'sim-key', CALLEASE_BASE_URL: sim.url, DIALER_PREFIX: prefix, REDIS_CLUSTER_NODES: cluster.nodes.join(','), REDIS_URL: 'redis://127.0.0.1:1' };
      // debug level: when the run fails, its stderr shows how far it got, each step of the shutdown included.
      const run = await runCli(['run', file], { ...env, LOG_LEVEL: 'debug' }, 60_000);
      expect(run.code, `${run.stderr.slice(-6000)}\n${await whereStuck('clusterrun', sim)}`).toBe(0);
      expect(run.stderr).not.toMatch(/"level":(50|60)|^error:|CROSSSLOT|MOVED/m);
      expect(run.stdout).toContain('finished campaign clusterrun: 30 rows, 30 final');
      checkRun(await readCsv(results), expected, valid, sim);

      const status = await runCli(['status', 'clusterrun', '--json'], env, 30_000);
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ campaign: 'clusterrun', state: 'done', total: 30, pending: 0, finished: 30 });
    } finally {
      await sim.close();
    }
  }, 90_000);

  it('a BullMQ worker closed while its blocking Cluster connection reconnects still closes', async () => {
    const { rt, logs } = await openTestRuntime(prefix, undefined, { redisClusterNodes: cluster.nodes });
    const w = new Worker('close-probe', async () => 'done', { connection: rt.redis, prefix: tag });
    try {
      await w.waitUntilReady();
      // The worker's fetch loop is in its BZPOPMIN.
      await new Promise((r) => setTimeout(r, 500));
      const b = (await w.backend.blockingClient) as unknown as Cluster;
      // As after a lost node or a failed slots refresh (a slow machine): the client has dropped its nodes and waits to reconnect.
      // Its next attempt a minute away, so the state holds however slow the machine (its own ~100 ms retry let a CI run reconnect first).
      b.options.clusterRetryStrategy = () => 60_000;
      const reconnecting = once(b, 'reconnecting');
      b.disconnect(true);
      await reconnecting;
      expect(b.nodes()).toHaveLength(0);
      // BullMQ's own close waits for an 'end' that ioredis never emits here (`dialer run` hung so at shutdown).
      // When this starts to fail, BullMQ or ioredis fixed it: closeWorker's rescue may go.
      const alone = await Promise.race([w.close().then(() => 'closed'), new Promise((r) => setTimeout(r, CLOSE_WAIT_MS + 1000, 'still closing'))]);
      expect(alone).toBe('still closing');
      const t0 = Date.now();
      await closeWorker(w, false, rt.log, 'probe', 30_000);
      expect(Date.now() - t0).toBeLessThan(CLOSE_WAIT_MS + 5000);
      expect(b.status).toBe('end');
      expect(logs.some((l) => l.msg?.includes('still waiting for its blocking Redis connection'))).toBe(true);
    } finally {
      await w.close(true).catch(() => undefined);
      await rt.close();
    }
  }, 40_000);

  it('dials in-process through a Cluster runtime, with the safety gate', async () => {
    const sim = await startSimulator({ callDurationMs: { min: 100, max: 400 }, seed: 12 });
    const { rt } = await openTestRuntime(prefix, sim, { redisClusterNodes: cluster.nodes });
    try {
      expect(rt.store.keys.prefix).toBe(tag);
      const { csv, expected, valid } = contacts(200);
      const results = path.join(dir, 'inproc-results.csv');
      const c = await loadCampaignFile(await writeCampaign(path.join(dir, 'inproc'), campaignYaml('clusterinproc', results), csv));
      const dialing = await startDialing(rt, c);
      try {
        expect(dialing.load).toMatchObject({ rows: 30, accepted: 25, rejected: 3, duplicates: 2 });
        await dialing.done(30_000);
      } finally {
        await dialing.stop();
      }
      await writeResults(rt.store, c.name, results, 'csv');
      checkRun(await readCsv(results), expected, valid, sim);
      expect(await rt.store.counts(c.name)).toMatchObject({ finished: 30, rejected: 3, duplicate: 2 });
    } finally {
      await rt.close();
      await sim.close();
    }
  }, 60_000);

  it('every key in the cluster carries the {prefix} hash tag: one slot, one master', async () => {
    const { rt } = await openTestRuntime(prefix, undefined, { redisClusterNodes: cluster.nodes });
    try {
      const all: string[] = [];
      for await (const batch of scanKeys(rt.redis, '*')) all.push(...batch);
      // Ours and BullMQ's, for both campaigns.
      for (const id of ['clusterrun', 'clusterinproc']) {
        expect(all).toContain(`${tag}:c:${id}`);
        expect(all).toContain(`${tag}:c:${id}:rows`);
        expect(all).toContain(`${tag}:c:${id}:ledger`);
        expect(all).toContain(`${tag}:dial-${id}:meta`);
      }
      expect(all.filter((k) => !k.startsWith(`${tag}:`))).toEqual([]);
      const slot = (k: string) => rt.redis.call('CLUSTER', 'KEYSLOT', k) as Promise<number>;
      const slots = new Set(await Promise.all(all.map(slot)));
      expect([...slots]).toEqual([await slot(prefix)]);
      // The keys really are in a 3-master cluster, and all on one of its masters.
      const masters = keyNodes(rt.redis);
      expect(masters).toHaveLength(3);
      const sizes = await Promise.all(masters.map((m) => m.dbsize()));
      expect(sizes.filter((n) => n > 0)).toEqual([all.length]);

      // The test helper's cleanup works across the masters too. Keys with a
      // TTL (rate windows, leases) may expire between the scan and the delete.
      const ttls = await Promise.all(all.map((k) => rt.redis.pttl(k)));
      const lasting = ttls.filter((t) => t === -1).length;
      const deleted = await deletePrefix(rt.redis, rt.store.keys.prefix);
      expect(deleted).toBeGreaterThanOrEqual(lasting);
      expect(deleted).toBeLessThanOrEqual(all.length);
      expect(await Promise.all(masters.map((m) => m.dbsize()))).toEqual([0, 0, 0]);

      // scanKeys visits every master: 30 untagged keys spread over the slots are all found.
      const probes = Array.from({ length: 30 }, (_, i) => `probe-${i}`);
      await Promise.all(probes.map((k) => rt.redis.set(k, '1')));
      expect((await Promise.all(masters.map((m) => m.dbsize()))).every((n) => n > 0)).toBe(true);
      const found: string[] = [];
      for await (const batch of scanKeys(rt.redis, 'probe-*', 5)) found.push(...batch);
      expect(found.sort()).toEqual([...probes].sort());
      await Promise.all(probes.map((k) => rt.redis.del(k)));
    } finally {
      await rt.close();
    }
  }, 30_000);
});
