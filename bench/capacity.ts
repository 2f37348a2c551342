/**
 * Bench "capacity" — a campaign of N contacts for real (1,000,000 at scale 1),
 * as production runs it: `dialer load`, then three `dialer worker` processes, a
 * `dialer poller` and `dialer serve` on one Redis dial it at 200/s against the
 * simulator: first alone for a stretch (60 s at scale 1) whose CPU and Redis
 * work per dial are reported, then while `status --json` (CLI, in-process and
 * HTTP), the campaign page's rows API and /metrics are timed on the
 * full-size campaign (their reads kept out of the stretch), then paused for a while
 * (what the processes and Redis cost per second with nothing to dial, so the
 * per-dial figures split into a fixed and a per-dial part); then `dialer export`
 * writes the results file (one row per uploaded row). Reported: load rate and peak RSS, Redis memory per
 * queued contact, each process's peak RSS, CPU seconds per 1,000 dials (ours by
 * process, Redis's own), status/page timings, export time and RSS. "raw" for
 * the CLI timings is the floor of any CLI: `dialer --help` started the same
 * way. docs/capacity.md turns these figures into sizes.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse';
import { Redis } from 'ioredis';
import { campaignStatus } from '../src/campaign/status.js';
import { BENCHES, scaled, type BenchOptions } from './lib/args.js';
import { contactsFile } from './lib/contacts.js';
import { benchRuntime, cliEnv } from './lib/dialer.js';
import { median, percentile, postTimes } from './lib/measure.js';
import { cpuSeconds, sampleRss, spawnCli, type CliProcess } from './lib/proc.js';
import { redisWork, usedMemory, withRedis } from './lib/redis.js';
import { startSimProcess } from './lib/sim.js';
import type { Row } from './lib/table.js';

const RATE = 200;
const NAME = 'cap';
const PREFIX = 'bench';
const TOKEN = 'bench-capacity-token-0123456789';
const label = `${BENCHES.indexOf('capacity') + 1} capacity`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function times(k: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < k; i++) out.push(await timed(fn));
  return out;
}

async function cliOk(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const code = await spawnCli(args, env).exited;
  if (code !== 0) throw new Error(`dialer ${args.join(' ')} exited ${code}`);
}

async function waitHttp(url: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${ms} ms`);
}

/** The commands Redis ran most between two INFO commandstats readings, per dial: "evalsha 41, hget 12, …". */
function topCommands(before: Map<string, number>, after: Map<string, number>, dials: number, k = 6): string {
  const per = [...after].map(([cmd, n]) => [cmd, (n - (before.get(cmd) ?? 0)) / Math.max(1, dials)] as const);
  return per.sort((a, b) => b[1] - a[1]).slice(0, k).map(([cmd, n]) => `${cmd} ${n.toFixed(1)}`).join(', ');
}

const MB = 1024 * 1024;
const fmtMs = (xs: number[]) => `median ${median(xs).toFixed(1)} ms, p95 ${percentile(xs, 95).toFixed(1)} ms over ${xs.length}`;

export async function capacityBench(o: BenchOptions): Promise<Row[]> {
  const n = scaled(1_000_000, o.scale, 500);
  const stretchMs = scaled(60_000, o.scale, 3000);
  const csv = await contactsFile('clean', n);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-capacity-'));
  try {
    return await withRedis(async (redis) => {
      const sim = await startSimProcess({ callDurationMs: { min: 2000, max: 6000 } });
      const procs: CliProcess[] = [];
      try {
        const env = cliEnv(redis.url, PREFIX, sim.url);
        const file = path.join(dir, 'cap.json');
        await writeFile(file, JSON.stringify({ name: NAME, assistant_id: 'A-cap', contacts: csv, default_country: 'AU', rate: { calls: RATE, per_seconds: 1 }, concurrency: 50, results: path.join(dir, 'cap.csv') }));
        const c = new Redis(redis.url);
        const mem0 = await usedMemory(c);

        // 1. Load.
        const t0 = Date.now();
        const load = spawnCli(['load', file], env);
        const loadRss = sampleRss(load.child.pid!, 200);
        const loadCode = await load.exited;
        const loadTrace = loadRss.stop();
        const loadS = (Date.now() - t0) / 1000;
        if (loadCode !== 0) throw new Error(`dialer load exited ${loadCode}`);
        const memLoaded = await usedMemory(c);

        // 2. Dial for a stretch: 3 workers, a poller, the server.
        const port = await freePort();
        const base = `http://127.0.0.1:${port}`;
        const tStart = Date.now();
        for (let i = 0; i < 3; i++) procs.push(spawnCli(['worker'], env));
        procs.push(spawnCli(['poller'], env));
        procs.push(spawnCli(['serve', '--port', String(port)], { ...env, DIALER_API_TOKEN: TOKEN }));
        const roles = ['worker 1', 'worker 2', 'worker 3', 'poller', 'serve'];
        const rss = procs.map((p) => sampleRss(p.child.pid!, 500));
        await waitHttp(`${base}/healthz`, 60_000);
        const serveStartS = (Date.now() - tStart) / 1000;

        // 3. Dialing alone for the stretch (once settled): CPU and Redis work per dial without the timings' reads in them.
        await new Promise((r) => setTimeout(r, Math.min(5000, stretchMs / 4)));
        const work0 = await redisWork(redis.url);
        const cpu0 = procs.map((p) => cpuSeconds(p.child.pid!));
        const posts0 = (await sim.count()).posts;
        const tDial = Date.now();
        await new Promise((r) => setTimeout(r, stretchMs));
        const dialS = (Date.now() - tDial) / 1000;
        const dials = (await sim.count()).posts - posts0;
        const cpu = procs.map((p, i) => cpuSeconds(p.child.pid!) - cpu0[i]!);
        const work1 = await redisWork(redis.url);
        const memDialed = await usedMemory(c);

        // 4. While it goes on dialing: status and page timings on the full-size campaign.
        const auth = { authorization: `Bearer ${TOKEN}` };
        const get = (p: string) => fetch(`${base}${p}`, { headers: auth }).then(async (r) => {
          if (!r.ok) throw new Error(`GET ${p}: ${r.status}`);
          await r.arrayBuffer();
        });
        const tTimings = Date.now();
        const rt = await benchRuntime(redis.url, PREFIX, sim.url);
        const inproc = await times(20, () => campaignStatus(rt.store, rt.queues, NAME)).finally(() => rt.close());
        const http = await times(20, () => get(`/campaigns/${NAME}`));
        const rows = await times(20, () => get(`/campaigns/${NAME}/rows?limit=50`));
        const metrics = await times(5, () => get('/metrics'));
        const cli = await times(5, () => cliOk(['status', NAME, '--json'], env));
        const cliFloor = await times(5, () => cliOk(['--help'], env));

        const timingsS = (Date.now() - tTimings) / 1000;

        // 5. Paused, nothing to dial: what each process and Redis cost per second anyway (timers,
        // BullMQ's blocking reads, heartbeats); the part of the per-dial figures that a higher rate spreads thinner.
        await cliOk(['pause', NAME], env);
        await new Promise((r) => setTimeout(r, Math.min(5000, stretchMs / 4)));
        const idleWork0 = await redisWork(redis.url);
        const idleCpu0 = procs.map((p) => cpuSeconds(p.child.pid!));
        const tIdle = Date.now();
        await new Promise((r) => setTimeout(r, Math.min(20_000, stretchMs / 3)));
        const idleS = (Date.now() - tIdle) / 1000;
        const idleCpu = procs.map((p, i) => (cpuSeconds(p.child.pid!) - idleCpu0[i]!) / idleS);
        const idleRedis = ((await redisWork(redis.url)).cpuS - idleWork0.cpuS) / idleS;
        await Promise.all(procs.splice(0).map((p) => p.stop()));
        const peaks = rss.map((s) => s.stop().peak);

        // 6. Export every row.
        const t2 = Date.now();
        const exp = spawnCli(['export', NAME, '--out', path.join(dir, 'cap-export.csv')], env);
        const expRss = sampleRss(exp.child.pid!, 200);
        const expCode = await exp.exited;
        const expTrace = expRss.stop();
        const exportS = (Date.now() - t2) / 1000;
        if (expCode !== 0) throw new Error(`dialer export exited ${expCode}`);
        let exported = 0;
        for await (const _ of createReadStream(path.join(dir, 'cap-export.csv')).pipe(parse({ columns: true }))) exported++;
        c.disconnect();

        const { requests } = await sim.dump();
        const posts = postTimes(requests).filter((t) => t >= tDial && t <= tDial + dialS * 1000);
        const rateSeen = posts.length > 1 ? ((posts.length - 1) * 1000) / (posts.at(-1)! - posts[0]!) : 0;
        const perK = (s: number) => (dials > 0 ? (s / dials) * 1000 : 0);
        const workersCpu = cpu.slice(0, 3).reduce((a, b) => a + b, 0);
        /** The stretch's CPU less what the same time costs paused, per 1,000 dials: the part that grows with the rate. */
        const marginal = (stretchCpuS: number, idlePerS: number) => `above the paused cost: ${perK(Math.max(0, stretchCpuS - idlePerS * dialS)).toFixed(2)} s per 1,000 dials`;
        const ours = (metric: string, unit: string, v: number, note: string, extra: Partial<Row> = {}): Row => ({ bench: label, metric, unit, ours: v, raw: null, target: '', met: null, note, ...extra });
        return [
          ours(`load ${n.toLocaleString('en-US')} rows`, 'rows/s', n / loadS, `${loadS.toFixed(1)} s`),
          ours('serve start → /healthz', 's', serveStartS, 'beside the full-size campaign, 3 workers and a poller starting at the same time'),
          ours('load peak RSS', 'MB', loadTrace.peak / MB, `RSS growth 2nd → last quarter ${(loadTrace.growth / MB).toFixed(1)} MB`),
          ours('Redis per queued contact', 'B', (memLoaded - mem0) / n, `used_memory ${((memLoaded - mem0) / MB).toFixed(0)} MB for ${n} queued contacts`),
          ours(`dials at ${RATE}/s over the stretch`, '/s', rateSeen, `${dials} POSTs in ${dialS.toFixed(0)} s (3 workers, a poller and the server running; before the status timings)`),
          ours('CPU per 1,000 dials: 3 workers', 's', perK(workersCpu), cpu.slice(0, 3).map((s) => s.toFixed(1)).join(' + ') + ' s CPU'),
          ours('CPU per 1,000 dials: poller', 's', perK(cpu[3]!), `${cpu[3]!.toFixed(1)} s CPU`),
          ours('CPU per 1,000 dials: serve', 's', perK(cpu[4]!), `${cpu[4]!.toFixed(1)} s CPU (nothing asked it: the status timings ran after the stretch, ${timingsS.toFixed(0)} s)`),
          ours('CPU per 1,000 dials: Redis', 's', perK(work1.cpuS - work0.cpuS), `${Math.round((work1.total - work0.total) / Math.max(1, dials))} Redis commands per dial (every process): ${topCommands(work0.calls, work1.calls, dials)}`),
          ours('paused: CPU per second, 3 workers', 'ms/s', 1000 * (idleCpu[0]! + idleCpu[1]! + idleCpu[2]!), `over ${idleS.toFixed(0)} s; ${marginal(workersCpu, idleCpu[0]! + idleCpu[1]! + idleCpu[2]!)}`),
          ours('paused: CPU per second, poller', 'ms/s', 1000 * idleCpu[3]!, marginal(cpu[3]!, idleCpu[3]!)),
          ours('paused: CPU per second, serve', 'ms/s', 1000 * idleCpu[4]!, marginal(cpu[4]!, idleCpu[4]!)),
          ours('paused: CPU per second, Redis', 'ms/s', 1000 * idleRedis, marginal(work1.cpuS - work0.cpuS, idleRedis)),
          ours('peak RSS: worker (largest of 3)', 'MB', Math.max(...peaks.slice(0, 3)) / MB, roles.map((r, i) => `${r} ${(peaks[i]! / MB).toFixed(0)} MB`).join(', ')),
          ours('Redis used_memory after the stretch', 'MB', memDialed / MB, `${dials} contacts dialed of ${n}`),
          ours('Redis growth per dialed contact', 'B', dials > 0 ? (memDialed - memLoaded) / dials : 0, 'over the stretch, on top of its queued size (calls still live at its end included; BullMQ keeps no finished job)'),
          ours('status --json, in-process (campaignStatus)', 'ms', median(inproc), fmtMs(inproc)),
          ours('status --json, CLI (a process each)', 'ms', median(cli), fmtMs(cli), { raw: median(cliFloor), note: `${fmtMs(cli)}; raw = \`dialer --help\`, the start-up floor` }),
          ours('GET /campaigns/:name (status page poll)', 'ms', median(http), fmtMs(http)),
          ours('GET /campaigns/:name/rows?limit=50 (page)', 'ms', median(rows), fmtMs(rows)),
          ours('GET /metrics', 'ms', median(metrics), fmtMs(metrics)),
          ours(`export ${exported.toLocaleString('en-US')} rows`, 'rows/s', exported / exportS, `${exportS.toFixed(1)} s, peak RSS ${(expTrace.peak / MB).toFixed(0)} MB`, { target: 'one row per uploaded row', met: exported === n }),
        ];
      } finally {
        await Promise.all(procs.map((p) => p.stop()));
        await sim.close();
      }
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
