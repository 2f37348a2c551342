/**
 * Suppression at register scale (issue 15). One private Redis:
 *  - import N numbers (10,000,000 at BENCH_SCALE=1): ours = `dialer suppress import`
 *    (CSV streamed, libphonenumber on each cell, SADD batches of 10k) as its own
 *    process; raw = readline + pipelined SADD of the same numbers pre-normalised
 *    (bench/children/suppression-raw.ts). Time, numbers/s, peak RSS of the importer,
 *    Redis bytes per number of the set (MEMORY USAGE / SCARD).
 *  - the dial gate's check per dial (consent, file, window, then one script:
 *    erased, suppressed, frequency slot) with the N-number set and with an empty
 *    one; raw = one SISMEMBER round trip.
 *  - the load screen's check per row: SMISMEMBER over a 1,000-row chunk (ours)
 *    against SISMEMBER per row pipelined (raw).
 * The generated files are written streamed into the OS temp dir and deleted after.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { RowRecord } from '../src/campaign/row.js';
import { createDialGate } from '../src/gate/index.js';
import { BENCHES, scaled, type BenchOptions } from './lib/args.js';
import { benchCampaign, benchRuntime } from './lib/dialer.js';
import { median, percentile } from './lib/measure.js';
import { entry, REPO, sampleRss, spawnTs } from './lib/proc.js';
import { withRedis } from './lib/redis.js';
import type { Row } from './lib/table.js';

const BENCH = `${BENCHES.indexOf('suppression') + 1} suppression`;
const PREFIX = 'bsup';
/** An invalid line every this many, to run the bad-line path. */
const BAD_EVERY = 100_000;

/**
 * The i-th generated AU mobile's 8 digits after "04": 30 prefixes (10–39, every
 * number valid in libphonenumber's metadata) × 10^6 suffixes, distinct for
 * i < 3·10^7 (7919 is coprime with 10^6).
 */
const mobile = (i: number) => `${10 + (i % 30)}${String((Math.floor(i / 30) * 7919 + 12_345) % 1_000_000).padStart(6, '0')}`;

async function write(file: string, lines: (i: number) => string, n: number, head?: string): Promise<void> {
  const out = createWriteStream(file);
  if (head) out.write(head);
  let buf = '';
  for (let i = 0; i < n; i++) {
    buf += lines(i);
    if (buf.length > 1 << 16) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}

/** `dialer suppress import` as its own process: its JSON summary and peak RSS (sampled every 50 ms). */
async function importOurs(redisUrl: string, file: string): Promise<{ ms: number; peak: number; growth: number; sum: { numbers: number; added: number; invalid: number } }> {
  const e = entry('src/cli/main.ts');
  const t0 = performance.now();
  const child = spawn(process.execPath, [...e.execArgv, e.file, 'suppress', 'import', file, '--country', 'AU', '--json'], {
    cwd: REPO, env: { PATH: process.env.PATH, HOME: process.env.HOME, REDIS_URL: redisUrl, DIALER_PREFIX: PREFIX, LOG_LEVEL: 'error' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const rss = sampleRss(child.pid!, 50);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  const ms = performance.now() - t0;
  const { peak, growth } = rss.stop();
  if (code !== 0) throw new Error(`suppress import exited ${code}`);
  return { ms, peak, growth, sum: JSON.parse(out) as { numbers: number; added: number; invalid: number } };
}

/** Per-call latency (µs) of `fn`, run one after another `n` times after a warm-up. */
async function latency(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < Math.min(200, n); i++) await fn(i);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push((performance.now() - t) * 1000);
  }
  return out;
}

export async function suppressionBench(o: BenchOptions): Promise<Row[]> {
  const n = scaled(10_000_000, o.scale, 5_000);
  const dials = scaled(20_000, o.scale, 500);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-suppression-'));
  try {
    const csv = path.join(dir, 'dnc.csv');
    const e164 = path.join(dir, 'dnc.txt');
    await write(csv, (i) => (i % BAD_EVERY === BAD_EVERY - 1 ? `x${i},not-a-number\n` : `x${i},04${mobile(i).slice(0, 2)} ${mobile(i).slice(2, 5)} ${mobile(i).slice(5)}\n`), n, 'ref,Mobile\n');
    await write(e164, (i) => (i % BAD_EVERY === BAD_EVERY - 1 ? '' : `+614${mobile(i)}\n`), n);
    return await withRedis(async (r) => {
      const redis = new Redis(r.url);
      try {
        // Raw first, measured, then dropped: the two sets never sit in Redis together.
        const raw = spawnTs('bench/children/suppression-raw.ts', [r.url, 'raw:suppression', e164]);
        await raw.message('start');
        const rawRss = sampleRss(raw.child.pid!, 50);
        const rawDone = await raw.message<{ numbers: number; added: number; ms: number; peakRss: number }>('done', 3_600_000);
        rawRss.stop();
        await raw.end();
        const rawBytes = Number(await redis.call('MEMORY', 'USAGE', 'raw:suppression', 'SAMPLES', '0'));
        const rawCard = await redis.scard('raw:suppression');
        await redis.unlink('raw:suppression');

        const ours = await importOurs(r.url, csv);
        const key = `${PREFIX}:suppression`;
        const card = await redis.scard(key);
        const bytes = Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));

        // Per-dial check: the gate on numbers not in the set (each goes the whole way, window and frequency slot).
        const gateAt = async (prefix: string) => {
          const rt = await benchRuntime(r.url, prefix);
          try {
            const c = benchCampaign('supp', path.join(dir, 'none.csv'), dir);
            const gate = createDialGate(rt);
            const rec = (i: number): RowRecord => ({ row: i + 1, name: 'x', phone: `+61499${String(i).padStart(6, '0')}` });
            return await latency(dials, (i) => gate(c, rec(i)));
          } finally {
            await rt.close();
          }
        };
        const gateFull = await gateAt(PREFIX);
        const gateEmpty = await gateAt(`${PREFIX}e`);
        // The same numbers the gate was asked about (none in the set).
        const probe = (i: number) => `+61499${String(i).padStart(6, '0')}`;
        const rawFull = await latency(dials, (i) => redis.sismember(key, probe(i)));
        const rawEmpty = await latency(dials, (i) => redis.sismember(`${PREFIX}e:suppression`, probe(i)));

        // Load screen: a chunk of 1,000 numbers per round trip.
        const chunks = Math.max(5, Math.round(dials / 1000));
        const chunk = (k: number) => Array.from({ length: 1000 }, (_, i) => `+614${mobile(k * 1000 + i)}`);
        const smis = await latency(chunks, (k) => redis.smismember(key, ...chunk(k)));
        const piped = await latency(chunks, (k) => {
          const p = redis.pipeline();
          for (const x of chunk(k)) p.sismember(key, x);
          return p.exec();
        });

        const mb = (b: number) => b / 1048576;
        const rate = (count: number, ms: number) => (count * 1000) / ms;
        const ok = ours.sum.added === card && card === rawCard;
        const note = `${n.toLocaleString('en')} lines (1 bad per ${BAD_EVERY.toLocaleString('en')}); ours: ${ours.sum.added} added, ${ours.sum.invalid} invalid${ok ? '' : ' — COUNT MISMATCH with raw'}`;
        return [
          { bench: BENCH, metric: `import ${n.toLocaleString('en')} numbers`, unit: 's', ours: ours.ms / 1000, raw: rawDone.ms / 1000, target: '', met: null, note },
          { bench: BENCH, metric: 'import rate', unit: '/s', ours: rate(ours.sum.numbers + ours.sum.invalid, ours.ms), raw: rate(rawDone.numbers, rawDone.ms), target: '', met: null },
          { bench: BENCH, metric: 'importer peak RSS', unit: 'MB', ours: mb(ours.peak), raw: mb(rawDone.peakRss), target: 'flat', met: mb(ours.growth) <= 20, note: `RSS growth from the 2nd to the 4th quarter of the import ${mb(ours.growth).toFixed(0)} MB` },
          { bench: BENCH, metric: 'Redis bytes per number in the set', unit: 'B', ours: bytes / Math.max(1, card), raw: rawBytes / Math.max(1, rawCard), target: '', met: null },
          { bench: BENCH, metric: `dial check p50, ${card.toLocaleString('en')}-number set`, unit: 'µs', ours: median(gateFull), raw: median(rawFull), target: '', met: null, note: `p99 ours ${percentile(gateFull, 99).toFixed(0)} µs, raw ${percentile(rawFull, 99).toFixed(0)} µs; ours = the whole gate` },
          { bench: BENCH, metric: 'dial check p50, empty set', unit: 'µs', ours: median(gateEmpty), raw: median(rawEmpty), target: 'flat in set size', met: median(gateFull) <= 1.5 * median(gateEmpty) + 50 },
          { bench: BENCH, metric: 'load screen check per row (1,000-row chunk)', unit: 'µs', ours: median(smis) / 1000, raw: median(piped) / 1000, target: '', met: null, note: 'ours SMISMEMBER per chunk, raw SISMEMBER per row pipelined' },
        ];
      } finally {
        redis.disconnect();
      }
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
