/**
 * Bench 2 — dial path, no rate limit. N contacts (20,000 at scale 1) through
 * our WorkerService (campaign rate 100000/s, concurrency 50, the production
 * gate) vs. a raw BullMQ worker doing got.post, same concurrency. Each variant
 * in its own process with its own Redis and its own simulator process; the
 * rate is taken from the simulator's log: 201s between the first and last POST.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { scaled, type BenchOptions } from './lib/args.js';
import { contactsFile } from './lib/contacts.js';
import { meanRate, median, postTimes } from './lib/measure.js';
import { cpuSeconds, spawnTs } from './lib/proc.js';
import { redisWork, withRedis } from './lib/redis.js';
import { startSimProcess, until } from './lib/sim.js';
import type { Row } from './lib/table.js';

const CONCURRENCY = 50;
const MB = 1024 * 1024;

export interface Result {
  posted: number;
  rate: number;
  peakRss: number;
  /** Redis commands and Redis CPU ms per contact, and the commands most run. */
  cmds: number;
  cpuMs: number;
  top: string;
  /** WAIT commands per contact (the durable-dial confirmation). */
  waits: number;
  /** CPU ms per contact of the worker process and of the simulator, from "go" to the last POST, and the worker's cores used meanwhile. */
  workerCpuMs: number;
  simCpuMs: number;
  workerCores: number;
}

export async function variant(n: number, child: string, args: (redis: string, sim: string) => string[], profile?: string, opts: { replica?: boolean } = {}): Promise<Result> {
  return withRedis(async (redis) => {
    const sim = await startSimProcess({ callDurationMs: { min: 60_000, max: 60_000 } });
    const p = spawnTs(child, args(redis.url, sim.url), { profile });
    try {
      await p.message('loaded');
      const cpu0 = [cpuSeconds(p.child.pid!), cpuSeconds(sim.pid)];
      // Redis's work from "go" on: the load (ours) or addBulk (raw) before it is left out.
      const w0 = await redisWork(redis.url);
      const t0 = Date.now();
      p.send({ type: 'go' });
      const ok = await until(async () => (await sim.count()).posts >= n, Math.max(120_000, n * 20), 250);
      const cpu = [cpuSeconds(p.child.pid!) - cpu0[0]!, cpuSeconds(sim.pid) - cpu0[1]!];
      const secs = (Date.now() - t0) / 1000;
      p.send({ type: 'stop' });
      const done = await p.message<{ peakRss: number }>('done', 60_000);
      const times = postTimes((await sim.dump()).requests);
      if (!ok) throw new Error(`${child}: only ${times.length} of ${n} contacts were POSTed in time`);
      const w1 = await redisWork(redis.url);
      const calls = new Map([...w1.calls].map(([k, v]) => [k, v - (w0.calls.get(k) ?? 0)] as const).filter(([, v]) => v > 0));
      const w = { calls, total: w1.total - w0.total, cpuS: w1.cpuS - w0.cpuS };
      const top = [...w.calls].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, v]) => `${k} ${(v / n).toFixed(1)}`).join(', ');
      return { posted: times.length, rate: meanRate(times), peakRss: done.peakRss, cmds: w.total / n, cpuMs: (w.cpuS * 1000) / n, top, waits: (w.calls.get('wait') ?? 0) / n,
        workerCpuMs: (cpu[0]! * 1000) / n, simCpuMs: (cpu[1]! * 1000) / n, workerCores: cpu[0]! / secs };
    } finally {
      await p.end();
      await sim.close();
    }
  }, opts);
}

export async function dialBench(o: BenchOptions): Promise<Row[]> {
  const n = scaled(20_000, o.scale, 100);
  const csv = await contactsFile('clean', n);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-dial-'));
  try {
    const runs = o.repeat ?? (o.scale < 0.05 ? 1 : 3);
    const variants = {
      raw: () => variant(n, 'bench/children/dial-raw.ts', (r, s) => [r, s, csv, String(CONCURRENCY), 'dial'], o.profile ? 'dial-raw' : undefined),
      ours: () => variant(n, 'bench/children/dial-ours.ts', (r, s) => [r, s, csv, dir, '100000', String(CONCURRENCY)], o.profile ? 'dial-ours' : undefined),
      // Quick runs skip the diagnostic variant (one process less in the smoke test).
      bare: o.scale < 0.05 ? null : () => variant(n, 'bench/children/dial-ours.ts', (r, s) => [r, s, csv, dir, '100000', String(CONCURRENCY), 'nogate']),
      // Raw plus the least a "never twice" ledger writes (one claim before the POST, one write after).
      ledger: o.scale < 0.05 ? null : () => variant(n, 'bench/children/dial-raw.ts', (r, s) => [r, s, csv, String(CONCURRENCY), 'dial', '', '', 'ledger']),
    };
    const got: Record<'raw' | 'ours' | 'bare' | 'ledger', Result[]> = { raw: [], ours: [], bare: [], ledger: [] };
    // The machine is shared: alternate the order so a busy spell doesn't land on one side only.
    for (let i = 0; i < runs; i++) {
      const order: ('raw' | 'ours' | 'bare' | 'ledger')[] = i % 2 ? ['ours', 'bare', 'ledger', 'raw'] : ['raw', 'ledger', 'ours', 'bare'];
      for (const k of order) {
        const run = variants[k];
        if (run) got[k].push(await run());
      }
    }
    // Ours and raw of one run (the one with the median ratio): a pair measured side by side.
    const ratios = got.ours.map((r, i) => r.rate / got.raw[i]!.rate);
    const pick = ratios.indexOf(median(ratios));
    const raw = { ...got.raw[pick]!, peakRss: Math.max(...got.raw.map((r) => r.peakRss)) };
    const ours = { ...got.ours[pick]!, peakRss: Math.max(...got.ours.map((r) => r.peakRss)) };
    const bare = got.bare.length ? { ...got.bare[0]!, rate: median(got.bare.map((r) => r.rate)) } : null;
    const ledger = got.ledger.length ? got.ledger[got.ledger.map((r) => r.rate).indexOf(median(got.ledger.map((r) => r.rate)))]! : null;
    const pairs = got.ours.map((r, i) => (r.rate / got.raw[i]!.rate).toFixed(2)).join(', ');
    return [
      {
        bench: '2 dial', metric: `${n.toLocaleString('en')} contacts, concurrency ${CONCURRENCY}`, unit: 'calls/s', ours: ours.rate, raw: raw.rate,
        target: 'ratio ≥ 0.7', met: ours.rate / raw.rate >= 0.7,
        note: `ours = WorkerService with the production dial gate (consent, erasure, suppression, window, frequency cap); rate between the first and last 201 in the simulator log; ${runs} alternating run(s), the one with the median ratio shown; ratio per run: ${pairs}`,
      },
      ...(bare
        ? [{
            bench: '2 dial', metric: 'same, without the dial gate', unit: 'calls/s', ours: bare.rate, raw: raw.rate, target: '(diagnostic)', met: null,
            note: 'what the safety gate costs: same worker, `gate` left out (median rate of its runs; raw of the median run)',
          }]
        : []),
      ...(ledger
        ? [{
            bench: '2 dial', metric: 'raw + a minimal dial ledger (in the ours column)', unit: 'calls/s', ours: ledger.rate, raw: raw.rate, target: '(diagnostic)', met: null,
            note: `the raw worker plus the least a dialer that never calls twice writes: a claim script (HSETNX) before each POST and an HSET after it, on a connection of their own (median of its runs); its CPU per contact, worker + Redis + simulator: ${(ledger.workerCpuMs + ledger.cpuMs + ledger.simCpuMs).toFixed(2)} ms`,
          }]
        : []),
      {
        bench: '2 dial', metric: 'worker CPU per contact', unit: 'ms', ours: ours.workerCpuMs, raw: raw.workerCpuMs, target: '(diagnostic)', met: null,
        note: `user + system CPU of the worker process from "go" to the last POST (sampled every 250 ms, so a little after it); cores used meanwhile: ours ${ours.workerCores.toFixed(2)}, raw ${raw.workerCores.toFixed(2)} (one Node thread is one core); the simulator's CPU per contact: ours ${ours.simCpuMs.toFixed(3)} ms, raw ${raw.simCpuMs.toFixed(3)} ms`,
      },
      {
        bench: '2 dial', metric: 'CPU per contact: worker + Redis + simulator', unit: 'ms', ours: ours.workerCpuMs + ours.cpuMs + ours.simCpuMs, raw: raw.workerCpuMs + raw.cpuMs + raw.simCpuMs, target: '(diagnostic)', met: null,
        note: `the machine has ${os.cpus().length} cores: at no rate limit the three processes share them, so this sum (not the worker's alone) sets the rate; Redis from INFO used_cpu_user + used_cpu_sys`,
      },
      { bench: '2 dial', metric: 'worker peak RSS', unit: 'MB', ours: ours.peakRss / MB, raw: raw.peakRss / MB, target: '', met: null },
      {
        bench: '2 dial', metric: 'Redis commands per contact', unit: '', ours: ours.cmds, raw: raw.cmds, target: '(diagnostic)', met: null,
        note: `from "go" on (the load or addBulk before it left out), the INFO calls of the bench included; Redis CPU per contact ours ${ours.cpuMs.toFixed(2)} ms, raw ${raw.cpuMs.toFixed(2)} ms; most run per contact — ours: ${ours.top}; raw: ${raw.top}`,
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
