/**
 * `npm run chaos:histories -- --seeds 300 --parallel 2 [--shrink]`
 * `npm run chaos:histories -- --seed 17 --verbose --keep`
 * `npm run chaos:histories -- --replay shrunk.json`
 *
 * Plays randomized histories (generator.ts) against real processes and
 * checks the invariants (invariants.ts) after each. One line per seed, then
 * `N passed, M failed`. With --shrink, each distinct kind of failure is
 * shrunk and printed as JSON to paste into regressions.json. Exits 1 when
 * any history failed.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { describeStep, generate, type History } from './generator.js';
import { runHistory, type HistoryReport } from './runner.js';
import { shrink } from './shrink.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string' }, from: { type: 'string' }, seed: { type: 'string' }, parallel: { type: 'string' },
    replay: { type: 'string' }, shrink: { type: 'boolean' }, 'shrink-budget': { type: 'string' }, 'shrink-max': { type: 'string' },
    'settle-ms': { type: 'string' }, keep: { type: 'boolean' }, verbose: { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean' },
  },
});

const USAGE = `usage: npm run chaos:histories -- [--seeds N [--from S] | --seed S | --replay file.json] [flags]
  --seeds N          play seeds S..S+N-1 (S = --from, default 1)
  --seed S           play one seed
  --replay FILE      play the history (or regression entry, or array of them) in FILE
  --parallel P       histories at once (default 1; 2 on a 2-core machine)
  --shrink           shrink each distinct kind of failure and print it as JSON
  --shrink-budget R  re-runs per shrink (default 16)
  --shrink-max K     most failures to shrink (default 3)
  --settle-ms MS     longest wait for every row to be final after the faults stop (default 30000)
  --keep             keep run directories of passing histories too
  --verbose          print each step as it happens
  --out FILE         write every report (histories, violations, figures) as JSON`;

if (values.help) {
  process.stdout.write(USAGE + '\n');
  process.exit(0);
}
const num = (v: string | undefined, def: number) => {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`expected a whole number, got "${v}"\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
};

/** A history, a regression entry ({history}), or an array of either. */
async function readHistories(file: string): Promise<History[]> {
  const raw = JSON.parse(await readFile(file, 'utf8')) as unknown;
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((x) => ((x as { history?: History }).history ?? x) as History);
}

const histories: History[] = values.replay
  ? await readHistories(values.replay)
  : values.seed !== undefined
    ? [generate(num(values.seed, 1))]
    : Array.from({ length: num(values.seeds, 10) }, (_, i) => generate(num(values.from, 1) + i));
const parallel = Math.max(1, num(values.parallel, 1));
const opts = { keep: values.keep, settleMs: num(values['settle-ms'], 30_000), say: values.verbose ? (l: string) => process.stdout.write(`  ${l}\n`) : undefined };

/** "seed 18: VIOLATION [1] 12 of 40 rows still pending …" */
function line(r: HistoryReport): string {
  const head = `seed ${r.history.seed}:`;
  if (r.error) return `${head} ERROR ${r.seconds.toFixed(1)}s (harness: ${r.error.split('\n')[0]}) logs: ${r.dir}`;
  if (r.violations.length === 0) return `${head} ok ${r.seconds.toFixed(1)}s (${r.figures.rows} rows, ${r.figures.posts} POSTs, ${r.figures.calls} calls)`;
  const [first, ...more] = r.violations;
  return `${head} VIOLATION [${first!.invariant}] ${first!.message}${more.length ? ` (+${more.length} more)` : ''} ${r.seconds.toFixed(1)}s logs: ${r.dir}`;
}

function details(r: HistoryReport): string {
  return [
    ...r.violations.map((v) => `    [${v.invariant}] ${v.message}`),
    `    steps: ${r.history.steps.filter((s) => s.op !== 'sleep').map(describeStep).join('; ')}`,
  ].join('\n');
}

const reports: HistoryReport[] = [];
let next = 0;
const started = Date.now();
await Promise.all(Array.from({ length: parallel }, async () => {
  while (next < histories.length) {
    const h = histories[next++]!;
    const r = await runHistory(h, opts);
    reports.push(r);
    process.stdout.write(line(r) + '\n' + (r.violations.length ? details(r) + '\n' : ''));
  }
}));

const failed = reports.filter((r) => r.error || r.violations.length);
process.stdout.write(`${reports.length - failed.length} passed, ${failed.length} failed (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);

/** Failures of the same kind: the invariants broken and the first message without its numbers. */
const signature = (r: HistoryReport) => `${[...new Set(r.violations.map((v) => v.invariant))].join(',')}|${(r.violations[0]?.message ?? '').replace(/[\d:.+-]+/g, '#').replace(/call_[0-9a-f]+/g, 'call').slice(0, 60)}`;

if (values.shrink && failed.length) {
  const seen = new Set<string>();
  const toShrink = failed.filter((r) => !r.error && !seen.has(signature(r)) && seen.add(signature(r))).slice(0, num(values['shrink-max'], 3));
  for (const r of toShrink) {
    const want = r.violations[0]!.invariant;
    process.stdout.write(`\nshrinking seed ${r.history.seed} (invariant ${want}, ${r.history.steps.length} steps, ${r.history.config.contacts} rows)\n`);
    const stillFails = async (h: History) => (await runHistory(h, { settleMs: opts.settleMs })).violations.some((v) => v.invariant === want);
    const s = await shrink(r.history, stillFails, num(values['shrink-budget'], 16), (l) => process.stdout.write(l + '\n'));
    const entry = { name: `seed ${r.history.seed}: ${r.violations[0]!.message.slice(0, 100)}`, invariant: want, open: true, history: s.history };
    process.stdout.write(`shrunk in ${s.runs} runs to ${s.history.steps.length} steps, ${s.history.config.contacts} rows; for regressions.json:\n${JSON.stringify(entry)}\n`);
  }
}
if (values.out) await writeFile(values.out, JSON.stringify(reports, null, 2) + '\n');
process.exitCode = failed.length ? 1 : 0;
