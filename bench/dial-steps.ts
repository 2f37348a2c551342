/**
 * Diagnostic for bench 2: the CPU each Redis step of a dial costs, Redis's and
 * this process's, one step at a time over every contact (50 in flight, no HTTP,
 * no BullMQ): the row read, the gate as the worker asks it (its Node checks;
 * on one Redis its Redis checks are left to DIAL_BEGIN, so it sends nothing),
 * DIAL_BEGIN (with the gate's checks), DIAL_PLACED, and a PING: not a step of
 * a dial, the cost of a bare round trip to compare the steps with. A private redis-server (AOF on, as
 * in the bench); figures are per contact.
 *
 *   npx tsx bench/dial-steps.ts [contacts=4000]
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { contactsFile } from './lib/contacts.js';
import { redisWork, withRedis } from './lib/redis.js';
import { benchCampaign, benchRuntime } from './lib/dialer.js';
import { loadCampaign } from '../src/loader/load.js';
import { createDialGate, createLoadScreen, type GateResult } from '../src/gate/index.js';
import { dialLimits, earlyMs } from '../src/dialer/rate.js';
import { knownWith, type LedgerEntry } from '../src/store/store.js';
import { triedWith } from '../src/campaign/alternates.js';
import type { RowRecord } from '../src/campaign/row.js';

/** CPU ms this process has used (user + system). */
function selfCpuMs(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

const n = Number(process.argv[2] ?? 4000);
const csv = await contactsFile('clean', n);
await withRedis(async (redis) => {
  const rt = await benchRuntime(redis.url, 'bench');
  const c = benchCampaign('dial', csv, '/tmp', { rate: { calls: 100000, per_seconds: 1 }, concurrency: 50 });
  await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => rt.clock.now(), screen: createLoadScreen(rt) }, c);
  const gate = createDialGate(rt);
  const rows = Array.from({ length: n }, (_, i) => i + 1);
  const recs = new Map<number, RowRecord>();
  const begun = new Map<number, LedgerEntry>();
  const gated = new Map<number, GateResult>();
  const admin = new Redis(redis.url);
  const step = async (name: string, fn: (row: number) => Promise<unknown>) => {
    const w0 = await redisWork(redis.url);
    const t0 = selfCpuMs();
    for (let i = 0; i < rows.length; i += 50) await Promise.all(rows.slice(i, i + 50).map(fn));
    const t1 = selfCpuMs();
    const w1 = await redisWork(redis.url);
    // INFO itself is 2 of the commands counted.
    const cmds = (w1.total - w0.total - 2) / n;
    process.stdout.write(`${name.padEnd(8)} Redis ${(((w1.cpuS - w0.cpuS) * 1e6) / n).toFixed(1).padStart(6)} µs  node ${(((t1 - t0) * 1000) / n).toFixed(1).padStart(6)} µs  ${cmds.toFixed(1)} commands\n`);
  };
  await step('ping', () => admin.ping());
  await step('read', async (row) => recs.set(row, (await rt.store.dial.read(c.name, row))[0]!));
  await step('gate', async (row) => gated.set(row, await gate(c, recs.get(row)!, { defer: true })));
  await step('begin', async (row) => {
    const rec = recs.get(row)!;
    const limits = dialLimits(c, undefined);
    const g = gated.get(row)!;
    if (g.action !== 'go') throw new Error(`row ${row}: the gate said ${g.action}`);
    const r = await rt.store.dial.begin(c.name, { number: rec.phone, row, token: `t${row}`, lockMs: 60_000, caps: { campaign: c.max_live_calls }, liveLeaseMs: 30_000, limits, earlyMs: earlyMs(limits), gate: g.deferred?.check });
    if (r.step !== 'ok') throw new Error(`row ${row}: DIAL_BEGIN said ${r.step}`);
    begun.set(row, r.entry);
  });
  await step('placed', async (row) => {
    const rec = recs.get(row)!;
    const b = begun.get(row)!;
    const now = Date.now();
    const id = `call_${row}`;
    await rt.store.dial.placed(c.name, {
      number: rec.phone, row, now: new Date(now),
      ledger: { from: ['sending'], patch: { s: 'placed', t: now, id, n: (b.n ?? 0) + 1, ids: knownWith(b, id) } },
      rowPatch: { numbers_tried: triedWith(rec.numbers_tried, rec.phone), call_id: id, attempts: b.a, status: 'queued', placed_at: now, error: null, http_status: null, next_at: null, job: null },
      pollAt: now + 1000,
      audit: { type: 'dial', row, number: 'masked', at: new Date(now).toISOString(), timezone: rec.timezone, consent: rec.consent, attempt: b.a, call_id: id, result: 'placed' },
    });
  });
  admin.disconnect();
  await rt.close();
});
process.exit(0);
