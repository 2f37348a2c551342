/**
 * Loader throughput with zones resolved: 100k mixed AU/US contacts loaded
 * into Redis through the gate's load screen (suppression, consent/erasure, zone label
 * per row), timed end to end; the same list without a screen for comparison.
 *
 *   npx tsx bench/loader-zones.ts [rows=100000]
 *
 * Needs Redis (REDIS_URL, default 127.0.0.1:6379); uses and deletes its own prefix.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { parseCampaign, type Campaign } from '../src/config/campaign.js';
import { readEnv } from '../src/config/env.js';
import { loadCampaign } from '../src/loader/load.js';
import { createLogger } from '../src/log.js';
import { openRuntime } from '../src/runtime.js';
import { createLoadScreen } from '../src/gate/index.js';
import { addManyToSuppression } from '../src/gate/suppression.js';

const ROWS = Number(process.argv[2] ?? 100_000);
/** Area code and a first digit that is a real exchange range there. */
const AU_LANDLINE = [['2', '9'], ['3', '9'], ['7', '3'], ['8', '8']] as const;
const US_AREA = ['212', '305', '415', '512', '617', '702', '808', '850', '907', '713'];

function contacts(n: number): string {
  const out = ['name,phone,city'];
  for (let i = 0; i < n; i++) {
    const k = String(i).padStart(6, '0');
    switch (i % 4) {
      case 0: out.push(`Person ${i},0412 ${k.slice(0, 3)} ${k.slice(3)},Sydney`); break; // AU mobile: 7 zones
      case 1: {
        const [area, first] = AU_LANDLINE[(i >> 2) % AU_LANDLINE.length]!;
        out.push(`Person ${i},(0${area}) ${first}${k.slice(0, 3)} ${k.slice(3)}1,Here`); // AU landlines: 1–3 zones
        break;
      }
      default: out.push(`Person ${i},+1 ${US_AREA[i % US_AREA.length]} 2${k.slice(0, 2)} ${k.slice(2)},There`); // US by area code
    }
  }
  return out.join('\n') + '\n';
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-zones-'));
  const csv = path.join(dir, 'contacts.csv');
  await writeFile(csv, contacts(ROWS));
  const prefix = `bench-zones-${process.pid}`;
  const rt = await openRuntime({ ...readEnv(), prefix }, { log: createLogger('warn') });
  const campaign = (name: string): Campaign =>
    parseCampaign(JSON.stringify({ name, assistant_id: 'A1', contacts: 'contacts.csv', default_country: 'AU', calling_hours: { preset: 'au-telemarketing' } }), 'bench.json', dir);
  console.log(`load average before: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} cores (wall-clock figures need a quiet machine)`);
  try {
    // A realistic global list: 10k numbers, a few of which are in the file.
    await addManyToSuppression(rt.store, Array.from({ length: 10_000 }, (_, i) => `+61412${String(i * 40).padStart(6, '0')}`));
    const runs: [string, boolean][] = [['without screen', false], ['with zones + suppression screen', true], ['with zones + suppression screen (again)', true]];
    for (const [label, screened] of runs) {
      const c = campaign(`bench-${runs.findIndex((r) => r[0] === label)}`);
      const t0 = process.hrtime.bigint();
      const cpu0 = process.cpuUsage();
      const sum = await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => rt.clock.now(), screen: screened ? createLoadScreen(rt) : undefined }, c);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      const zoned = screened ? Number(await rt.redis.hlen(rt.store.keys.rows(c.name))) : 0;
      console.log(`${label.padEnd(40)} ${sum.rows} rows in ${ms.toFixed(0)} ms = ${Math.round(sum.rows / (ms / 1000)).toLocaleString('en')} rows/s (accepted ${sum.accepted}, screened ${sum.screened}, rejected ${sum.rejected}${screened ? `, ${zoned} rows stored` : ''}); this process used ${cpuMs.toFixed(0)} ms CPU (all threads)`);
      await rt.queues.get(c.name).obliterate({ force: true });
    }
    // The screen alone (no load around it): its CPU cost per row.
    const c = campaign('bench-screen');
    const screen = createLoadScreen(rt);
    const recs = Array.from({ length: ROWS }, (_, i) => ({ row: i + 1, name: 'x', phone: i % 2 ? `+61412${String(i).padStart(6, '0')}` : `+1212${String(2000000 + i).slice(0, 7)}` }));
    await screen(c, recs[0]!);
    const t1 = process.hrtime.bigint();
    for (const r of recs) await screen(c, r);
    const screenMs = Number(process.hrtime.bigint() - t1) / 1e6;
    console.log(`${'screen alone'.padEnd(40)} ${ROWS} rows in ${screenMs.toFixed(0)} ms = ${((screenMs * 1000) / ROWS).toFixed(2)} µs/row`);
    const sample = await rt.store.getRows('bench-1', [1, 2, 3]);
    console.log('sample timezone labels:', sample.map((r) => r?.timezone));
  } finally {
    const redis = new Redis(rt.env.redisUrl);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    await redis.quit();
    await rt.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
