/**
 * Bench 7 — what confirming `sending` costs. The dial path of bench 2 (our
 * WorkerService with the production gate) on a private Redis with one
 * connected replica: with DIALER_DURABLE_DIALS=auto each dial waits for
 * `WAIT 1` between LEDGER_BEGIN and the POST, with `off` it does not. The raw
 * BullMQ worker runs on the same kind of server. WAIT blocks the store's
 * connection until the replica acknowledges, so every concurrent dial's next
 * command queues behind it: that, not the replica's own work, is the cost.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { scaled, type BenchOptions } from './lib/args.js';
import { contactsFile } from './lib/contacts.js';
import { median } from './lib/measure.js';
import type { Row } from './lib/table.js';
import { variant, type Result } from './dial.js';

const CONCURRENCY = 50;

export async function durableBench(o: BenchOptions): Promise<Row[]> {
  const n = scaled(20_000, o.scale, 100);
  const csv = await contactsFile('clean', n);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-durable-'));
  const replica = { replica: true };
  try {
    const runs = o.repeat ?? (o.scale < 0.05 ? 1 : 3);
    const ours = (setting: 'auto' | 'off') => () =>
      variant(n, 'bench/children/dial-ours.ts', (r, s) => [r, s, csv, dir, '100000', String(CONCURRENCY), 'gate', setting], undefined, replica);
    const variants = {
      raw: () => variant(n, 'bench/children/dial-raw.ts', (r, s) => [r, s, csv, String(CONCURRENCY), 'dial'], undefined, replica),
      wait: ours('auto'),
      off: ours('off'),
    };
    type K = keyof typeof variants;
    const got: Record<K, Result[]> = { raw: [], wait: [], off: [] };
    // The machine is shared: alternate the order so a busy spell doesn't land on one side only.
    for (let i = 0; i < runs; i++) {
      const order: K[] = i % 2 ? ['off', 'wait', 'raw'] : ['raw', 'wait', 'off'];
      for (const k of order) got[k].push(await variants[k]());
    }
    if (got.wait.some((r) => r.waits < 1)) throw new Error(`auto on a server with a replica sent ${got.wait.map((r) => r.waits.toFixed(2)).join(', ')} WAITs per contact, expected ≥ 1`);
    if (got.off.some((r) => r.waits > 0)) throw new Error('DIALER_DURABLE_DIALS=off sent WAIT');
    // Of each run's pair, the run with the median wait/off ratio: measured side by side.
    const ratios = got.wait.map((r, i) => r.rate / got.off[i]!.rate);
    const pick = ratios.indexOf(median(ratios));
    const [raw, wait, off] = [got.raw[pick]!, got.wait[pick]!, got.off[pick]!];
    const per = ratios.map((r) => r.toFixed(2)).join(', ');
    return [
      {
        bench: '7 durable', metric: `${n.toLocaleString('en')} contacts, 1 replica, WAIT before each POST`, unit: 'calls/s', ours: wait.rate, raw: raw.rate,
        target: '(diagnostic)', met: null,
        note: `DIALER_DURABLE_DIALS=auto on a private Redis with one connected replica: WAIT 1 after LEDGER_BEGIN, POST only once a replica holds \`sending\` (${wait.waits.toFixed(2)} WAIT per contact); concurrency ${CONCURRENCY}; raw = BullMQ + got on the same kind of server; ${runs} alternating run(s), the one with the median with/without ratio shown; with/without per run: ${per}`,
      },
      {
        bench: '7 durable', metric: 'same, DIALER_DURABLE_DIALS=off', unit: 'calls/s', ours: off.rate, raw: raw.rate, target: '(diagnostic)', met: null,
        note: `the confirmation's cost: ${((1 - wait.rate / off.rate) * 100).toFixed(0)}% of the dial rate in the run shown; Redis commands per contact with ${wait.cmds.toFixed(1)}, without ${off.cmds.toFixed(1)}`,
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
