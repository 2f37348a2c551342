/**
 * The chaos harness: a real campaign on real processes (simulator, Redis,
 * `dialer load`, N `dialer worker`, one `dialer poller`), with workers (and
 * optionally the poller and Redis) killed at random moments, then a verdict
 * from the simulator's own records. Used by `npm run chaos`,
 * test/chaos.test.ts and test/redis-kill.test.ts.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { Redis } from 'ioredis';
import { freePort, startLocalRedis, type LocalRedis } from '../../src/cli/local-redis.js';
import { Keys } from '../../src/store/keys.js';
import { indexDrift } from '../helpers/index-drift.js';
import type { RequestLogEntry } from '../../src/simulator/index.js';
import { makeContacts } from './contacts.js';
import { alive, kill9, listSimCalls, runCli, spawnCli, stop, waitForPort, type Proc } from './procs.js';
import { verify, type Verdict } from './verify.js';

export interface ChaosOptions {
  contacts: number;
  /** Worker kills (kill -9, restarted at once). */
  kills: number;
  /** Poller kills (kill -9, restarted at once). */
  pollerKills: number;
  /** Redis kills (SIGKILL, restarted on the same port and dir after `redisDownMs`). */
  redisKills: number;
  redisDownMs: number;
  appendfsync: 'always' | 'everysec';
  /** Pause between worker kills, uniform in [min, max] ms. */
  killEveryMs: { min: number; max: number };
  /** The whole run must end within this (ms). */
  timeoutMs: number;
  /** Campaign rate (calls per second) and the simulator's limit (lower, so 429 bursts happen). */
  rate: number;
  simRateLimit: number;
  /**
   * Simulator response latency, "min-max" ms. The call exists from the moment
   * the request arrives, so a worker killed during this wait leaves a call its
   * ledger entry doesn't know about yet: the case a re-run must not dial again.
   */
  latencyMs: string;
  concurrency: number;
  workers: number;
  seed: number;
  onAmbiguous: 'skip' | 'redial-once' | 'redial';
  /** Which faults the simulator injects (see FAULT_MIXES). */
  faultMix: FaultMix;
  graceSeconds: number;
  /** Keep the run's directory (logs, results) even when every guarantee held. */
  keep: boolean;
  progress?: (line: string) => void;
}

export const DEFAULT_CHAOS: ChaosOptions = {
  contacts: 2000, kills: 20, pollerKills: 0, redisKills: 0, redisDownMs: 2000, appendfsync: 'everysec',
  killEveryMs: { min: 500, max: 2000 }, timeoutMs: 600_000, rate: 100, simRateLimit: 40, latencyMs: '10-200', concurrency: 10,
  workers: 3, seed: 7, onAmbiguous: 'redial', faultMix: 'default', graceSeconds: 3, keep: false,
};

/**
 * Simulator fault rates per POST /calls (5xx also hits GETs). `default` is the
 * harsh mix the kill runs use; `realistic` splits the 5xx into those that
 * created no call and those that did (a gateway that lost the reply), the
 * case that turns a contact `unknown` when no lookup can settle it.
 */
export const FAULT_MIXES = {
  default: { errorRate: 0.05, errorAfterCreateRate: 0, dropRate: 0.02, hangRate: 0.02 },
  realistic: { errorRate: 0.03, errorAfterCreateRate: 0.02, dropRate: 0.02, hangRate: 0.01 },
} as const;
export type FaultMix = keyof typeof FAULT_MIXES;

export interface ChaosReport extends Verdict {
  /** Where the logs, the simulator's request log and the results are. */
  dir: string;
}

const CAMPAIGN = 'chaos';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const between = (r: { min: number; max: number }) => r.min + Math.random() * (r.max - r.min);

export async function runChaos(partial: Partial<ChaosOptions> = {}): Promise<ChaosReport> {
  const o: ChaosOptions = { ...DEFAULT_CHAOS, ...partial };
  const say = o.progress ?? (() => undefined);
  const started = Date.now();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dialer-chaos-'));
  const failures: string[] = [];
  const { csv, rows } = makeContacts(o.contacts);
  await writeFile(path.join(dir, 'contacts.csv'), csv);
  const resultsFile = path.join(dir, 'results.csv');
  const campaignFile = path.join(dir, 'campaign.json');
  await writeFile(campaignFile, JSON.stringify({
    name: CAMPAIGN, assistant_id: 'asst_chaos', contacts: 'contacts.csv', results: path.join(dir, 'results-auto.csv'),
    rate: { calls: o.rate, per_seconds: 1 }, concurrency: o.concurrency,
    retry: { attempts: 5, backoff_ms: 200, max_backoff_ms: 2000 },
    on_ambiguous: o.onAmbiguous, ambiguous_grace_seconds: o.graceSeconds,
    poll: { interval_seconds: 0.5, timeout_minutes: 10 },
  }, null, 2));

  const redisDir = path.join(dir, 'redis');
  await mkdir(redisDir);
  let redis: LocalRedis = await startLocalRedis({ dir: redisDir, appendfsync: o.appendfsync });
  const simPort = await freePort();
  const simLog = path.join(dir, 'simulator-log.jsonl');
  const env: NodeJS.ProcessEnv = {
    ...process.env, REDIS_URL: redis.url, DIALER_PREFIX: `chaos-${o.seed}`, CALLEASE_API_KEY: 'sim-key',
    CALLEASE_BASE_URL: `http://127.0.0.1:${simPort}`, DIALER_HTTP_TIMEOUT_MS: '2000', DIALER_LOCK_MS: '6000', LOG_LEVEL: 'info',
  };
  for (const k of ['REDIS_CLUSTER_NODES', 'DIALER_NOW', 'CALLEASE_MAX_CALLS_PER_SECOND', 'CALLEASE_MAX_CONCURRENT_CALLS']) delete env[k];

  const mix = FAULT_MIXES[o.faultMix];
  const sim = spawnCli('simulator', [
    'simulate', '--port', String(simPort), '--seed', String(o.seed), '--duration-ms', '300-1500',
    '--error-rate', String(mix.errorRate), '--error-after-create-rate', String(mix.errorAfterCreateRate),
    '--hang-rate', String(mix.hangRate), '--drop-rate', String(mix.dropRate), '--rate-limit', String(o.simRateLimit),
    '--latency-ms', o.latencyMs, '--log', simLog,
  ], env, path.join(dir, 'simulator.out'));
  const procs: Proc[] = [];
  const kills = { workers: 0, poller: 0, redis: 0 };
  let done = false;
  let progress = 0;
  let redisDown = false;
  /** Redis outages [from, to]; a process started up to 3 s before or during one may fail its startup check. */
  const outages: [number, number][] = [];
  let refusedStarts = 0;
  let report: ChaosReport;
  try {
    await waitForPort(simPort);
    const load = await runCli(['load', campaignFile, '--json'], env);
    if (load.code !== 0) throw new Error(`dialer load failed (${load.code}): ${load.stderr}`);
    say(`loaded: ${load.stdout.replace(/\s+/g, ' ')}`);

    // One slot per long-running process; a killed one is replaced in its slot.
    // A process (re)started while Redis is down refuses to start ("cannot reach
    // Redis"), as a supervisor would see it: that is counted, not a failure, and
    // it is started again once Redis is back. Any other exit is a failure.
    const start = (i: number, role: 'worker' | 'poller') => {
      const logFile = path.join(dir, `${role}${i}.log`);
      const p = spawnCli(`${role}${i}`, [role], env, logFile);
      procs[i] = p;
      void p.exited.then(async (how) => {
        if (p.expectedExit || done) return;
        const tail = (await readFile(logFile, 'utf8')).slice(-2000);
        const inOutage = outages.some(([from, to]) => p.startedAt >= from - 3000 && p.startedAt <= to);
        if (/cannot reach Redis/.test(tail) && inOutage) refusedStarts++;
        else failures.push(`${p.name} exited by itself (${how}); see ${logFile}`);
        while (redisDown && !done) await sleep(100);
        if (procs[i] === p && !done) start(i, role);
      });
    };
    for (let i = 0; i < o.workers; i++) start(i, 'worker');
    const pollerSlot = o.workers;
    start(pollerSlot, 'poller');

    const restartKill = async (i: number, role: 'worker' | 'poller') => {
      await kill9(procs[i]!);
      await sleep(Math.random() * 300);
      while (redisDown && !done) await sleep(100);
      if (!done) start(i, role);
    };
    const workerKills = (async () => {
      await sleep(1500);
      while (!done && kills.workers < o.kills) {
        await sleep(between(o.killEveryMs));
        if (done) break;
        // Spread the kills over the whole campaign: the k-th waits for k/(K+1) of the rows.
        if (progress < kills.workers / (o.kills + 1)) continue;
        // A worker still booting holds no jobs: pick one that has been up long enough to be dialing.
        const up = procs.slice(0, o.workers).map((p, i) => [p, i] as const).filter(([p]) => alive(p) && Date.now() - p.startedAt > 3000);
        if (up.length === 0) continue;
        const i = up[Math.floor(Math.random() * up.length)]![1];
        kills.workers++;
        await restartKill(i, 'worker');
      }
    })();
    const pollerKills = (async () => {
      while (!done && kills.poller < o.pollerKills) {
        await sleep(between(o.killEveryMs) * 4);
        if (done) break;
        kills.poller++;
        await restartKill(pollerSlot, 'poller');
      }
    })();
    const redisKills = (async () => {
      while (!done && kills.redis < o.redisKills) {
        await sleep(1000 + Math.random() * 2000);
        if (done) break;
        if (progress < (kills.redis + 1) / (o.redisKills + 1)) continue;
        kills.redis++;
        say(`killing redis (${kills.redis}/${o.redisKills})`);
        redisDown = true;
        const outage: [number, number] = [Date.now(), Infinity];
        outages.push(outage);
        redis.process.kill('SIGKILL');
        await new Promise((r) => (redis.process.exitCode !== null || redis.process.signalCode !== null ? r(null) : redis.process.once('exit', r)));
        await sleep(o.redisDownMs);
        redis = await startLocalRedis({ port: redis.port, dir: redisDir, appendfsync: o.appendfsync });
        redisDown = false;
        outage[1] = Date.now();
        say('redis is back');
      }
    })();

    // Progress is read straight from Redis (cheap); "done" is then confirmed by
    // `dialer status --json`, the way an operator would see it.
    const keys = new Keys(env.DIALER_PREFIX!);
    const peek = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: false });
    peek.on('error', () => undefined);
    let [last, lastState, saidAt] = ['', '' as string | null | undefined, 0];
    let finished = false;
    try {
      while (!finished && Date.now() - started < o.timeoutMs) {
        await sleep(1000);
        const res = await peek.multi().hget(keys.campaign(CAMPAIGN), 'state').hget(keys.campaign(CAMPAIGN), 'total')
          .hget(keys.counts(CAMPAIGN), 'finished').exec().catch(() => null);
        const [state, total, fin] = res ? res.map(([, v]) => v as string | null) : ['(redis down)', '?', '?'];
        progress = Number(total) ? Number(fin ?? 0) / Number(total) : 0;
        const line = `${state} ${fin ?? 0}/${total} final; kills ${kills.workers}w ${kills.poller}p ${kills.redis}r`;
        // A line every few seconds (and at each change of state) is enough to follow a run.
        if (line !== last && (Date.now() - saidAt > 4000 || state !== lastState)) {
          say(line);
          saidAt = Date.now();
        }
        [last, lastState] = [line, state];
        if (state !== 'done') continue;
        const st = await runCli(['status', CAMPAIGN, '--json'], env, 30_000);
        const s = st.code === 0 ? (JSON.parse(st.stdout) as { state: string; finished: number; total: number; pending: number }) : undefined;
        say(`dialer status --json: ${s ? `state ${s.state}, ${s.finished}/${s.total} final, ${s.pending} pending` : `failed (${st.code}) ${st.stderr.trim()}`}`);
        finished = s?.state === 'done';
      }
    } finally {
      peek.disconnect();
    }
    done = true;
    await Promise.all([workerKills, pollerKills, redisKills]);
    if (!finished) failures.push(`the campaign did not finish within ${o.timeoutMs / 1000} s (last status: ${last || 'none'})`);
    if (kills.workers < o.kills) failures.push(`only ${kills.workers} of ${o.kills} worker kills happened before the campaign finished`);
    if (kills.redis < o.redisKills) failures.push(`only ${kills.redis} of ${o.redisKills} Redis kills happened before the campaign finished`);

    const exp = await runCli(['export', CAMPAIGN, '--out', resultsFile], env);
    if (exp.code !== 0) throw new Error(`dialer export failed (${exp.code}): ${exp.stderr}`);
    const simCalls = await listSimCalls(simPort);
    await Promise.all(procs.map((p) => stop(p)));
    // At quiescence the status indexes (waiting rows, sending entries, ledger counts, call ids) agree with a scan.
    const check = new Redis(redis.url, { maxRetriesPerRequest: 3 });
    try {
      for (const d of await indexDrift(check, keys, CAMPAIGN)) failures.push(`index drift: ${d}`);
    } finally {
      check.disconnect();
    }
    await stop(sim);
    const log = (await readFile(simLog, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as RequestLogEntry);
    const results = parseCsv<Record<string, string>>(await readFile(resultsFile), { columns: true, skip_empty_lines: true });
    const verdict = verify({ rows, log, results, simCalls, kills, wallSeconds: (Date.now() - started) / 1000 });
    verdict.failures.unshift(...failures);
    verdict.figures.startsRefusedWhileRedisDown = refusedStarts;
    report = { ...verdict, dir };
  } finally {
    done = true;
    await Promise.all([...procs.filter(Boolean).map((p) => stop(p, 2000)), stop(sim, 2000)]);
    await redis.stop();
  }
  if (report.failures.length === 0 && !o.keep) await rm(dir, { recursive: true, force: true });
  return report;
}
