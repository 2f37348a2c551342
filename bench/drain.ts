/**
 * Bench 6 — drain time. `dialer run` (load, dial and poll in one process, as a
 * user runs it) on a campaign of N contacts at R/s (1000 at 50/s at scale 1),
 * timed from spawning the command to its exit, i.e. every row final and the
 * results written. Simulator calls last 0.5–0.9 s so that the figure is the
 * dialer's own tail (a real call's length would add to any dialer's time).
 * Target: ≤ N/R + 5 s. Run twice in the same bench, each on a private Redis
 * and simulator: per-call lookups (GET /calls?id=, the default) and batched
 * (CALLEASE_CALLS_BATCH=ids, GET /calls?ids=). The note splits each: start-up
 * until the first POST, the POST span (N/R is the floor: GCRA spaces requests
 * 5% wider than 1/R), last POST → last call's end → campaign done → exit; and
 * GET /calls per finished call beside it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { scaled, type BenchOptions } from './lib/args.js';
import { contactsFile } from './lib/contacts.js';
import { cliEnv } from './lib/dialer.js';
import { postTimes } from './lib/measure.js';
import { spawnCli } from './lib/proc.js';
import { withRedis } from './lib/redis.js';
import { startSimProcess } from './lib/sim.js';
import type { Row } from './lib/table.js';

const RATE = 50;

interface Drain {
  total: number;
  note: string;
  getsPerCall: number;
}

type Mode = 'per-call' | 'batched';
const MODE_ENV: Record<Mode, NodeJS.ProcessEnv> = { 'per-call': {}, batched: { CALLEASE_CALLS_BATCH: 'ids' } };

async function drainOnce(o: BenchOptions, mode: Mode, n: number, csv: string, dir: string): Promise<Drain> {
  return withRedis(async (redis) => {
    const sim = await startSimProcess({ callDurationMs: { min: 500, max: 900 } });
    try {
      const name = `drain-${mode}`;
      const file = path.join(dir, `${name}.json`);
      await writeFile(file, JSON.stringify({ name, assistant_id: 'A-drain', contacts: csv, default_country: 'AU', rate: { calls: RATE, per_seconds: 1 }, concurrency: 10, results: path.join(dir, `${name}.csv`) }));
      const t0 = Date.now();
      const run = spawnCli(['run', file, '--no-progress'], cliEnv(redis.url, 'bench', sim.url, MODE_ENV[mode]), { profile: o.profile ? `drain-run-${mode}` : undefined });
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([run.exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), (n / RATE) * 3000 + 60_000)))]);
      clearTimeout(timer);
      const t1 = Date.now();
      if (code !== 0) {
        await run.stop(1000);
        throw new Error(`dialer run (${mode}) ended with ${code}`);
      }
      const { requests, calls } = await sim.dump();
      const times = postTimes(requests);
      const gets = requests.filter((r) => r.method === 'GET' && r.path.startsWith('/calls'));
      const batches = gets.filter((r) => r.path.includes('ids=')).length;
      const lastGet = Math.max(...gets.map((r) => r.t));
      const lastEnd = Math.max(...calls.map((c) => c.createdAt + c.plannedMs));
      const info = new Redis(redis.url);
      const [finishedAt, rows] = await Promise.all([info.hget(`bench:c:${name}`, 'finished_at'), info.hlen(`bench:c:${name}:rows`)]);
      info.disconnect();
      const done = Date.parse(finishedAt ?? '');
      const total = (t1 - t0) / 1000;
      const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
      const lastPost = times.at(-1)!;
      return {
        total,
        getsPerCall: gets.length / calls.length,
        note:
          `start-up → first POST ${s(times[0]! - t0)}, POST span ${s(lastPost - times[0]!)} (N/R = ${(n / RATE).toFixed(1)} s), last POST → exit ${s(t1 - lastPost)} ` +
          `(→ last call ends ${s(lastEnd - lastPost)}, → last GET ${s(lastGet - lastPost)}, → campaign done ${s(done - lastPost)}, → exit ${s(t1 - lastPost)}); ` +
          `${times.length} POSTs, ${gets.length} GET /calls${batches ? ` (${batches} batched)` : ''} for ${calls.length} calls, ${rows} rows`,
      };
    } finally {
      await sim.close();
    }
  });
}

export async function drainBench(o: BenchOptions): Promise<Row[]> {
  const n = scaled(1000, o.scale, 20);
  const csv = await contactsFile('clean', n);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-drain-'));
  const ideal = n / RATE;
  try {
    const rows: Row[] = [];
    for (const mode of ['per-call', 'batched'] as const) {
      const d = await drainOnce(o, mode, n, csv, dir);
      const how = mode === 'batched' ? 'batched GET /calls?ids= (CALLEASE_CALLS_BATCH=ids)' : 'per-call GET /calls?id= (default)';
      rows.push(
        { bench: '6 drain', metric: `${n} contacts at ${RATE}/s, \`dialer run\` start → exit, ${mode}`, unit: 's', ours: d.total, raw: null, target: `≤ ${(ideal + 5).toFixed(0)} s (N/R + 5)`, met: d.total <= ideal + 5, note: `${how}: ${d.note}` },
        { bench: '6 drain', metric: `GET /calls per finished call, ${mode}`, unit: '', ours: d.getsPerCall, raw: null, target: '—', met: null },
      );
    }
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
