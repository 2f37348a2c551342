/**
 * Bench 4 — Redis memory per contact (targets: ≤ 500 B queued, ≤ 400 B finished). On a private redis-server: INFO
 * used_memory before and after loading N contacts (100,000 at scale 1) with our
 * loader, then again once the campaign is done (workers + poller in this
 * process, calls of 0.2–0.8 s on the simulator); where the bytes are, by key
 * family (MEMORY USAGE). Baseline: raw addBulk of the same N jobs with minimal
 * data ({phone}), then a no-op BullMQ worker with default options (completed
 * jobs kept) run to the end.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import { parse } from 'csv-parse/sync';
import { Redis } from 'ioredis';
import { parsePhoneNumber } from 'libphonenumber-js/max';
import { WorkerService } from '../src/dialer/service.js';
import { loadCampaign } from '../src/loader/load.js';
import { Poller } from '../src/poller/poller.js';
import { createDialGate, createLoadScreen } from '../src/gate/index.js';
import { scaled, type BenchOptions } from './lib/args.js';
import { contactsFile } from './lib/contacts.js';
import { benchCampaign, benchRuntime } from './lib/dialer.js';
import { usedMemory, withRedis } from './lib/redis.js';
import { startSimProcess, until } from './lib/sim.js';
import type { Row } from './lib/table.js';

/**
 * The family of a key: the prefix and campaign id replaced by placeholders,
 * BullMQ's per-job hashes (and their :lock/:logs) as `bull:job`, numbers as *.
 */
export function family(k: string): string {
  const f = k
    .replace(/^(bench|raw):/, '')
    .replace(/:c:[a-z0-9-]+/, ':c:<id>')
    .replace(/^(dial-[a-z0-9-]+|raw):/, 'bull:')
    .replace(/^freq:.*/, 'freq:*')
    .replace(/:rows:o:.*/, ':rows:o:*');
  if (/^bull:[^:]*\d[^:]*(:|$)/.test(f) && !/^bull:(id|meta|events|wait|marker|stalled-check)$/.test(f)) return 'bull:job' + f.replace(/^bull:[^:]*/, '');
  return f.replace(/:[^:]*\d[^:]*$/, ':*');
}

/** Bytes by key family (MEMORY USAGE, every element counted). */
async function breakdown(redis: Redis): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    const sizes = await Promise.all(keys.map((k) => redis.memory('USAGE', k, 'SAMPLES', '0')));
    keys.forEach((k, i) => {
      const f = family(k);
      out.set(f, (out.get(f) ?? 0) + (sizes[i] ?? 0));
    });
  } while (cursor !== '0');
  return out;
}

function top(m: Map<string, number>, n: number, per: number): string {
  return [...m].sort((a, b) => b[1] - a[1]).slice(0, n).filter(([, v]) => v / per >= 0.5).map(([k, v]) => `${k} ${Math.round(v / per)} B`).join(', ');
}

/** One side's figures: used_memory growth per contact, and bytes per contact by key family. */
interface Side {
  queued: number;
  done: number;
  /** Ours only: after `dialer archive` (store/archive.ts), and how long it took. */
  archived?: { perContact: number; ms: number; blocks: number; families: Map<string, number>; warmMs: number };
  n: number;
  families: { queued: Map<string, number>; done: Map<string, number> };
}

async function ours(csv: string, dir: string): Promise<Side> {
  return withRedis(async (redis) => {
    const sim = await startSimProcess({ callDurationMs: { min: 200, max: 800 } });
    const rt = await benchRuntime(redis.url, 'bench', sim.url);
    const r = new Redis(redis.url);
    try {
      const c = benchCampaign('mem', csv, dir, { rate: { calls: 100_000, per_seconds: 1 }, concurrency: 50, poll: { interval_seconds: 1 } });
      await r.ping();
      const before = await usedMemory(r);
      const sum = await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => rt.clock.now(), screen: createLoadScreen(rt) }, c);
      const queued = await usedMemory(r);
      const atQueued = await breakdown(r);
      const workers = new WorkerService(rt, { campaigns: [c.name], scanMs: 200, gate: createDialGate(rt) });
      const poller = new Poller({ store: rt.store, api: rt.api(), log: rt.log, queues: rt.queues, lockMs: rt.env.lockMs, tickMs: 100 });
      workers.start();
      poller.start();
      const finished = await until(async () => (await rt.store.getCampaign(c.name))?.state === 'done', Math.max(300_000, sum.jobs * 10), 500);
      await Promise.all([workers.close(), poller.close()]);
      if (!finished) throw new Error('memory bench: the campaign did not finish in time');
      const done = await usedMemory(r);
      const atDone = await breakdown(r);
      const t = performance.now();
      const a = await rt.store.archive.archive(c.name);
      const ms = performance.now() - t;
      if (a.result !== 'archived') throw new Error(`memory bench: the archive was refused: ${a.reason}`);
      const perContact = ((await usedMemory(r)) - before) / sum.jobs;
      const families = await breakdown(r);
      // What a write to the archived campaign costs first: every row block back into its hashes.
      const tw = performance.now();
      await rt.store.archive.warm(c.name);
      const archived = { perContact, ms, blocks: a.blocks, families, warmMs: performance.now() - tw };
      return { queued: (queued - before) / sum.jobs, done: (done - before) / sum.jobs, archived, n: sum.jobs, families: { queued: atQueued, done: atDone } };
    } finally {
      r.disconnect();
      await rt.close();
      await sim.close();
    }
  });
}

async function raw(csv: string): Promise<Side> {
  return withRedis(async (redis) => {
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    try {
      const recs = parse<{ phone: string }>(await readFile(csv), { columns: true });
      const jobs = recs.map((rec) => ({ name: 'dial', data: { phone: parsePhoneNumber(rec.phone, 'AU').number } }));
      const queue = new Queue('raw', { connection, prefix: 'raw' });
      await queue.waitUntilReady();
      const before = await usedMemory(connection);
      for (let i = 0; i < jobs.length; i += 1000) await queue.addBulk(jobs.slice(i, i + 1000));
      const queued = await usedMemory(connection);
      const atQueued = await breakdown(connection);
      const worker = new Worker('raw', async () => 'ok', { connection, prefix: 'raw', concurrency: 50 });
      const finished = await until(async () => ((await queue.getJobCounts('completed')).completed ?? 0) >= jobs.length, 600_000, 500);
      await worker.close();
      await queue.close();
      if (!finished) throw new Error('memory bench: the raw worker did not finish in time');
      const done = await usedMemory(connection);
      return { queued: (queued - before) / jobs.length, done: (done - before) / jobs.length, n: jobs.length, families: { queued: atQueued, done: await breakdown(connection) } };
    } finally {
      await connection.quit();
    }
  });
}

/** Families that expire by themselves: the frequency cap's per-number sets (24 h + 1 h), the last minute's dials (2 min), a finished campaign's call ids (1 h). */
const EXPIRING = (f: string) => f === 'freq:*' || f.endsWith(':dials') || f.endsWith(':dials:s') || f.endsWith(':callids');

function familyRows(when: 'queued' | 'finished' | 'archived', w: Side, r: Side): Row[] {
  const mine = when === 'queued' ? w.families.queued : when === 'finished' ? w.families.done : w.archived!.families;
  const theirs = when === 'queued' ? r.families.queued : r.families.done;
  const names = [...new Set([...mine.keys(), ...theirs.keys()])]
    .filter((f) => (mine.get(f) ?? 0) / w.n >= 1 || (theirs.get(f) ?? 0) / r.n >= 1)
    .sort((a, b) => (mine.get(b) ?? 0) - (mine.get(a) ?? 0));
  return names.map((f) => ({
    bench: '4 redis memory', metric: `  ${when}: ${f}`, unit: 'B',
    ours: (mine.get(f) ?? 0) / w.n, raw: theirs.has(f) ? theirs.get(f)! / r.n : null, target: EXPIRING(f) ? '(expires)' : '', met: null,
  }));
}

export async function memoryBench(o: BenchOptions): Promise<Row[]> {
  const n = scaled(100_000, o.scale, 200);
  const csv = await contactsFile('clean', n);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-mem-'));
  try {
    const r = await raw(csv);
    const w = await ours(csv, dir);
    const expiring = [...w.families.done].filter(([f]) => EXPIRING(f)).reduce((a, [, v]) => a + v, 0) / w.n;
    const a = w.archived!;
    const archivedExpiring = [...a.families].filter(([f]) => EXPIRING(f)).reduce((x, [, v]) => x + v, 0) / w.n;
    return [
      {
        bench: '4 redis memory', metric: `per queued contact (${w.n.toLocaleString('en')})`, unit: 'B', ours: w.queued, raw: r.queued, target: '≤ 500 B', met: w.queued <= 500,
        note: `INFO used_memory growth per contact; by key family (MEMORY USAGE), ours: ${top(w.families.queued, 8, w.n)}; raw: ${top(r.families.queued, 4, r.n)}`,
      },
      ...familyRows('queued', w, r),
      {
        bench: '4 redis memory', metric: 'per finished contact, archived', unit: 'B', ours: a.perContact, raw: r.done, target: '≤ 400 B', met: a.perContact <= 400,
        note: `right after \`dialer archive\` (dialer worker archives on its own DIALER_ARCHIVE_AFTER_MINUTES, default 60, after the end), everything counted, the expiring keys too; ${w.n.toLocaleString('en')} contacts archived in ${(a.ms / 1000).toFixed(1)} s, ${a.blocks} blocks, warmed back (a write unpacks it first) in ${(a.warmMs / 1000).toFixed(1)} s; ours: ${top(a.families, 10, w.n)}; raw keeps every completed job (BullMQ defaults)`,
      },
      {
        bench: '4 redis memory', metric: 'per finished contact, archived, once TTLs ran out', unit: 'B', ours: a.perContact - archivedExpiring, raw: r.done, target: '(diagnostic)', met: null,
        note: `without freq:* (each number's frequency-cap set, 24 h + 1 h) and the campaign's call ids (1 h after the end), which are ${Math.round(archivedExpiring)} B a contact`,
      },
      ...familyRows('archived', w, r),
      {
        bench: '4 redis memory', metric: 'per finished contact, before the archive', unit: 'B', ours: w.done, raw: r.done, target: '(diagnostic)', met: null,
        note: `transcripts not kept (keep_transcripts off, the default); ours: ${top(w.families.done, 10, w.n)}; once the TTLs ran out ${Math.round(w.done - expiring)} B`,
      },
      ...familyRows('finished', w, r),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
