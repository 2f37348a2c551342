/**
 * `npm run bench`: every bench, our figure next to the raw stack's measured in
 * the same run, one table; figures appended to bench/RESULTS.md with the date,
 * cores and Node version. Options: see lib/args.ts (BENCH_SCALE=0.01 for a quick run).
 */
import { appendFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BENCHES, readOptions, type BenchName, type BenchOptions } from './lib/args.js';
import { buildForBench, REPO, runsBuilt } from './lib/proc.js';
import { formatTable, type Row } from './lib/table.js';
import { capacityBench } from './capacity.js';
import { dialBench } from './dial.js';
import { drainBench } from './drain.js';
import { durableBench } from './durable.js';
import { loaderBench } from './loader.js';
import { memoryBench } from './memory.js';
import { pollerBench } from './poller.js';
import { rateBench } from './rate.js';
import { suppressionBench } from './suppression.js';

const benches: Record<BenchName, (o: BenchOptions) => Promise<Row[]>> = {
  loader: loaderBench,
  dial: dialBench,
  rate: rateBench,
  memory: memoryBench,
  poller: pollerBench,
  drain: drainBench,
  durable: durableBench,
  capacity: capacityBench,
  suppression: suppressionBench,
};

const o = readOptions();
if (o.build) {
  process.stderr.write('compiling src/ and bench/ with tsc for the measured processes…\n');
  buildForBench();
}
const started = new Date();

async function one(name: BenchName): Promise<Row[]> {
  const t0 = Date.now();
  process.stderr.write(`bench ${name}…\n`);
  try {
    return await benches[name](o);
  } catch (e) {
    process.exitCode = 1;
    process.stderr.write(`bench ${name} failed: ${(e as Error).stack}\n`);
    return [{ bench: `${BENCHES.indexOf(name) + 1} ${name}`, metric: 'FAILED', unit: '', ours: null, raw: null, target: '', met: false, note: (e as Error).message }];
  } finally {
    process.stderr.write(`bench ${name} took ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  }
}

const rows: Row[] = [];
if (o.parallel) rows.push(...(await Promise.all(o.only.map(one))).flat());
else for (const name of o.only) rows.push(...(await one(name)));
const mode = runsBuilt() ? 'measured processes run tsc output with plain node (as the dialer bin)' : 'measured processes run from source through tsx (--no-build): RSS includes tsx';
const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, ${os.platform()} ${os.release()}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`;
const flags = [o.only.length < BENCHES.length ? `--only ${o.only.join(',')}` : '', o.parallel ? '--parallel' : '', o.build ? '' : '--no-build', o.profile ? '--profile' : '', o.repeat ? `--repeat ${o.repeat}` : ''].filter(Boolean).join(' ');
const command = `BENCH_SCALE=${o.scale} npm run bench${flags ? ` -- ${flags}` : ''}`;
const table = formatTable(rows);
process.stdout.write(`\n${command}\n${machine}\n${mode}\n\n${table}\n`);
if (o.record) {
  const entry = `\n## ${started.toISOString()}\n\n\`${command}\`  \n${machine}  \n${mode}\n\n${table}\n`;
  await appendFile(path.join(REPO, 'bench', 'RESULTS.md'), entry);
}
