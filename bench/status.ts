/**
 * Bench "status" — what one `status --json` costs at 1,000, 100,000 and
 * 1,000,000 rows (sizes × BENCH_SCALE): in-process (`campaignStatus`, what
 * the status page and `dialer run`'s progress call) and as the CLI (a process
 * each). "raw" for the in-process figure is the same call on the same
 * campaign through the scan it made before the indexes (the campaign hash's
 * `indexes` field removed, so `status` scans the rows hash as it used to);
 * for the CLI, `dialer --help` started the same way, alternately with it:
 * the start-up floor under the same load.
 *
 * Seeding goes through the store's own load path (LEDGER_CLAIM + LOAD_ROWS,
 * chunks of 1,000 rows, as `dialer load` writes them, without BullMQ jobs:
 * the queue counts status reads are O(1) in BullMQ), then the store's own row
 * and ledger scripts make 1% of the rows wait for a calling window, 0.1%
 * placed calls with a poll scheduled, and 5% final.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { campaignStatus } from '../src/campaign/status.js';
import { Store } from '../src/store/store.js';
import { INDEXED_FIELD, INDEX_VERSION } from '../src/store/indexes.js';
import { BENCHES, scaled, type BenchOptions } from './lib/args.js';
import { benchCampaign, benchRuntime, cliEnv } from './lib/dialer.js';
import { median, percentile } from './lib/measure.js';
import { spawnCli } from './lib/proc.js';
import { withRedis } from './lib/redis.js';
import type { Row } from './lib/table.js';

const PREFIX = 'bench';
const CHUNK = 1000;
/** A distinct E.164 number per row. */
const phoneFor = (row: number) => `+614${String(row).padStart(8, '0')}`;
const label = `${BENCHES.indexOf('status') + 1} status`;

async function times(k: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < k; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/** Runs `fn` over 0..n-1 with at most `width` at once. */
async function each(n: number, width: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) await fn(next++);
  }));
}

async function seed(store: Store, name: string, n: number, dir: string): Promise<void> {
  const contacts = path.join(dir, `${name}.csv`);
  await writeFile(contacts, 'name,phone\n');
  await store.saveCampaign(benchCampaign(name, contacts, dir), 'running');
  await each(Math.ceil(n / CHUNK), 4, async (c) => {
    const rows = Array.from({ length: Math.min(CHUNK, n - c * CHUNK) }, (_, i) => c * CHUNK + i + 1);
    await store.claimNumbers(name, rows.map((r) => [phoneFor(r), r]), Date.now());
    await store.loadRows(name, rows.map((r) => ({ row: r, name: `Contact ${r}`, phone: phoneFor(r), job: `${name}-${r}`, timezone: 'Australia/Sydney' })));
  });
  await store.finishLoading(name, n);
  const opening = Date.now() + 3_600_000;
  // Rows spread over the list: every 100th waits for its window, every 1,000th has a call placed, every 20th is final.
  await each(Math.floor(n / 100), 16, (i) => {
    const row = i * 100 + 1;
    return store.moveRow(name, row, { to: 'waiting', patch: { status: 'waiting', next_at: new Date(opening + row * 1000).toISOString(), error: 'outside calling window' } });
  });
  await each(Math.floor(n / 1000), 16, async (i) => {
    const row = i * 1000 + 2;
    const begun = await store.ledgerBegin(name, phoneFor(row), Date.now(), `tok${row}`, 60_000);
    if (!begun.ok) throw new Error(`seed: row ${row} did not begin (${begun.why})`);
    await store.ledgerMove(name, phoneFor(row), ['sending'], { s: 'placed', id: `call-${name}-${row}`, t: Date.now() });
    await store.moveRow(name, row, { to: 'placed', from: ['sending'], patch: { call_id: `call-${name}-${row}`, status: 'queued', job: null } });
    await store.schedulePoll(name, row, Date.now() + 60_000);
  });
  await each(Math.floor(n / 20), 16, (i) => store.moveRow(name, i * 20 + 3, { outcome: 'completed' }));
}

const fmtMs = (xs: number[]) => `median ${median(xs).toFixed(2)} ms, p95 ${percentile(xs, 95).toFixed(2)} ms over ${xs.length}`;

export async function statusBench(o: BenchOptions): Promise<Row[]> {
  // Each CLI run starts a process (seconds under load): a quick run (the smoke test) makes two per size.
  const cliRuns = o.scale >= 0.5 ? 7 : 2;
  const sizes = [scaled(1_000, o.scale, 100), scaled(100_000, o.scale, 300), scaled(1_000_000, o.scale, 1000)];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-status-'));
  try {
    return await withRedis(async (redis) => {
      const c = new Redis(redis.url);
      const store = new Store(c, PREFIX);
      const rt = await benchRuntime(redis.url, PREFIX);
      const env = cliEnv(redis.url, PREFIX, 'http://127.0.0.1:1');
      const cli = (args: string[]) => async () => {
        const code = await spawnCli(args, env).exited;
        if (code !== 0) throw new Error(`dialer ${args.join(' ')} exited ${code}`);
      };
      const rows: Row[] = [];
      try {
        let base: number | undefined;
        for (const n of sizes) {
          const name = `st${n}`;
          const t0 = Date.now();
          await seed(store, name, n, dir);
          const seedS = (Date.now() - t0) / 1000;
          const st = await campaignStatus(rt.store, rt.queues, name);
          if (st.total !== n || st.waiting_for_window !== Math.floor(n / 100)) throw new Error(`seed: status says total ${st.total}, waiting ${st.waiting_for_window}`);
          await times(5, () => campaignStatus(rt.store, rt.queues, name)); // warm-up
          const ours = await times(n >= 1_000_000 ? 50 : 100, () => campaignStatus(rt.store, rt.queues, name));
          // Before the indexes: the same call scanning the rows hash.
          await c.hdel(store.keys.campaign(name), INDEXED_FIELD);
          const scanned = await times(n >= 1_000_000 ? 3 : n >= 100_000 ? 10 : 50, () => campaignStatus(rt.store, rt.queues, name));
          await c.hset(store.keys.campaign(name), INDEXED_FIELD, INDEX_VERSION);
          // The CLI: each status run next to a start-up floor run, so both see the same machine load.
          const viaCli: number[] = [];
          const floor: number[] = [];
          for (let i = 0; i < cliRuns; i++) {
            viaCli.push(...(await times(1, cli(['status', name, '--json']))));
            floor.push(...(await times(1, cli(['--help']))));
          }
          const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
          base ??= median(ours);
          const size = n.toLocaleString('en-US');
          const flat = n === sizes[0] ? {} : { target: `flat: ≤ 2× the ${sizes[0]!.toLocaleString('en-US')}-row median`, met: median(ours) <= 2 * base };
          rows.push({
            bench: label, metric: `campaignStatus at ${size} rows`, unit: 'ms', ours: median(ours), raw: median(scanned), ...{ target: '', met: null }, ...flat,
            note: `${fmtMs(ours)}; raw (rows hash scanned, as before) ${fmtMs(scanned)}; seeded in ${seedS.toFixed(1)} s; load average ${load} after`,
          });
          rows.push({
            bench: label, metric: `status --json CLI at ${size} rows`, unit: 'ms', ours: median(viaCli), raw: median(floor), target: '', met: null,
            note: `${fmtMs(viaCli)}; raw = \`dialer --help\`, the start-up floor, run alternately with it (${fmtMs(floor)}); load average ${load} after`,
          });
          await store.deleteCampaign(name);
        }
      } finally {
        await rt.close();
        c.disconnect();
      }
      return rows;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
