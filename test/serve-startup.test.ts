/**
 * `dialer serve` must start in the same Redis work whatever the size of the
 * campaigns it serves: a 1,000,000-row campaign once seemed to keep it from
 * answering /healthz for a minute. The real CLI process starts on a private
 * redis-server (so INFO commandstats counts its commands alone) once beside a
 * 3-row campaign and once beside a 5,000-row one: the commands it sends until
 * /healthz answers must be the same, and none may read a whole collection (a
 * scan, HGETALL, a range) — a start-up that walked rows, jobs or indexes would
 * send more commands, or one of those, on the larger campaign.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startLocalRedis, type LocalRedis } from '../src/cli/local-redis.js';
import { loadCampaign } from '../src/loader/load.js';
import { REPO_ROOT, campaignIn, withRuntime } from './helpers/dialer.js';

let redis: LocalRedis;
let dir: string;

beforeAll(async () => {
  redis = await startLocalRedis();
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-serve-startup-'));
});
afterAll(async () => {
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

const listOf = (n: number) => ['name,phone', ...Array.from({ length: n }, (_, i) => `P${i + 1},04${String(14000000 + i)}`)].join('\n') + '\n';

async function loadUnder(prefix: string, rows: number): Promise<void> {
  await withRuntime(prefix, undefined, async ({ rt }) => {
    const c = await campaignIn(path.join(dir, prefix), { name: 'big', assistant_id: 'A1', default_country: 'AU', results: path.join(dir, `${prefix}.csv`) }, listOf(rows));
    const sum = await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => Date.now() }, c);
    expect(sum.jobs).toBe(rows);
  }, { redisUrl: redis.url });
}

/** Commands never sent at start-up: each reads a whole key or keyspace. */
const WHOLE = /^(scan|hscan|zscan|sscan|keys|hgetall|hkeys|hvals|smembers|lrange|zrange|zrangebyscore|zrevrange|xrange|sort)$/;

/** Starts `dialer serve` under `prefix`; returns the commands (by name) Redis ran until /healthz answered, and the whole-key reads MONITOR saw. */
async function serveStartup(prefix: string): Promise<{ calls: Record<string, number>; whole: string[] }> {
  const admin = new Redis(redis.url);
  const monitor = await new Redis(redis.url).monitor();
  const seen: string[] = [];
  monitor.on('monitor', (_t: string, args: string[]) => seen.push(args.join(' ')));
  await admin.config('RESETSTAT');
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', String(port)], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, REDIS_URL: redis.url, DIALER_PREFIX: prefix, DIALER_API_TOKEN: 'startup-test-token-0123456789', LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    const end = Date.now() + 60_000;
    while (!(await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false))) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`dialer serve did not answer /healthz (exit ${child.exitCode})`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const stats = await admin.info('commandstats');
    const calls: Record<string, number> = {};
    for (const m of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (!/^(info|config|monitor)\b/.test(m[1]!)) calls[m[1]!] = Number(m[2]);
    // The list of campaigns is read whole by design (it is one short set); rows, jobs and indexes never.
    return { calls, whole: seen.filter((s) => WHOLE.test(s.split(' ')[0]!.toLowerCase()) && s !== `smembers ${prefix}:campaigns`) };
  } finally {
    child.kill('SIGTERM');
    await exited;
    monitor.disconnect();
    admin.disconnect();
  }
}

describe('dialer serve start-up', () => {
  it('sends the same Redis commands beside a 5,000-row campaign as beside a 3-row one, and reads no whole collection', async () => {
    await loadUnder('small', 3);
    await loadUnder('large', 5000);
    const small = await serveStartup('small');
    const large = await serveStartup('large');
    expect(large.whole).toEqual([]);
    expect(small.whole).toEqual([]);
    expect(large.calls).toEqual(small.calls);
  }, 120_000);
});
