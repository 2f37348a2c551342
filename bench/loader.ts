/**
 * Bench 1 — loader. A generated CSV (mixed AU/US spellings, 5% invalid, 5%
 * duplicates; 1,000,000 rows at scale 1) loaded by our loader (validation,
 * E.164, zones via the load screen, dedup, rows + ledger + jobs) and by a raw
 * csv-parse → addBulk(1000) loop. Each variant runs in its own process on a
 * fresh private Redis; RSS is sampled from outside every 100 ms (/proc covers
 * the phone worker thread) and the child reports its kernel peak (VmHWM).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BenchOptions } from './lib/args.js';
import { scaled } from './lib/args.js';
import { contactsFile } from './lib/contacts.js';
import { sampleRss, spawnTs, type RssTrace } from './lib/proc.js';
import { redisWork, withRedis } from './lib/redis.js';
import type { Row } from './lib/table.js';

interface Result {
  rows: number;
  ms: number;
  peakRss: number;
  trace: RssTrace;
  /** Redis commands (scripts' own calls included) and Redis CPU µs per row. */
  cmds: number;
  redisUs: number;
}

const MB = 1024 * 1024;
const HEAP_CAP_MB = 96;

async function variant(file: string, args: string[], profile?: string, nodeArgs?: string[]): Promise<Result> {
  return withRedis(async (redis) => {
    const p = spawnTs(file, [redis.url, ...args], { profile, nodeArgs });
    // The trace covers the load itself (start-up is in the child's own peak figure).
    await p.message('start', 120_000);
    const rss = sampleRss(p.child.pid!, 100);
    try {
      const done = await p.message<{ rows: number; ms: number; peakRss: number }>('done');
      const trace = rss.stop();
      const w = await redisWork(redis.url);
      return { ...done, trace, cmds: w.total / done.rows, redisUs: (w.cpuS * 1e6) / done.rows };
    } finally {
      rss.stop();
      await p.end();
    }
  });
}

export async function loaderBench(o: BenchOptions): Promise<Row[]> {
  const rows = scaled(1_000_000, o.scale, 1000);
  const csv = await contactsFile('mixed', rows);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-load-'));
  try {
    const raw = await variant('bench/children/loader-raw.ts', [csv]);
    const ours = await variant('bench/children/loader-ours.ts', [csv, dir], o.profile ? 'loader-ours' : undefined);
    // The heap cap proposed for `dialer load`, measured next to the plain run (skipped in quick runs).
    const capped = o.scale < 0.05 ? null : await variant('bench/children/loader-ours.ts', [csv, dir], undefined, [`--max-old-space-size=${HEAP_CAP_MB}`]);
    const rate = (r: Result) => r.rows / (r.ms / 1000);
    const peak = (r: Result) => Math.max(r.peakRss, r.trace.peak) / MB;
    const oursRate = rate(ours);
    const rawRate = rate(raw);
    const flat = ours.trace.growth / MB;
    return [
      {
        bench: '1 loader', metric: `load ${rows.toLocaleString('en')} rows`, unit: 'rows/s', ours: oursRate, raw: rawRate,
        target: 'ratio ≥ 0.75', met: oursRate / rawRate >= 0.75,
        note: `ours ${(ours.ms / 1000).toFixed(1)} s, raw ${(raw.ms / 1000).toFixed(1)} s (raw: no validation, no dedup, 1 job per row); Redis per row: ours ${ours.cmds.toFixed(1)} commands, ${ours.redisUs.toFixed(0)} µs CPU; raw ${raw.cmds.toFixed(1)} commands, ${raw.redisUs.toFixed(0)} µs CPU`,
      },
      { bench: '1 loader', metric: 'peak RSS', unit: 'MB', ours: peak(ours), raw: peak(raw), target: '< 200 MB', met: peak(ours) < 200 },
      {
        bench: '1 loader', metric: 'RSS growth, 2nd → last quarter', unit: 'MB', ours: flat, raw: raw.trace.growth / MB, target: '< 20 MB (flat)', met: flat < 20,
        note: `${ours.trace.samples.length} samples every 100 ms; median RSS of the last quarter of the load minus that of the second quarter`,
      },
      ...(capped
        ? [
            { bench: '1 loader', metric: `ours with node --max-old-space-size=${HEAP_CAP_MB}: rate`, unit: 'rows/s', ours: rate(capped), raw: rawRate, target: '(proposed fix)', met: null },
            { bench: '1 loader', metric: `ours with node --max-old-space-size=${HEAP_CAP_MB}: peak RSS`, unit: 'MB', ours: peak(capped), raw: peak(raw), target: '(proposed fix)', met: null },
          ]
        : []),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
