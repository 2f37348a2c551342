/**
 * `npm run chaos [-- --contacts 2000 --kills 20 --duration-s 600 --fault-mix realistic --out figures.json]`
 *
 * Runs a campaign on real processes while killing workers at random, then
 * proves from the simulator's request log that nobody was called twice and
 * every row got its outcome. Exits 1 when a guarantee failed.
 * Every flag has an environment twin: CHAOS_CONTACTS, CHAOS_KILLS, ...
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { DEFAULT_CHAOS, FAULT_MIXES, runChaos, type ChaosOptions, type FaultMix } from './harness.js';
import { formatFigures } from './verify.js';

const FLAGS = {
  contacts: 'number of contacts (rows) in the campaign',
  kills: 'worker kills (kill -9, each restarted)',
  'poller-kills': 'poller kills',
  'redis-kills': 'Redis kills (SIGKILL, restarted on the same port and data dir)',
  'redis-down-ms': 'how long Redis stays down after each kill',
  'duration-s': 'the longest the whole run may take, seconds',
  'kill-every-ms': 'pause between worker kills, "min-max" ms',
  rate: 'campaign rate, calls per second',
  'sim-rate-limit': 'simulator POST /calls limit per second (below the rate, so 429 bursts happen)',
  'latency-ms': 'simulator response latency, "min-max" ms (a kill in this wait leaves a created call unanswered)',
  concurrency: 'campaign concurrency',
  workers: 'worker processes',
  seed: 'simulator seed',
  'on-ambiguous': 'skip | redial-once | redial',
  'fault-mix': 'simulator faults: default (5% 5xx, 2% hangs, 2% drops) | realistic (3% 5xx, 2% 5xx after creating the call, 2% drops, 1% hangs)',
  'grace-s': 'ambiguous_grace_seconds',
  appendfsync: 'always | everysec',
  out: 'also write the figures (and failures) to this JSON file',
} as const;

function usage(): string {
  return ['usage: npm run chaos -- [flags]', ...Object.entries(FLAGS).map(([k, v]) => `  --${k.padEnd(15)} ${v}  (env CHAOS_${k.toUpperCase().replace(/-/g, '_')})`), '  --keep            keep the run directory', '  --help'].join('\n');
}

const { values } = parseArgs({
  options: {
    ...Object.fromEntries(Object.keys(FLAGS).map((k) => [k, { type: 'string' as const }])),
    keep: { type: 'boolean' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  process.stdout.write(usage() + '\n');
  process.exit(0);
}

/** The flag's value, else CHAOS_<FLAG>, else undefined. */
function get(flag: keyof typeof FLAGS): string | undefined {
  const v = (values as Record<string, string | undefined>)[flag];
  return v ?? process.env[`CHAOS_${flag.toUpperCase().replace(/-/g, '_')}`];
}
function num(flag: keyof typeof FLAGS, def: number): number {
  const v = get(flag);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`--${flag} must be a number, got "${v}"\n${usage()}\n`);
    process.exit(2);
  }
  return n;
}

function faultMix(v: string | undefined): FaultMix {
  if (v === undefined) return DEFAULT_CHAOS.faultMix;
  if (v in FAULT_MIXES) return v as FaultMix;
  process.stderr.write(`--fault-mix must be one of ${Object.keys(FAULT_MIXES).join(', ')}, got "${v}"\n${usage()}\n`);
  process.exit(2);
}

const range = (get('kill-every-ms') ?? `${DEFAULT_CHAOS.killEveryMs.min}-${DEFAULT_CHAOS.killEveryMs.max}`).split('-').map(Number);
const opts: ChaosOptions = {
  ...DEFAULT_CHAOS,
  contacts: num('contacts', DEFAULT_CHAOS.contacts),
  kills: num('kills', DEFAULT_CHAOS.kills),
  pollerKills: num('poller-kills', DEFAULT_CHAOS.pollerKills),
  redisKills: num('redis-kills', DEFAULT_CHAOS.redisKills),
  redisDownMs: num('redis-down-ms', DEFAULT_CHAOS.redisDownMs),
  timeoutMs: num('duration-s', DEFAULT_CHAOS.timeoutMs / 1000) * 1000,
  killEveryMs: { min: range[0] ?? 500, max: range[1] ?? range[0] ?? 2000 },
  rate: num('rate', DEFAULT_CHAOS.rate),
  simRateLimit: num('sim-rate-limit', DEFAULT_CHAOS.simRateLimit),
  latencyMs: get('latency-ms') ?? DEFAULT_CHAOS.latencyMs,
  concurrency: num('concurrency', DEFAULT_CHAOS.concurrency),
  workers: num('workers', DEFAULT_CHAOS.workers),
  seed: num('seed', DEFAULT_CHAOS.seed),
  onAmbiguous: (['skip', 'redial-once'] as const).find((v) => v === get('on-ambiguous')) ?? 'redial',
  faultMix: faultMix(get('fault-mix')),
  graceSeconds: num('grace-s', DEFAULT_CHAOS.graceSeconds),
  appendfsync: get('appendfsync') === 'always' ? 'always' : 'everysec',
  keep: Boolean(values.keep),
  progress: (line) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`),
};

const report = await runChaos(opts);
process.stdout.write(`\n${formatFigures(report.figures)}\n\n`);
if (report.failures.length) {
  process.stdout.write(`FAILED: ${report.failures.length} broken guarantee(s):\n${report.failures.map((f) => `  - ${f}`).join('\n')}\nlogs kept in ${report.dir}\n`);
} else {
  process.stdout.write(`every guarantee held${opts.keep ? `; logs in ${report.dir}` : ''}\n`);
}
const out = get('out');
if (out) await writeFile(out, JSON.stringify({ options: { ...opts, progress: undefined }, figures: report.figures, failures: report.failures, dir: report.dir }, null, 2) + '\n');
process.exitCode = report.failures.length ? 1 : 0;
