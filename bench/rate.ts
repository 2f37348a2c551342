/**
 * Bench 3 — rate held at the API. Three `dialer worker` processes, a
 * `dialer poller` and a `dialer serve` dial one campaign at 200/s for 60 s,
 * then one at 50/s, then one at 5/s (N = rate × duration contacts each).
 * From the simulator's request log (its receive times): the most POSTs in
 * any sliding 1 s window (target ≤ the limit) and the mean rate (target ≥
 * 0.95 × the limit). Jitter: the workers log (debug) the moment each POST
 * leaves; matched to the simulator's receive time through the row's call
 * id, that gives the transit delay per request and the same window figures
 * at the client. The headroom (RATE_HEADROOM_MS) must cover
 * the worst bunching of `limit` consecutive gaps at the simulator below
 * their scheduled span (see `bunching`).
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
import { RATE_HEADROOM_MS } from '../src/dialer/rate.js';
import { spawnCli, spawnTs, type TsChild } from './lib/proc.js';
import { withRedis } from './lib/redis.js';
import { startSimProcess, until, type SimProcess } from './lib/sim.js';
import type { Row } from './lib/table.js';

const WORKERS = 3;
/**
 * The campaign's `concurrency` (POSTs in flight): enough that it never binds
 * before the rate does (a slot is taken when due, the POST follows; at 200/s
 * ten in flight would cap the rate at 10 / round trip), 10 at least.
 */
const concurrencyFor = (limit: number): number => Math.max(10, Math.ceil(limit / 4));

interface Measured {
  limit: number;
  n: number;
  max1s: number;
  mean: number;
  /** Mean rate from 5 s after the first arrival on, and over those first 5 s: where a shortfall of the mean lies. */
  steady: number;
  start: number;
  /** Requests that closed a 1 s window over the limit. */
  over: number;
  /** Shortest and 1st-percentile gap between consecutive arrivals (ms). */
  minGap: number;
  p1Gap: number;
  /** Worst shortfall (ms) of `limit` consecutive gaps below their scheduled span. */
  bunch: number;
  /** Ours only: the same at the client (send times from the workers' log), and the transit delay. */
  client?: { max1s: number; over: number; bunch: number; transit: { p50: number; p99: number; max: number; spread: number }; matched: number };
}

/**
 * How much closer together than scheduled `limit` consecutive gaps came
 * (ms): with GCRA spacing `intervalMs`, limit + 1 requests are scheduled
 * limit × intervalMs apart, and land inside one second (one too many) only
 * when they bunch by more than limit × intervalMs − 1000 = the headroom. The
 * worst bunching measured is the headroom the margin must leave.
 */
export function bunching(times: number[], limit: number, intervalMs: number): number {
  // A short run (a smoke test) has fewer than limit + 1 arrivals: all its gaps.
  const span = Math.min(limit, times.length - 1);
  if (span < 1) return 0;
  let worst = -Infinity;
  for (let k = 0; k + span < times.length; k++) worst = Math.max(worst, span * intervalMs - (times[k + span]! - times[k]!));
  return Math.round(worst);
}

async function waitPosts(sim: SimProcess, target: number, seconds: number): Promise<void> {
  if (!(await until(async () => (await sim.count()).posts >= target, (seconds * 2 + 30) * 1000, 250))) {
    throw new Error(`only ${(await sim.count()).posts} of ${target} POSTs arrived in time`);
  }
}

function measure(limit: number, times: number[]): Measured {
  const g = gaps(times);
  return {
    limit, n: times.length, max1s: maxInWindow(times, 1000), mean: meanRate(times), ...startAndSteady(times), over: overLimit(times, limit), minGap: Math.min(...g), p1Gap: percentile(g, 1),
    bunch: bunching(times, limit, (1000 + RATE_HEADROOM_MS) / limit),
  };
}

function startAndSteady(times: number[]): { start: number; steady: number } {
  const cut = times[0]! + 5000;
  const i = times.findIndex((t) => t > cut);
  if (i < 0) return { start: meanRate(times), steady: NaN };
  return { start: (i * 1000) / 5000, steady: meanRate(times.slice(i)) };
}

/** Send time (ms) by campaign and row, from the workers' debug log lines 'POST /calls sent'. */
async function sendTimes(files: string[]): Promise<Map<string, Map<number, number>>> {
  const out = new Map<string, Map<number, number>>();
  for (const f of files) {
    for (const line of (await readFile(f, 'utf8')).split('\n')) {
      if (!line.includes('POST /calls sent')) continue;
      const l = JSON.parse(line) as { time: string | number; campaign: string; row: number };
      const t = typeof l.time === 'number' ? l.time : Date.parse(l.time);
      if (!out.has(l.campaign)) out.set(l.campaign, new Map());
      // A row sent twice (a retry) keeps its last send: the one that placed the call.
      out.get(l.campaign)!.set(l.row, t);
    }
  }
  return out;
}

async function ours(plan: { limit: number; csv: string }[], seconds: number, dir: string, profile: boolean): Promise<Measured[]> {
  return withRedis(async (redis) => {
    const sim = await startSimProcess({ callDurationMs: { min: 60_000, max: 60_000 } });
    const rt = await benchRuntime(redis.url, 'bench', sim.url);
    const logs = Array.from({ length: WORKERS }, (_, i) => path.join(dir, `worker-${i}.log`));
    const env = cliEnv(redis.url, 'bench', sim.url);
    const workers = logs.map((file, i) => spawnCli(['worker'], { ...env, LOG_LEVEL: 'debug' }, { profile: profile && i === 0 ? 'rate-worker' : undefined, logFile: file }));
    // What else runs beside the workers in production: the poller (following every call) and the server.
    const others = [spawnCli(['poller'], env), spawnCli(['serve', '--port', '0'], { ...env, DIALER_API_TOKEN: 'bench-rate-token-0123456789abcdef' })];
    try {
      if (!(await until(async () => (await rt.redis.hlen(rt.store.keys.workers)) >= WORKERS, 60_000, 100))) throw new Error('dialer workers did not start');
      let sent = 0;
      for (const { limit, csv } of plan) {
        const c = benchCampaign(`rate-${limit}`, csv, dir, { rate: { calls: limit, per_seconds: 1 }, concurrency: concurrencyFor(limit) });
        const sum = await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => rt.clock.now(), screen: createLoadScreen(rt) }, c);
        sent += sum.jobs;
        await waitPosts(sim, sent, seconds);
      }
      // The poller and the server must have run beside the workers the whole time, or the figures mean less.
      const gone = others.findIndex((p) => p.child.exitCode !== null || p.child.signalCode !== null);
      if (gone >= 0) throw new Error(`dialer ${['poller', 'serve'][gone]} exited during the rate bench (code ${others[gone]!.child.exitCode})`);
      const { requests } = await sim.dump();
      const sends = await sendTimes(logs);
      const out: Measured[] = [];
      for (const { limit } of plan) {
        const name = `rate-${limit}`;
        const m = measure(limit, postTimes(requests, `A-${name}`));
        // Client send time ↔ simulator receive time, through the call id the row recorded.
        const arrived = new Map(requests.filter((r) => r.method === 'POST' && r.status === 201 && r.call_id).map((r) => [r.call_id!, r.t]));
        const rowSends = [...(sends.get(name) ?? new Map<number, number>())];
        const recs = await rt.store.getRows(name, rowSends.map(([row]) => row));
        const transit: number[] = [];
        recs.forEach((rec, i) => {
          const at = rec?.call_id ? arrived.get(rec.call_id) : undefined;
          if (at !== undefined) transit.push(at - rowSends[i]![1]);
        });
        const clientTimes = rowSends.map(([, t]) => t).sort((a, b) => a - b);
        m.client = {
          max1s: maxInWindow(clientTimes, 1000), over: overLimit(clientTimes, limit), bunch: bunching(clientTimes, limit, (1000 + RATE_HEADROOM_MS) / limit),
          transit: { p50: percentile(transit, 50), p99: percentile(transit, 99), max: Math.max(...transit), spread: Math.max(...transit) - Math.min(...transit) },
          matched: transit.length,
        };
        out.push(m);
      }
      return out;
    } finally {
      await Promise.all([...workers, ...others].map((w) => w.stop()));
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
        const workers: TsChild[] = Array.from({ length: WORKERS }, () => spawnTs('bench/children/dial-raw.ts', [redis.url, sim.url, csv, String(concurrencyFor(limit)), name, String(limit), 'noadd']));
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
  const plan = await Promise.all([200, 50, 5].map(async (limit) => ({ limit, csv: await contactsFile('clean', limit * seconds) })));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-rate-'));
  try {
    const r = await raw(plan, seconds);
    const w = await ours(plan, seconds, dir, o.profile);
    return plan.flatMap(({ limit }, i): Row[] => {
      const c = w[i]!.client;
      const headroom = RATE_HEADROOM_MS;
      return [
        {
          bench: '3 rate', metric: `${limit}/s × ${seconds} s: most POSTs in any 1 s`, unit: '', ours: w[i]!.max1s, raw: r[i]!.max1s,
          target: `≤ ${limit}`, met: w[i]!.max1s <= limit,
          note:
            (i === 0 ? `${WORKERS} \`dialer worker\` processes (with a \`dialer poller\` and a \`dialer serve\`) vs ${WORKERS} raw BullMQ workers with limiter {max: ${limit}, duration: 1000}; sliding window (t-1000 ms, t] over the simulator's receive times. ` : '') +
            `Arrivals closing a window over ${limit}: ours ${w[i]!.over} of ${w[i]!.n}, raw ${r[i]!.over} of ${r[i]!.n}; gap between arrivals, min / 1st percentile: ours ${w[i]!.minGap} / ${w[i]!.p1Gap} ms, raw ${r[i]!.minGap} / ${r[i]!.p1Gap} ms (GCRA spacing ${((1000 + RATE_HEADROOM_MS) / limit).toFixed(1)} ms)`,
        },
        {
          bench: '3 rate', metric: `${limit}/s × ${seconds} s: mean rate`, unit: '/s', ours: w[i]!.mean, raw: r[i]!.mean,
          target: `≥ ${(0.95 * limit).toFixed(limit < 10 ? 2 : 1)}`, met: w[i]!.mean >= 0.95 * limit,
          note: `first arrival to last; ours ${w[i]!.start.toFixed(1)} /s over the first 5 s and ${w[i]!.steady.toFixed(1)} /s after them (raw ${r[i]!.start.toFixed(1)} / ${r[i]!.steady.toFixed(1)}); the ceiling the headroom leaves is ${(limit * 1000 / (1000 + RATE_HEADROOM_MS)).toFixed(1)} /s`,
        },
        {
          bench: '3 rate', metric: `${limit}/s: worst bunching of ${limit} gaps (API / client)`, unit: 'ms', ours: w[i]!.bunch, raw: c?.bunch ?? null,
          target: `< ${headroom} (headroom)`, met: w[i]!.bunch < headroom,
          note: `"raw" column here: the same at the client (send times of ${c?.matched ?? 0} POSTs from the workers' debug log, matched by call id); most in any 1 s at the client ${c?.max1s}, ${c?.over} over; transit client → simulator p50 ${c?.transit.p50} ms, p99 ${c?.transit.p99} ms, max ${c?.transit.max} ms, spread ${c?.transit.spread} ms; headroom = ${limit} × spacing − 1000 ms = RATE_HEADROOM_MS ${RATE_HEADROOM_MS} ms; concurrency ${concurrencyFor(limit)}`,
        },
      ];
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
