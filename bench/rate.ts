/**
 * Bench 3 — rate accuracy. Three `dialer worker` processes dial one campaign
 * at 50/s for 60 s, then one at 5/s for 60 s (N = rate × duration contacts
 * each). From the simulator's request log: the most POSTs in any sliding 1 s
 * window (target ≤ the limit) and the mean rate (target ≥ 0.97 × the limit).
 * Baseline: three raw BullMQ workers with BullMQ's own limiter
 * {max: limit, duration: 1000} on a queue of the same N jobs, measured the same way.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { parse } from 'csv-parse/sync';
import { Redis } from 'ioredis';
import { parsePhoneNumber } from 'libphonenumber-js/max';
import { loadCampaign } from '../src/loader/load.js';
import { createLoadScreen } from '../src/gate/index.js';
import { scaled, type BenchOptions } from './lib/args.js';
import { contactsFile } from './lib/contacts.js';
import { benchCampaign, benchRuntime, cliEnv } from './lib/dialer.js';
import { gaps, maxInWindow, meanRate, overLimit, percentile, postTimes } from './lib/measure.js';
import { spawnCli, spawnTs, type TsChild } from './lib/proc.js';
import { withRedis } from './lib/redis.js';
import { startSimProcess, until, type SimProcess } from './lib/sim.js';
import type { Row } from './lib/table.js';

const WORKERS = 3;
const CONCURRENCY = 10;

interface Measured {
  limit: number;
  n: number;
  max1s: number;
  mean: number;
  /** Requests that closed a 1 s window over the limit. */
  over: number;
  /** Shortest and 1st-percentile gap between consecutive arrivals (ms). */
  minGap: number;
  p1Gap: number;
}

async function waitPosts(sim: SimProcess, target: number, seconds: number): Promise<void> {
  if (!(await until(async () => (await sim.count()).posts >= target, (seconds * 2 + 30) * 1000, 250))) {
    throw new Error(`only ${(await sim.count()).posts} of ${target} POSTs arrived in time`);
  }
}

function measure(limit: number, times: number[]): Measured {
  const g = gaps(times);
  return { limit, n: times.length, max1s: maxInWindow(times, 1000), mean: meanRate(times), over: overLimit(times, limit), minGap: Math.min(...g), p1Gap: percentile(g, 1) };
}

async function ours(plan: { limit: number; csv: string }[], seconds: number, dir: string, profile: boolean): Promise<Measured[]> {
  return withRedis(async (redis) => {
    const sim = await startSimProcess({ callDurationMs: { min: 60_000, max: 60_000 } });
    const rt = await benchRuntime(redis.url, 'bench', sim.url);
    const workers = Array.from({ length: WORKERS }, (_, i) => spawnCli(['worker'], cliEnv(redis.url, 'bench', sim.url), { profile: profile && i === 0 ? 'rate-worker' : undefined }));
    try {
      if (!(await until(async () => (await rt.redis.hlen(rt.store.keys.workers)) >= WORKERS, 60_000, 100))) throw new Error('dialer workers did not start');
      let sent = 0;
      for (const { limit, csv } of plan) {
        const c = benchCampaign(`rate-${limit}`, csv, dir, { rate: { calls: limit, per_seconds: 1 }, concurrency: CONCURRENCY });
        const sum = await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => rt.clock.now(), screen: createLoadScreen(rt) }, c);
        sent += sum.jobs;
        await waitPosts(sim, sent, seconds);
      }
      const { requests } = await sim.dump();
      return plan.map(({ limit }) => measure(limit, postTimes(requests, `A-rate-${limit}`)));
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await rt.close();
      await sim.close();
    }
  });
}

async function raw(plan: { limit: number; csv: string }[], seconds: number): Promise<Measured[]> {
  return withRedis(async (redis) => {
    const sim = await startSimProcess({ callDurationMs: { min: 60_000, max: 60_000 } });
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const out: Measured[] = [];
    try {
      let sent = 0;
      for (const { limit, csv } of plan) {
        const name = `rate${limit}`;
        const workers: TsChild[] = Array.from({ length: WORKERS }, () => spawnTs('bench/children/dial-raw.ts', [redis.url, sim.url, csv, String(CONCURRENCY), name, String(limit), 'noadd']));
        try {
          for (const w of workers) w.send({ type: 'go' });
          for (const w of workers) await w.message('started', 60_000);
          const recs = parse<{ name: string; phone: string; city: string }>(await readFile(csv), { columns: true });
          const queue = new Queue(name, { connection, prefix: 'raw' });
          const jobs = recs.map((r) => ({ name: 'dial', data: { name: r.name, phone: parsePhoneNumber(r.phone, 'AU').number, city: r.city } }));
          for (let i = 0; i < jobs.length; i += 1000) await queue.addBulk(jobs.slice(i, i + 1000));
          await queue.close();
          sent += jobs.length;
          await waitPosts(sim, sent, seconds);
        } finally {
          for (const w of workers) w.send({ type: 'stop' });
          await Promise.all(workers.map(async (w) => {
            const t = setTimeout(() => w.kill('SIGKILL'), 15_000);
            await w.exited;
            clearTimeout(t);
          }));
        }
      }
      const { requests } = await sim.dump();
      for (const { limit } of plan) out.push(measure(limit, postTimes(requests, `A-rate${limit}`)));
      return out;
    } finally {
      await connection.quit();
      await sim.close();
    }
  });
}

export async function rateBench(o: BenchOptions): Promise<Row[]> {
  const seconds = scaled(60, o.scale, 1);
  const plan = await Promise.all([50, 5].map(async (limit) => ({ limit, csv: await contactsFile('clean', limit * seconds) })));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-rate-'));
  try {
    const r = await raw(plan, seconds);
    const w = await ours(plan, seconds, dir, o.profile);
    return plan.flatMap(({ limit }, i): Row[] => [
      {
        bench: '3 rate', metric: `${limit}/s × ${seconds} s: most POSTs in any 1 s`, unit: '', ours: w[i]!.max1s, raw: r[i]!.max1s,
        target: `≤ ${limit}`, met: w[i]!.max1s <= limit,
        note:
          (i === 0 ? `${WORKERS} \`dialer worker\` processes vs ${WORKERS} raw BullMQ workers with limiter {max: ${limit}, duration: 1000}; sliding window (t-1000 ms, t] over the simulator's receive times. ` : '') +
          `Arrivals closing a window over ${limit}: ours ${w[i]!.over} of ${w[i]!.n}, raw ${r[i]!.over} of ${r[i]!.n}; gap between arrivals, min / 1st percentile: ours ${w[i]!.minGap} / ${w[i]!.p1Gap} ms, raw ${r[i]!.minGap} / ${r[i]!.p1Gap} ms (GCRA spacing ${(1020 / limit).toFixed(1)} ms)`,
      },
      {
        bench: '3 rate', metric: `${limit}/s × ${seconds} s: mean rate`, unit: '/s', ours: w[i]!.mean, raw: r[i]!.mean,
        target: `≥ ${(0.97 * limit).toFixed(limit < 10 ? 2 : 1)}`, met: w[i]!.mean >= 0.97 * limit,
      },
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
