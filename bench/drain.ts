/**
 * Bench 6 — drain time. `dialer run` (load, dial and poll in one process, as a
 * user runs it) on a campaign of N contacts at R/s (1000 at 50/s at scale 1),
 * timed from spawning the command to its exit, i.e. every row final and the
 * results written. Simulator calls last 0.5–0.9 s so that the figure is the
 * dialer's own tail (a real call's length would add to any dialer's time).
 * Target: ≤ N/R + 5 s. The note splits it: start-up until the first POST, the
 * POST span (N/R is the floor: GCRA spaces requests 5% wider than 1/R), last POST to exit.
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

export async function drainBench(o: BenchOptions): Promise<Row[]> {
  const n = scaled(1000, o.scale, 20);
  const csv = await contactsFile('clean', n);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-drain-'));
  try {
    return await withRedis(async (redis) => {
      const sim = await startSimProcess({ callDurationMs: { min: 500, max: 900 } });
      try {
        const file = path.join(dir, 'drain.json');
        await writeFile(file, JSON.stringify({ name: 'drain', assistant_id: 'A-drain', contacts: csv, default_country: 'AU', rate: { calls: RATE, per_seconds: 1 }, concurrency: 10, results: path.join(dir, 'drain.csv') }));
        const t0 = Date.now();
        const run = spawnCli(['run', file, '--no-progress'], cliEnv(redis.url, 'bench', sim.url), { profile: o.profile ? 'drain-run' : undefined });
        let timer: NodeJS.Timeout | undefined;
        const code = await Promise.race([run.exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), (n / RATE) * 3000 + 60_000)))]);
        clearTimeout(timer);
        const t1 = Date.now();
        if (code !== 0) {
          await run.stop(1000);
          throw new Error(`dialer run ended with ${code}`);
        }
        const { requests } = await sim.dump();
        const times = postTimes(requests);
        const lastGet = Math.max(...requests.filter((r) => r.method === 'GET').map((r) => r.t));
        const info = new Redis(redis.url);
        const finishedAt = Date.parse((await info.hget('bench:c:drain', 'finished_at')) ?? '');
        info.disconnect();
        const total = (t1 - t0) / 1000;
        const ideal = n / RATE;
        return [
          {
            bench: '6 drain', metric: `${n} contacts at ${RATE}/s, \`dialer run\` start → exit`, unit: 's', ours: total, raw: null,
            target: `≤ ${(ideal + 5).toFixed(0)} s (N/R + 5)`, met: total <= ideal + 5,
            note: `start-up → first POST ${((times[0]! - t0) / 1000).toFixed(1)} s, POST span ${((times.at(-1)! - times[0]!) / 1000).toFixed(1)} s (N/R = ${ideal.toFixed(1)} s), last POST → exit ${((t1 - times.at(-1)!) / 1000).toFixed(1)} s (→ last GET ${((lastGet - times.at(-1)!) / 1000).toFixed(1)} s, → campaign done ${((finishedAt - times.at(-1)!) / 1000).toFixed(1)} s, → exit ${((t1 - times.at(-1)!) / 1000).toFixed(1)} s); ${times.length} POSTs`,
          },
        ];
      } finally {
        await sim.close();
      }
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
