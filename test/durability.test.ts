/**
 * The dial ledger's `sending` confirmed before the POST: the pure decision as
 * a table, then the real thing on the shared Redis (nothing to confirm with),
 * a private master with a replica (WAIT), and `required` refusing to dial.
 * WAITAOF needs Redis >= 7.2 and can't run here (7.0): it is decided by
 * version + AOF and covered by the table only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalRedis, startLocalReplica, type LocalRedis } from '../src/cli/local-redis.js';
import { readEnv } from '../src/config/env.js';
import { checkRedisDurability } from '../src/runtime.js';
import { decideDurability, Durability, type ServerFacts } from '../src/store/durability.js';
import { Store } from '../src/store/store.js';
import { campaignIn, cleanupPrefix, openTestRuntime, REDIS_URL, startDialing, testPrefix, waitFor } from './helpers/dialer.js';
import { numbers, useSimulators } from './helpers/sim-http.js';

const prefix = testPrefix('durability');
const simulator = useSimulators();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-durability-'));
});
afterAll(async () => {
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

describe('decideDurability', () => {
  const base: ServerFacts = { version: '7.0.15', aof: true, appendfsync: 'everysec', replicas: 0, cluster: false };
  const cases: [string, Partial<ServerFacts>, 'auto' | 'off' | 'required', string, RegExp][] = [
    ['7.0, AOF everysec, no replica', {}, 'auto', 'none', /^Redis 7\.0\.15 without replicas: a write acknowledged may be lost within appendfsync everysec's 1 s \(WAITAOF needs Redis >= 7\.2\)$/],
    ['7.0 with a replica', { replicas: 1 }, 'auto', 'wait', /1 connected replica/],
    ['7.0 without AOF, with replicas', { aof: false, replicas: 2 }, 'auto', 'wait', /2 connected replica/],
    ['7.0 without AOF or replicas', { aof: false }, 'auto', 'none', /without AOF and without replicas: a crash loses every write since the last snapshot/],
    ['7.2 with AOF', { version: '7.2.4' }, 'auto', 'waitaof', /WAITAOF/],
    ['7.2 with AOF and replicas: the local fsync is preferred', { version: '8.0.1', replicas: 1 }, 'auto', 'waitaof', /WAITAOF/],
    ['7.2 without AOF: WAITAOF would refuse', { version: '7.2.4', aof: false }, 'auto', 'none', /without AOF/],
    ['appendfsync always: nothing to wait for', { appendfsync: 'always' }, 'required', 'always', /already fsynced/],
    ['appendfsync no', { appendfsync: 'no' }, 'auto', 'none', /appendfsync no: the OS decides/],
    ['appendfsync unreadable (CONFIG refused)', { appendfsync: undefined }, 'auto', 'none', /everysec's 1 s/],
    ['Cluster', { cluster: true, replicas: 1 }, 'auto', 'none', /Redis Cluster/],
    ['off', { replicas: 3 }, 'off', 'none', /DIALER_DURABLE_DIALS=off/],
  ];
  it.each(cases)('%s', (_name, facts, setting, mode, reason) => {
    const d = decideDurability({ ...base, ...facts }, setting);
    expect(d.mode).toBe(mode);
    expect(d.reason).toMatch(reason);
  });
});

describe('on the shared Redis (7.0, no replicas)', () => {
  it('finds nothing to confirm with and says why; auto dials on, required refuses', async () => {
    const redis = new Redis(REDIS_URL);
    try {
      const version = /^redis_version:(.*)$/m.exec(await redis.info('server'))![1]!.trim();
      const auto = new Durability(redis, 'auto');
      const d = await auto.detect();
      expect(d.mode).toBe('none');
      expect(d.reason).toContain(`Redis ${version} without`);
      expect(d.reason).toMatch(/without replicas/);
      expect(auto.mode).toBe('none');
      expect(await auto.confirm()).toBe(true);
      expect(await new Durability(redis, 'required').confirm()).toBe(false);
      expect(await new Durability(redis, 'off').confirm()).toBe(true);
    } finally {
      await redis.quit();
    }
  });

  it('required: ensureDurable gives the ledger entry back to pending without using an attempt', async () => {
    const redis = new Redis(REDIS_URL);
    const store = new Store(redis, prefix, { durableDials: 'required' });
    try {
      const phone = '+61412000001';
      await store.claimNumbers('c1', [[phone, 1]], Date.now());
      await store.loadRows('c1', [{ row: 1, name: 'A', phone }]);
      const begin = await store.ledgerBegin('c1', phone, Date.now(), 'test-token', 60_000);
      expect(begin.ok).toBe(true);
      expect(begin.entry).toMatchObject({ s: 'sending', a: 1 });
      expect(await store.ensureDurable('c1', phone, begin.entry!)).toBe(false);
      expect(await store.ledgerGet('c1', phone)).toMatchObject({ s: 'pending', a: 0 });
    } finally {
      await redis.quit();
    }
  });

  it('required: a worker sends no POST at all, and `dialer worker` start-up refuses', async () => {
    const sim = await simulator({ callDurationMs: { min: 100, max: 200 } });
    const t = await openTestRuntime(prefix, sim, { durableDials: 'required' });
    const nums = numbers(5);
    const c = await campaignIn(path.join(dir, 'req'), {
      name: 'dur-required', assistant_id: 'CE_1', default_country: 'AU', rate: { calls: 100, per_seconds: 1 }, concurrency: 5,
      retry: { attempts: 3, backoff_ms: 100, max_backoff_ms: 500 }, poll: { interval_seconds: 0.2, timeout_minutes: 1 }, results: path.join(dir, 'req', 'results.csv'),
    }, ['name,phone', ...nums.map((p, i) => `P${i},${p}`)].join('\n') + '\n');
    const d = await startDialing(t.rt, c);
    try {
      await waitFor(() => t.logs.some((l) => l.msg === 'Redis could not confirm the dial ledger write; job given back'), 'a job given back');
      // Give the rate limiter's 1 s hold a chance to end and the jobs to come round again.
      await new Promise((r) => setTimeout(r, 1500));
      expect(sim.requests.filter((r) => r.method === 'POST')).toHaveLength(0);
      for (const n of nums) expect((await t.rt.store.ledgerGet(c.name, n))?.s).toBe('pending');
      expect((await t.rt.store.getRow(c.name, 1))?.outcome).toBeUndefined();
      await expect(checkRedisDurability(t.rt)).rejects.toThrow(/DIALER_DURABLE_DIALS=required, but this Redis cannot confirm/);
    } finally {
      await d.stop();
      await t.rt.close();
    }
  }, 30_000);

  it('rejects an unknown DIALER_DURABLE_DIALS', () => {
    expect(readEnv({}).durableDials).toBe('auto');
    expect(readEnv({ DIALER_DURABLE_DIALS: 'required' }).durableDials).toBe('required');
    expect(() => readEnv({ DIALER_DURABLE_DIALS: 'yes' })).toThrow(/DIALER_DURABLE_DIALS must be one of auto, off, required/);
  });
});

describe('on a private master with one replica', () => {
  let master: LocalRedis;
  let replica: LocalRedis;
  beforeAll(async () => {
    master = await startLocalRedis();
    replica = await startLocalReplica(master);
  }, 20_000);
  afterAll(async () => {
    replica?.process.kill('SIGCONT');
    await replica?.stop();
    await master?.stop();
  });

  it('uses WAIT: a dial is confirmed by the replica before its POST, and calls are placed', async () => {
    const sim = await simulator({ callDurationMs: { min: 100, max: 200 } });
    const t = await openTestRuntime(prefix, sim, { redisUrl: master.url });
    const nums = numbers(20, 61410000000);
    const c = await campaignIn(path.join(dir, 'wait'), {
      name: 'dur-wait', assistant_id: 'CE_1', default_country: 'AU', rate: { calls: 100, per_seconds: 1 }, concurrency: 5,
      retry: { attempts: 3, backoff_ms: 100, max_backoff_ms: 500 }, poll: { interval_seconds: 0.2, timeout_minutes: 1 }, results: path.join(dir, 'wait', 'results.csv'),
    }, ['name,phone', ...nums.map((p, i) => `P${i},${p}`)].join('\n') + '\n');
    const d = await startDialing(t.rt, c);
    try {
      await d.done(20_000);
      const info = await t.rt.store.durability.detect();
      expect(info.mode).toBe('wait');
      expect(info.reason).toMatch(/^Redis 7\.\d+\.\d+ with 1 connected replica\(s\): WAIT confirms/);
      expect(sim.requests.filter((r) => r.method === 'POST')).toHaveLength(20);
      const stats = await t.rt.store.redis.info('commandstats');
      expect(Number(/^cmdstat_wait:calls=(\d+)/m.exec(stats)?.[1] ?? 0)).toBeGreaterThanOrEqual(20);
      // The replica holds the ledger the master wrote.
      const r = new Redis(replica.url);
      try {
        expect(await r.hlen(t.rt.store.keys.ledger(c.name))).toBe(20);
      } finally {
        r.disconnect();
      }
    } finally {
      await d.stop();
      await t.rt.close();
    }
  }, 40_000);

  it('a replica that stops answering: confirm times out and ensureDurable gives the entry back', async () => {
    const redis = new Redis(master.url);
    const store = new Store(redis, prefix, { durableDials: 'auto' });
    const phone = '+61412000002';
    try {
      expect((await store.durability.detect()).mode).toBe('wait');
      await store.claimNumbers('c2', [[phone, 1]], Date.now());
      await store.loadRows('c2', [{ row: 1, name: 'A', phone }]);
      replica.process.kill('SIGSTOP');
      const begin = await store.ledgerBegin('c2', phone, Date.now(), 'test-token', 60_000);
      const t0 = Date.now();
      expect(await store.ensureDurable('c2', phone, begin.entry!)).toBe(false);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
      expect(await store.ledgerGet('c2', phone)).toMatchObject({ s: 'pending', a: 0 });
      // The dials right behind it don't each block the connection for another second.
      const t1 = Date.now();
      expect(await store.durability.confirm()).toBe(false);
      expect(Date.now() - t1).toBeLessThan(200);
      replica.process.kill('SIGCONT');
      await new Promise((r) => setTimeout(r, 1000));
      // Back: the next dial is confirmed again.
      const again = await store.ledgerBegin('c2', phone, Date.now(), 'test-token', 60_000);
      expect(await store.ensureDurable('c2', phone, again.entry!)).toBe(true);
      expect(await store.ledgerGet('c2', phone)).toMatchObject({ s: 'sending', a: 1 });
    } finally {
      replica.process.kill('SIGCONT');
      await redis.quit();
    }
  }, 20_000);
});
