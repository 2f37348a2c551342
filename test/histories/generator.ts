/**
 * A history: one campaign's configuration and a list of steps (operator
 * commands, process kills, Redis restarts, API fault phases, pauses between
 * them), drawn from a seed. The same seed always gives the same history; the
 * runner (runner.ts) plays it against real processes.
 */
import { mulberry32, type Rng } from '../../src/simulator/prng.js';
import { historyContacts } from './contacts.js';

/** Long-running processes a step may kill -9 (each is restarted after `downMs`). */
export type ProcName = 'worker0' | 'worker1' | 'poller' | 'serve';

/** API faults in force from this step until the next `faults` step (all transient ones stop before the checks). */
export interface FaultPhase {
  error5xxRate: number;
  hangRate: number;
  dropRate: number;
  rejectRate: number;
  /** POST /calls per second the simulator admits; 0 = no limit. 1 or 2 makes a 429 storm. */
  rateLimit: number;
  /** Slow lookups, [min, max] ms added to every GET /calls; null = none. */
  lookupLatencyMs: [number, number] | null;
}

export type Step =
  /** `dialer load`; `wait: false` runs it in the background, racing the next steps (and maybe killed by `killLoad`). */
  | { op: 'load'; wait: boolean }
  /**
   * kill -9 of a background load still running, as soon as the campaign shows `loading` (nothing when none runs);
   * of a background `append`, `afterMs` after its load lease is seen (it never makes the campaign `loading`).
   */
  | { op: 'killLoad'; afterMs?: number }
  /**
   * SIGSTOP of a background load once the campaign shows `loading`, SIGCONT after `ms`: the next steps meet a half-done load.
   * With `reload` (a re-load of a loaded campaign, which is never `loading`): once it wrote the campaign's settings
   * (`config_version` grew), before its rows and its end.
   */
  | { op: 'stallLoad'; ms: number; reload?: true }
  | { op: 'pause' }
  | { op: 'resume' }
  | { op: 'cancel' }
  | { op: 'dlqRetry' }
  /** `dialer forget` of the number of input row `row` (clamped to the list). */
  | { op: 'forget'; row: number }
  /** Duplicate and out-of-order webhook events to `serve` for up to `calls` existing calls (earlier calls of a row too). */
  | { op: 'webhooks'; calls: number }
  | { op: 'kill'; proc: ProcName; downMs: number }
  /** SIGKILL of redis-server, restarted on the same port and AOF after `downMs`. */
  | { op: 'redisRestart'; downMs: number }
  | { op: 'faults'; faults: FaultPhase }
  /**
   * `dialer archive <campaign>` (refused while the campaign runs). With
   * `killAfterMs` it runs in the background and gets a kill -9 that many ms
   * after it was first seen committing a block: a half-done archive.
   */
  | { op: 'archive'; killAfterMs?: number }
  /**
   * `dialer load <campaign> --append appendN.csv` (N = `n`): a small extra list (append-steps.ts writes it from
   * `rows`); `wait: false` runs it in the background, racing the next steps (a `killLoad` may follow).
   */
  | { op: 'append'; n: number; rows: AppendRow[]; wait: boolean }
  | { op: 'sleep'; ms: number };

/**
 * A row of an appended list. `id` names its content ("n.j": row j of append n); a row repeating a row of an
 * earlier append file carries that row's id (and so its content, cell for cell). Its number is new (no other
 * id has it), that of input row `base` of the first list, or impossible (`invalid`).
 */
export interface AppendRow {
  id: string;
  base?: number;
  invalid?: true;
}

export interface HistoryConfig {
  /** Data rows; a few are duplicates and invalid numbers (see contacts.ts). */
  contacts: number;
  /** Adds a CSV column named `outcome` (a row variable, not a result). */
  outcomeColumn: boolean;
  /** Rows whose numbers are in the campaign's suppression file. */
  suppressed: number;
  workers: 1 | 2;
  /** Runs `dialer serve` (needed by `webhooks` steps; may be killed). */
  serve: boolean;
  redial: { outcomes: ('no-answer' | 'busy' | 'voicemail' | 'failed')[]; max: number; afterSeconds: number } | null;
  onAmbiguous: 'skip' | 'redial';
  retryAttempts: number;
  rate: number;
  concurrency: number;
  /** Share of calls whose lookups always fail (kept after the faults stop: a record the API can't serve). */
  lookupFailRate: number;
  /** Poll timeout, seconds: a call not final by then ends `unknown`. */
  pollTimeoutSeconds: number;
  /** Faults from the start. */
  faults: FaultPhase;
  /** `max_live_calls`: calls placed and not yet ended, at most (absent: no cap). */
  maxLiveCalls?: number;
  /** `schedule.end_after`, seconds: past it no row is dialed, the rest end `expired` (absent: no deadline). */
  deadlineSeconds?: number;
  /** DIALER_ARCHIVE_AFTER_MINUTES of every `dialer` process (absent: unset, an hour, so never within a history). */
  archiveAfterMinutes?: number;
  /** After the settle: export, `dialer archive`, export again (the same), re-load the list (nobody is called). */
  archiveCheck?: boolean;
}

export interface History {
  seed: number;
  config: HistoryConfig;
  steps: Step[];
}

export const NO_FAULTS: FaultPhase = { error5xxRate: 0, hangRate: 0, dropRate: 0, rejectRate: 0, rateLimit: 0, lookupLatencyMs: null };

const int = (rng: Rng, min: number, max: number) => min + Math.floor(rng() * (max - min + 1));
const chance = (rng: Rng, p: number) => rng() < p;
function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)]!;
}
function weighted<T extends string>(rng: Rng, w: Record<T, number>): T {
  const entries = Object.entries(w) as [T, number][];
  let r = rng() * entries.reduce((s, [, v]) => s + v, 0);
  for (const [k, v] of entries) if ((r -= v) < 0) return k;
  return entries[entries.length - 1]![0];
}

function faultPhase(rng: Rng): FaultPhase {
  const kind = weighted(rng, { calm: 2, errors: 3, storm: 2, slow: 2, mixed: 2 });
  const f: FaultPhase = { ...NO_FAULTS };
  if (kind === 'errors' || kind === 'mixed') {
    f.error5xxRate = pick(rng, [0.05, 0.15, 0.3]);
    f.hangRate = pick(rng, [0, 0.05, 0.1]);
    f.dropRate = pick(rng, [0, 0.05, 0.1]);
    f.rejectRate = pick(rng, [0, 0.1, 0.2]);
  }
  if (kind === 'storm' || (kind === 'mixed' && chance(rng, 0.5))) f.rateLimit = pick(rng, [1, 2]);
  if (kind === 'slow' || (kind === 'mixed' && chance(rng, 0.5))) f.lookupLatencyMs = pick(rng, [[200, 800], [500, 2500]] as [number, number][]);
  return f;
}

/** The history of `seed`. */
export function generate(seed: number): History {
  const rng = mulberry32(seed * 2654435761);
  const serve = chance(rng, 0.5);
  const config: HistoryConfig = {
    contacts: int(rng, 20, 60),
    outcomeColumn: chance(rng, 0.2),
    suppressed: chance(rng, 0.4) ? int(rng, 1, 3) : 0,
    workers: chance(rng, 0.3) ? 2 : 1,
    serve,
    redial: chance(rng, 0.4) ? { outcomes: ['no-answer', 'busy', 'voicemail'], max: int(rng, 1, 2), afterSeconds: pick(rng, [0, 1, 2]) } : null,
    onAmbiguous: chance(rng, 0.6) ? 'redial' : 'skip',
    retryAttempts: int(rng, 2, 4),
    rate: pick(rng, [10, 20, 40]),
    concurrency: pick(rng, [3, 5, 10]),
    lookupFailRate: chance(rng, 0.15) ? 0.1 : 0,
    pollTimeoutSeconds: 6,
    faults: chance(rng, 0.5) ? faultPhase(rng) : { ...NO_FAULTS },
  };
  // Later dimensions draw from a stream of their own, so a seed's earlier history stays as it was.
  const more = mulberry32(seed * 40503 + 7);
  if (chance(more, 0.35)) config.maxLiveCalls = int(more, 1, 3);
  if (chance(more, 0.25)) config.deadlineSeconds = int(more, 4, 15);

  // The archive's dimensions: a stream of their own too.
  const arch = mulberry32(seed * 69069 + 13);
  if (chance(arch, 0.7)) config.archiveAfterMinutes = pick(arch, [0.01, 0.02, 0.03, 0.05]);
  if (chance(arch, 0.5)) config.archiveCheck = true;

  const steps: Step[] = [];
  /** Where each iteration of the steps loop ended (an `archive` step may go there). */
  const ends: number[] = [];
  const sleep = () => steps.push({ op: 'sleep', ms: int(rng, 100, 1200) });
  // The first load: awaited, or racing what follows.
  steps.push({ op: 'load', wait: chance(rng, 0.6) });
  const procs: ProcName[] = ['worker0', 'poller', ...(config.workers === 2 ? ['worker1' as const] : []), ...(serve ? ['serve' as const] : [])];
  const n = int(rng, 3, 8);
  let canceled = false;
  for (let i = 0; i < n; i++) {
    sleep();
    const op = weighted(rng, {
      reload: 6, killLoad: 3, stallLoad: 3, pause: 6, resume: 5, cancel: canceled ? 0 : 2, dlqRetry: 4, forget: 4,
      webhooks: serve ? 6 : 0, kill: 10, redisRestart: 3, faults: 8,
    });
    if (op === 'cancel') canceled = true;
    if (op === 'reload') steps.push({ op: 'load', wait: chance(rng, 0.5) });
    else if (op === 'killLoad') {
      // A load killed half-way: start one in the background, kill it a moment later, load again later on.
      steps.push({ op: 'load', wait: false }, { op: 'sleep', ms: int(rng, 300, 1500) }, { op: 'killLoad' });
      if (chance(rng, 0.8)) steps.push({ op: 'sleep', ms: int(rng, 100, 800) }, { op: 'load', wait: chance(rng, 0.5) });
    } else if (op === 'stallLoad') {
      // A load frozen half-way while the operator pauses, cancels or loads again.
      const then = pick(rng, canceled ? ['pause', 'load'] as const : ['cancel', 'pause', 'load'] as const);
      if (then === 'cancel') canceled = true;
      steps.push({ op: 'load', wait: false }, { op: 'stallLoad', ms: int(rng, 3000, 6000) }, then === 'load' ? { op: 'load', wait: true } : { op: then });
    } else if (op === 'forget') steps.push({ op: 'forget', row: int(rng, 1, config.contacts) });
    else if (op === 'webhooks') steps.push({ op: 'webhooks', calls: int(rng, 2, 8) });
    else if (op === 'kill') steps.push({ op: 'kill', proc: pick(rng, procs), downMs: int(rng, 0, 1500) });
    else if (op === 'redisRestart') steps.push({ op: 'redisRestart', downMs: int(rng, 200, 1500) });
    else if (op === 'faults') steps.push({ op: 'faults', faults: faultPhase(rng) });
    else steps.push({ op });
    ends.push(steps.length);
  }
  sleep();
  // `archive` steps, weighted low, from the archive's stream (the other steps stay what they were):
  // after any step, and more likely at the end, when the campaign is likelier to be done.
  const archiveStep = (): Step[] => [
    { op: 'sleep', ms: int(arch, 100, 1200) },
    chance(arch, 0.5) ? { op: 'archive', killAfterMs: chance(arch, 0.5) ? 0 : int(arch, 1, 300) } : { op: 'archive' },
  ];
  const at = [...ends.filter(() => chance(arch, 0.1)), ...(chance(arch, 0.3) ? [steps.length] : [])];
  const inserts: [number, Step[]][] = at.reverse().map((i) => [i, archiveStep()]);
  inserts.push(...appendSteps(mulberry32(seed * 48271 + 29), config, steps, ends));
  // From the last place to the first, so each index holds (at one place the append steps come before the archive step).
  inserts.sort((a, b) => b[0] - a[0]);
  for (const [i, s] of inserts) steps.splice(i, 0, ...s);
  return { seed, config, steps };
}

/**
 * `append` steps, from a stream of their own (`rng`): the other steps stay what they were. After the first load
 * and after any step (0.12 each), more likely at the end (0.3); each 3-8 rows, in the foreground, in the
 * background, or in the background killed -9 0-40 ms after its lease is seen. Returns [index, steps] into `steps`.
 */
function appendSteps(rng: Rng, config: HistoryConfig, steps: Step[], ends: number[]): [number, Step[]][] {
  const at = [1, ...ends].filter(() => chance(rng, 0.12));
  if (chance(rng, 0.3)) at.push(steps.length);
  // Numbers of the first list an appended row may carry: valid ones no forget step erases (what erasure makes of
  // a number given again after it is a question of its own).
  const rows = historyContacts(config).rows;
  const forgotten = new Set(steps.flatMap((s) => {
    if (s.op !== 'forget') return [];
    let i = Math.min(s.row, rows.length) - 1;
    if (rows[i]!.expect === 'rejected') i = (i + 1) % rows.length;
    return [rows[i]!.phone];
  }));
  const bases = rows.filter((r) => r.expect !== 'rejected' && !forgotten.has(r.phone)).map((r) => r.row);
  const earlier: AppendRow[] = [];
  const out: [number, Step[]][] = [];
  for (const [k, i] of at.entries()) {
    const n = k + 1;
    const list: AppendRow[] = [];
    const count = int(rng, 3, 8);
    for (let j = 1; j <= count; j++) {
      const kind = weighted(rng, { fresh: 6, base: bases.length ? 1.5 : 0, repeat: earlier.length ? 1.5 : 0, invalid: 1 });
      if (kind === 'repeat') {
        const r = pick(rng, earlier);
        if (!list.some((x) => x.id === r.id)) list.push(r); // identical rows in one file are a case of their own
      } else list.push({ id: `${n}.${j}`, ...(kind === 'base' ? { base: pick(rng, bases) } : kind === 'invalid' ? { invalid: true as const } : {}) });
    }
    earlier.push(...list.filter((r) => r.id.startsWith(`${n}.`)));
    const how = weighted(rng, { wait: 4, background: 3, killed: 3, midReload: 1 });
    const s: Step[] = [{ op: 'sleep', ms: int(rng, 100, 1200) }];
    // A re-load of the list frozen half-way while the append runs to its end, then let go.
    if (how === 'midReload') s.push({ op: 'load', wait: false }, { op: 'stallLoad', ms: int(rng, 3500, 5000), reload: true });
    s.push({ op: 'append', n, rows: list, wait: how === 'wait' || how === 'midReload' });
    if (how === 'killed') s.push({ op: 'killLoad', afterMs: int(rng, 0, 40) });
    out.push([i, s]);
  }
  return out;
}

/** One line per step, for reports. */
export function describeStep(s: Step): string {
  switch (s.op) {
    case 'load': return `load${s.wait ? '' : ' (background)'}`;
    case 'forget': return `forget row ${s.row}`;
    case 'webhooks': return `webhooks for ${s.calls} calls`;
    case 'kill': return `kill -9 ${s.proc} (down ${s.downMs} ms)`;
    case 'redisRestart': return `redis restart (down ${s.downMs} ms)`;
    case 'faults': return `faults ${JSON.stringify(s.faults)}`;
    case 'sleep': return `sleep ${s.ms} ms`;
    case 'stallLoad': return `stall ${s.reload ? 're-load (once its settings are in)' : 'load'} ${s.ms} ms`;
    case 'append': return `append ${s.n}: ${s.rows.map((r) => (r.invalid ? `${r.id} invalid` : r.base ? `${r.id} number of row ${r.base}` : r.id)).join(', ')}${s.wait ? '' : ' (background)'}`;
    case 'killLoad': return `killLoad${s.afterMs === undefined ? '' : ` (an append: ${s.afterMs} ms after its lease)`}`;
    case 'archive': return `archive${s.killAfterMs === undefined ? '' : ` (background, kill -9 ${s.killAfterMs} ms after its first block)`}`;
    default: return s.op;
  }
}
