/**
 * Plays one history against real processes: a private redis-server (AOF,
 * fsync always), the project's simulator over real HTTP, `dialer worker`,
 * `dialer poller` and `dialer serve` kept running (restarted after each
 * kill -9), and the operator's commands as `dialer <command>` subprocesses.
 * Then the faults stop, the campaign gets a bounded time to settle, and
 * the evidence goes to invariants.ts.
 *
 * The simulator runs inside this process (still over HTTP) so that fault
 * phases can change during the history and stop before the checks: a
 * `dialer simulate` process keeps its faults for life, and restarting it
 * would forget its calls.
 */
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { Redis } from 'ioredis';
import { freePort, startLocalRedis, type LocalRedis } from '../../src/cli/local-redis.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { mulberry32 } from '../../src/simulator/prng.js';
import { Keys } from '../../src/store/keys.js';
import { alive, kill9, runCli, spawnCli, stop, waitForPort, type Proc } from '../chaos/procs.js';
import { Appends } from './append-steps.js';
import { archiveCheck as checkArchive, killedArchive, type ArchiveStepContext } from './archive-steps.js';
import { archiveSnapshot, type ArchiveSnapshot } from './archived.js';
import { historyContacts, type HistoryContacts } from './contacts.js';
import { describeStep, type FaultPhase, type History, type ProcName, type Step } from './generator.js';
import { checkInvariants, type ArchiveCheckEvidence, type Evidence, type StatusJson, type Violation } from './invariants.js';
import { shuffle, sleep } from './util.js';
import { postWebhooks, webhookEvents } from './webhooks.js';

export interface RunOptions {
  /** Keep the run directory even when every invariant held. */
  keep?: boolean;
  /** Longest wait for every row to be final once the faults stopped (ms); default 30 s. */
  settleMs?: number;
  /** Progress lines (verbose mode). */
  say?: (line: string) => void;
}

export interface HistoryReport {
  history: History;
  violations: Violation[];
  /** The history could not be played (harness trouble, not a finding about the dialer). */
  error?: string;
  /** Logs of every process, steps.log, the simulator's request log, results. */
  dir: string;
  seconds: number;
  figures: { rows: number; posts: number; calls: number; outcomes: Record<string, number> };
}

const CAMPAIGN = 'hist';
const TOKEN = 'histories-api-token-0123456789abcdef';
const COMMAND_TIMEOUT_MS = 30_000;

function simFaults(f: FaultPhase): Pick<SimulatorOptions, 'rateLimitPerSecond' | 'faults'> {
  return {
    rateLimitPerSecond: f.rateLimit,
    faults: {
      error5xxRate: f.error5xxRate, hangRate: f.hangRate, dropAfterCreateRate: f.dropRate, rejectRate: f.rejectRate,
      lookupLatencyMs: f.lookupLatencyMs ? { min: f.lookupLatencyMs[0], max: f.lookupLatencyMs[1] } : 0,
    },
  };
}

export async function runHistory(h: History, o: RunOptions = {}): Promise<HistoryReport> {
  const started = Date.now();
  const dir = await mkdtemp(path.join(os.tmpdir(), `dialer-hist-${h.seed}-`));
  const play = new Play(h, dir, historyContacts(h.config), o);
  let violations: Violation[] = [];
  let error: string | undefined;
  try {
    await play.setUp();
    for (const [i, s] of h.steps.entries()) await play.step(s, i);
    violations = checkInvariants(await play.settle());
  } catch (e) {
    error = (e as Error).stack ?? String(e);
  } finally {
    await play.close();
  }
  await writeFile(path.join(dir, 'history.json'), JSON.stringify(h, null, 2) + '\n');
  const posts = play.sim?.requests.filter((r) => r.method === 'POST' && r.path === '/calls').length ?? 0;
  const outcomes: Record<string, number> = {};
  for (const r of play.results ?? []) if (r.outcome) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
  const report: HistoryReport = {
    history: h, violations, error, dir, seconds: (Date.now() - started) / 1000,
    figures: { rows: h.config.contacts, posts, calls: play.sim?.calls.size ?? 0, outcomes },
  };
  if (!error && violations.length === 0 && !o.keep) await rm(dir, { recursive: true, force: true });
  return report;
}

class Play {
  sim?: Simulator;
  results: Record<string, string>[] | null = null;
  private redis?: LocalRedis;
  private env: NodeJS.ProcessEnv = {};
  private readonly slots = new Map<ProcName, Proc>();
  private readonly restarts: Promise<void>[] = [];
  private readonly loads = new Set<Proc>();
  private loadCount = 0;
  private needsLoad = true;
  private pausedEver = false;
  private canceled = false;
  private cancelUnsure = false;
  private redisDown = false;
  private readonly outages: [number, number][] = [];
  private closing = false;
  private servePort = 0;
  private readonly cancels: number[] = [];
  private readonly forgets: Evidence['forgets'] = [];
  private readonly forgetReports: NonNullable<Evidence['forgetReports']> = [];
  private archiveCount = 0;
  private appends?: Appends;
  private readonly crashes: string[] = [];
  private readonly stepsLog: string;
  private readonly t0 = Date.now();

  constructor(private readonly h: History, private readonly dir: string, private readonly contacts: HistoryContacts, private readonly o: RunOptions) {
    this.stepsLog = path.join(dir, 'steps.log');
  }

  private note(line: string): void {
    const l = `[+${String(Date.now() - this.t0).padStart(6)} ms] ${line}`;
    void appendFile(this.stepsLog, l + '\n').catch(() => undefined);
    this.o.say?.(l);
  }

  async setUp(): Promise<void> {
    const c = this.h.config;
    const { dir } = this;
    await writeFile(path.join(dir, 'contacts.csv'), this.contacts.csv);
    if (this.contacts.suppression.length) await writeFile(path.join(dir, 'suppression.csv'), ['phone', ...this.contacts.suppression].join('\n') + '\n');
    await writeFile(path.join(dir, 'campaign.json'), JSON.stringify({
      name: CAMPAIGN, assistant_id: 'asst_hist', contacts: 'contacts.csv', results: path.join(dir, 'results-auto.csv'),
      rate: { calls: c.rate, per_seconds: 1 }, concurrency: c.concurrency,
      retry: { attempts: c.retryAttempts, backoff_ms: 200, max_backoff_ms: 1000 },
      on_ambiguous: c.onAmbiguous, ambiguous_grace_seconds: 1,
      poll: { interval_seconds: 0.3, timeout_minutes: c.pollTimeoutSeconds / 60 },
      // A cap above any redial count: the cap is checked elsewhere, here it would only delay.
      frequency_cap: 10,
      ...(c.redial ? { redial: { outcomes: c.redial.outcomes, max: c.redial.max, after_minutes: c.redial.afterSeconds / 60 } } : {}),
      ...(this.contacts.suppression.length ? { suppression: 'suppression.csv' } : {}),
      ...(c.maxLiveCalls ? { max_live_calls: c.maxLiveCalls } : {}),
      ...(c.deadlineSeconds ? { schedule: { end_after: `${c.deadlineSeconds}s` } } : {}),
    }, null, 2));
    await mkdir(path.join(dir, 'redis'));
    this.redis = await startLocalRedis({ dir: path.join(dir, 'redis'), appendfsync: 'always' });
    this.sim = await startSimulator({
      port: 0, seed: this.h.seed, callDurationMs: { min: 300, max: 1200 }, logPath: path.join(dir, 'simulator-log.jsonl'),
      ...simFaults(c.faults), faults: { ...simFaults(c.faults).faults, lookupFailRate: c.lookupFailRate },
    });
    this.servePort = await freePort();
    this.env = {
      ...process.env, REDIS_URL: this.redis.url, DIALER_PREFIX: CAMPAIGN, CALLEASE_API_KEY: 'sim-key', CALLEASE_BASE_URL: this.sim.url,
      DIALER_HTTP_TIMEOUT_MS: '2000', DIALER_LOCK_MS: '6000', LOG_LEVEL: 'info', DIALER_HASH_KEY: 'histories-hash-key-0123456789',
      DIALER_API_TOKEN: TOKEN, DIALER_RESULTS_DIR: path.join(dir, 'results'),
    };
    // Workers archive the campaign a moment after it is done (racing the steps that follow); unset: an hour, never here.
    if (c.archiveAfterMinutes !== undefined) this.env.DIALER_ARCHIVE_AFTER_MINUTES = String(c.archiveAfterMinutes);
    else delete this.env.DIALER_ARCHIVE_AFTER_MINUTES;
    this.appends = new Appends({ dir, env: this.env, campaignFile: path.join(dir, 'campaign.json'), loads: this.loads, note: (l) => this.note(l) }, c, this.contacts.rows);
    for (const k of ['REDIS_CLUSTER_NODES', 'DIALER_NOW', 'CALLEASE_MAX_CALLS_PER_SECOND', 'CALLEASE_MAX_CONCURRENT_CALLS', 'DIALER_WEBHOOK_SECRET', 'PORT', 'HOST']) delete this.env[k];
    const names: ProcName[] = ['worker0', ...(c.workers === 2 ? ['worker1' as const] : []), 'poller', ...(c.serve ? ['serve' as const] : [])];
    for (const n of names) this.start(n);
    // A slow start on a busy machine is not a finding: webhooks sent before it listens just fail.
    if (c.serve) await waitForPort(this.servePort, 60_000).catch(() => this.note('serve is not listening after 60 s; going on'));
    this.note(`set up: redis ${this.redis.url}, simulator ${this.sim.url}, ${names.join(' ')}`);
  }

  /** A long-running process in its slot; one that exits by itself is noted (unless Redis was down) and started again. */
  private start(name: ProcName): void {
    const args = name === 'serve' ? ['serve', '--port', String(this.servePort)] : name === 'poller' ? ['poller'] : ['worker'];
    const logFile = path.join(this.dir, `${name}.log`);
    const p = spawnCli(name, args, this.env, logFile);
    this.slots.set(name, p);
    void p.exited.then(async (how) => {
      if (p.expectedExit || this.closing) return;
      const tail = (await readFile(logFile, 'utf8').catch(() => '')).slice(-3000);
      const nearOutage = this.redisDown || this.outages.some(([from, to]) => p.startedAt <= to + 2000 && Date.now() >= from);
      if (nearOutage && /redis|ECONNREFUSED/i.test(tail)) this.note(`${name} exited while Redis was down (${how}); restarting`);
      else this.crashes.push(`${name} exited by itself (${how}); see ${logFile}`);
      while (this.redisDown && !this.closing) await sleep(100);
      if (this.slots.get(name) === p && !this.closing) this.start(name);
    });
  }

  private async cli(args: string[], timeoutMs = COMMAND_TIMEOUT_MS) {
    const t = Date.now();
    const r = await runCli(args, this.env, timeoutMs);
    const first = (r.code === 0 ? r.stdout : r.stderr || r.stdout).trim().split('\n').slice(0, 2).join(' | ').slice(0, 200);
    this.note(`dialer ${args.join(' ')} → exit ${r.code} (${Date.now() - t} ms) ${first}`);
    return r;
  }
  /** What the archive steps (archive-steps.ts) act through. */
  private archiveContext(): ArchiveStepContext {
    return { dir: this.dir, redisUrl: this.redis!.url, env: this.env, campaign: CAMPAIGN, note: (l) => this.note(l), cli: (args) => this.cli(args) };
  }


  async step(s: Step, index: number): Promise<void> {
    if (s.op !== 'sleep') this.note(`step ${index}: ${describeStep(s)}`);
    switch (s.op) {
      case 'sleep':
        await sleep(s.ms);
        return;
      case 'load':
        return this.load(s.wait);
      case 'killLoad':
        return this.killLoad(s.afterMs);
      case 'stallLoad':
        return this.stallLoad(s.ms, s.reload);
      case 'pause':
      case 'resume':
        if (s.op === 'pause') this.pausedEver = true;
        await this.cli([s.op, CAMPAIGN, '--json']);
        return;
      case 'cancel':
        return this.cancel();
      case 'dlqRetry':
        await this.cli(['dlq', 'retry', CAMPAIGN, '--json']);
        return;
      case 'forget': {
        // An invalid number can't be forgotten (forget refuses it): take the row after it.
        const rows = this.contacts.rows;
        let i = Math.min(s.row, rows.length) - 1;
        if (rows[i]!.expect === 'rejected') i = (i + 1) % rows.length;
        const row = rows[i]!;
        const r = await this.cli(['forget', row.phone, '--json']);
        if (r.stdout.trim().startsWith('{')) {
          this.forgets.push({ row: row.row, phone: row.phone, at: Date.now() });
          try {
            const rep = JSON.parse(r.stdout) as { leftovers?: string[]; campaigns?: { deferred?: number }[] };
            const deferred = (rep.campaigns ?? []).reduce((n, c) => n + (c.deferred ?? 0), 0);
            this.forgetReports.push({ row: row.row, phone: row.phone, leftovers: rep.leftovers ?? [], deferred });
            if (deferred) this.note(`forget: ${deferred} row(s) in flight, their erasure waits for the call to end`);
          } catch {
            this.note(`dialer forget: unreadable JSON output`);
          }
        }
        return;
      }
      case 'webhooks':
        return this.webhooks(s.calls, index);
      case 'kill': {
        const p = this.slots.get(s.proc);
        if (!p) return; // not part of this history's configuration (after shrinking)
        await kill9(p);
        this.restarts.push((async () => {
          await sleep(s.downMs);
          while (this.redisDown && !this.closing) await sleep(100);
          if (!this.closing && this.slots.get(s.proc) === p) this.start(s.proc);
        })());
        return;
      }
      case 'redisRestart':
        return this.restartRedis(s.downMs);
      case 'faults':
        this.sim!.setOptions(simFaults(s.faults));
        return;
      case 'append':
        return this.appends!.step(s.n, s.rows, s.wait);
      case 'archive':
        if (s.killAfterMs === undefined) await this.cli(['archive', CAMPAIGN, '--json']);
        else this.restarts.push(killedArchive(this.archiveContext(), `archive${++this.archiveCount}`, s.killAfterMs));
        return;
    }
  }



  /** `dialer load`; in the background it races the next steps and may be killed. */
  private async load(wait: boolean): Promise<void> {
    const name = `load${++this.loadCount}`;
    const logFile = path.join(this.dir, `${name}.log`);
    const p = spawnCli(name, ['load', path.join(this.dir, 'campaign.json'), '--json'], this.env, logFile);
    this.loads.add(p);
    const done = p.exited.then(async (how) => {
      this.loads.delete(p);
      if (p.expectedExit) return; // killed: needsLoad was set
      const text = await readFile(logFile, 'utf8').catch(() => '');
      // Loading a canceled campaign is refused, as it should be: nothing left to load.
      if (how === 0 || /was canceled/.test(text)) this.needsLoad = false;
      else this.needsLoad = true;
      const said = text.split('\n').find((l) => /campaign loaded|error:/.test(l)) ?? '';
      this.note(`${name} → exit ${how} ${said.slice(0, 200)}`);
    });
    if (wait) await done;
  }

  /**
   * kill -9 of the background loads, aimed at the middle of the load: as soon
   * as the campaign shows `loading` in Redis (a small list loads in a few
   * ms, so a fixed delay would mostly hit before or after), else after 5 s.
   */
  private async killLoad(afterMs?: number): Promise<void> {
    const state = await this.untilLoading();
    if (afterMs) await sleep(afterMs);
    for (const p of [...this.loads]) {
      const running = alive(p);
      await kill9(p);
      // A killed append is run again in the settle (append-steps.ts); a killed load is loaded again.
      if (!this.appends!.procs.has(p)) this.needsLoad = true;
      this.note(`killed ${p.name}${running ? '' : ' (it had exited)'} (campaign state ${state ?? 'none'}${afterMs === undefined ? '' : `, ${afterMs} ms later`})`);
    }
  }

  /** SIGSTOP of the background loads once the campaign shows `loading`, SIGCONT `ms` later: the next steps meet a load half-way. */
  private async stallLoad(ms: number, reload?: boolean): Promise<void> {
    const state = reload ? await this.untilSettingsWritten() : await this.untilLoading();
    const frozen = [...this.loads];
    for (const p of frozen) p.child.kill('SIGSTOP');
    this.note(`stopped ${frozen.map((p) => p.name).join(', ') || 'no load'} (campaign state ${state ?? 'none'}) for ${ms} ms`);
    this.restarts.push(sleep(ms).then(() => {
      for (const p of frozen) if (alive(p)) p.child.kill('SIGCONT');
    }));
  }

  /** Waits (at most 5 s) until a background load runs and wrote the campaign's settings (its config_version grew). */
  private async untilSettingsWritten(): Promise<string | null> {
    if (this.loads.size === 0) return null;
    const peek = new Redis(this.redis!.url, { maxRetriesPerRequest: 1 });
    peek.on('error', () => undefined);
    const version = () => peek.hget(new Keys(CAMPAIGN).campaign(CAMPAIGN), 'config_version').catch(() => null);
    try {
      const from = await version();
      for (const until = Date.now() + 5000; Date.now() < until && this.loads.size > 0; await sleep(3)) {
        const v = await version();
        if (v !== from) return `settings written (version ${from} → ${v})`;
      }
      return `settings not written (version ${from})`;
    } finally {
      peek.disconnect();
    }
  }

  /**
   * Waits (at most 5 s) until a background load runs and the campaign shows `loading`, or (an append never makes
   * it `loading`) a background append holds the load lease; the state last seen ('lease' for the append's).
   */
  private async untilLoading(): Promise<string | null> {
    if (this.loads.size === 0) return null;
    const keys = new Keys(CAMPAIGN);
    const peek = new Redis(this.redis!.url, { maxRetriesPerRequest: 1 });
    peek.on('error', () => undefined);
    let state: string | null = null;
    try {
      for (const until = Date.now() + 5000; Date.now() < until && this.loads.size > 0; await sleep(3)) {
        const [st, owner] = await peek.hmget(keys.campaign(CAMPAIGN), 'state', 'load_owner').catch(() => [null, null]);
        state = st ?? null;
        if (state === 'loading') break;
        const pids = [...this.loads].filter((p) => this.appends!.procs.has(p)).map((p) => `|${p.child.pid}|`);
        if (owner && pids.some((p) => owner.includes(p))) {
          state = `${state ?? 'none'}, an append's lease`;
          break;
        }
      }
    } finally {
      peek.disconnect();
    }
    return state;
  }

  private async cancel(): Promise<void> {
    const r = await this.cli(['cancel', CAMPAIGN, '--json']);
    let was: string | undefined;
    try {
      was = r.code === 0 ? (JSON.parse(r.stdout) as { state?: string }).state : undefined;
    } catch {
      // no report: taken as a cancel
    }
    if (was === 'done') {
      // Nothing to cancel (control.ts): the campaign stays done, and an append runs it again, as it may.
      this.note('cancel: the campaign was done, nothing canceled (it stays done)');
      this.cancelUnsure = false;
    } else if (r.code === 0) {
      this.cancels.push(Date.now());
      this.canceled = true;
      this.cancelUnsure = false;
    } else if (!/no campaign named/.test(r.stderr)) this.cancelUnsure = true;
  }

  private async webhooks(n: number, index: number): Promise<void> {
    const phones = new Set([...this.contacts.rows.map((r) => r.phone), ...this.appends!.phones()]);
    const rng = mulberry32(this.h.seed * 31 + index);
    const calls = shuffle([...this.sim!.calls.values()].filter((c) => phones.has(c.phoneNumber)), rng).slice(0, n);
    const events = webhookEvents(calls.map((c) => ({ id: c.id, phone: c.phoneNumber, outcome: c.outcome })), rng);
    const r = await postWebhooks(this.servePort, TOKEN, events);
    this.note(`webhooks: ${r.sent} accepted, ${r.failed} failed, for ${calls.length} calls`);
  }

  private async restartRedis(downMs: number): Promise<void> {
    const redis = this.redis!;
    this.redisDown = true;
    const outage: [number, number] = [Date.now(), Infinity];
    this.outages.push(outage);
    const gone = new Promise((r) => (redis.process.exitCode !== null || redis.process.signalCode !== null ? r(null) : redis.process.once('exit', r)));
    redis.process.kill('SIGKILL');
    await gone;
    await sleep(downMs);
    this.redis = await startLocalRedis({ port: redis.port, dir: redis.dir, appendfsync: 'always' });
    this.redisDown = false;
    outage[1] = Date.now();
    this.note('redis is back');
  }

  /**
   * The faults stop (except calls whose lookups always fail: that record
   * stays broken), every process is up again, and the operator finishes what
   * a history may leave half-done: a killed load is run again, a pause ends, a
   * cancel that failed is repeated. Then the campaign gets `settleMs` to end.
   */
  async settle(): Promise<Evidence> {
    this.note('faults stop; settling');
    this.sim!.setOptions({ rateLimitPerSecond: 0, faults: { error5xxRate: 0, hangRate: 0, dropAfterCreateRate: 0, rejectRate: 0, lookupLatencyMs: 0, latencyMs: 0 } });
    await Promise.all(this.restarts);
    await Promise.race([Promise.all([...this.loads].map((p) => p.exited)), sleep(COMMAND_TIMEOUT_MS)]);
    if (this.cancelUnsure) await this.cancel();
    else if (!this.canceled) {
      if (this.needsLoad) await this.load(true);
      if (this.pausedEver) await this.cli(['resume', CAMPAIGN, '--json']);
    }
    // Appends killed or failed on the way run again (idempotent); refused as canceled, they stay so.
    await this.appends!.settle();
    await this.waitUntilFinal(this.o.settleMs ?? 30_000);
    const [st, exp] = await Promise.all([
      this.cli(['status', CAMPAIGN, '--json']),
      this.cli(['export', CAMPAIGN, '--out', path.join(this.dir, 'results.csv')]),
    ]);
    let status: StatusJson | null = null;
    let statusError: string | undefined;
    try {
      status = st.code === 0 ? (JSON.parse(st.stdout) as StatusJson) : null;
      if (!status) statusError = `exit ${st.code}: ${st.stderr.trim()}`;
    } catch (e) {
      statusError = `unreadable output: ${(e as Error).message}`;
    }
    let resultsError: string | undefined;
    if (exp.code === 0) this.results = parseCsv<Record<string, string>>(await readFile(path.join(this.dir, 'results.csv')), { columns: true, skip_empty_lines: true });
    else resultsError = `exit ${exp.code}: ${exp.stderr.trim()}`;
    const first = await this.snapshot();
    const indexes = first.drift;
    let archiveCheck: ArchiveCheckEvidence | undefined;
    let last = first;
    if (this.h.config.archiveCheck && status && status.pending === 0 && (status.state === 'done' || status.state === 'canceled') && this.results) {
      archiveCheck = await checkArchive(this.archiveContext(), status.state, this.results, this.forgetReports.some((f) => f.deferred > 0), this.appends!.appendFiles());
      last = await this.snapshot();
      indexes.push(...last.drift.map((d) => `after the archive check: ${d}`));
    }
    await this.sim!.flushLog();
    return {
      rows: this.contacts.rows,
      requests: [...this.sim!.requests],
      calls: [...this.sim!.calls.values()].map((c) => ({ id: c.id, phone: c.phoneNumber, createdAt: c.createdAt, endsAt: c.createdAt + c.plannedMs, outcome: c.outcome, lookupFails: Boolean(c.lookupFails) })),
      status, statusError, results: this.results, resultsError,
      cancels: this.cancels, forgets: this.forgets, redial: this.h.config.redial, crashes: this.crashes,
      maxLiveCalls: this.h.config.maxLiveCalls, indexDrift: indexes,
      forgetReports: this.forgetReports, archiveBlocks: last.blocks, archiveCheck, appends: this.appends!.evidence,
    };
  }

  /**
   * The status indexes against a scan of the rows and the ledger, from one
   * atomic snapshot, rows and ledger entries in archive blocks included
   * (archived.ts); and the text of every block.
   */
  private async snapshot(): Promise<ArchiveSnapshot> {
    const peek = new Redis(this.redis!.url, { maxRetriesPerRequest: 3 });
    peek.on('error', () => undefined);
    try {
      return await archiveSnapshot(peek, new Keys(CAMPAIGN), CAMPAIGN);
    } catch (e) {
      return { drift: [`could not read the indexes: ${(e as Error).message}`], blocks: [] };
    } finally {
      peek.disconnect();
    }
  }

  /**
   * Reads progress straight from Redis (cheap); the verdict is then `dialer status --json`'s.
   * `ms` is the longest wait without a row ending (a capped campaign, one call live at a
   * time, may still be making steady progress at the end of it), at most 4 × `ms` in all.
   */
  private async waitUntilFinal(ms: number): Promise<void> {
    const keys = new Keys(CAMPAIGN);
    const peek = new Redis(this.redis!.url, { maxRetriesPerRequest: 1 });
    peek.on('error', () => undefined);
    const hardUntil = Date.now() + 4 * ms;
    let until = Date.now() + ms;
    let last = '';
    let finished = -1;
    try {
      while (Date.now() < Math.min(until, hardUntil)) {
        const res = await peek.multi().hget(keys.campaign(CAMPAIGN), 'state').hget(keys.campaign(CAMPAIGN), 'total').hget(keys.counts(CAMPAIGN), 'finished').exec().catch(() => null);
        const [state, total, fin] = res ? res.map(([, v]) => v as string | null) : [null, null, null];
        last = `${state} ${fin ?? 0}/${total}`;
        if (Number(fin ?? 0) > finished) {
          finished = Number(fin ?? 0);
          until = Date.now() + ms;
        }
        if (state === null && res) break; // no campaign at all
        if (Number(total) > 0 && Number(fin) >= Number(total)) break;
        await sleep(300);
      }
    } finally {
      peek.disconnect();
    }
    this.note(`settled: ${last}`);
  }

  /** Stops everything this history started; never throws. */
  async close(): Promise<void> {
    this.closing = true;
    for (const p of this.loads) if (alive(p)) p.child.kill('SIGCONT');
    await Promise.allSettled([...this.restarts]);
    await Promise.allSettled([...this.slots.values()].map((p) => stop(p, 3000)));
    await Promise.allSettled([...this.loads].map((p) => kill9(p)));
    await this.sim?.close().catch(() => undefined);
    await this.redis?.stop().catch(() => undefined);
    // Processes restarted while we were stopping the others.
    await Promise.allSettled([...this.slots.values()].filter(alive).map((p) => kill9(p)));
  }
}
