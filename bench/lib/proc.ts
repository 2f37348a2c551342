import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PROFILE_DIR = path.join(REPO, 'bench', 'profiles');
/** Where `tsc` put the JS the children run from; unset: from source through tsx. */
export const BUILD_DIR = path.join(REPO, 'bench', '.build');
let built = false;

/**
 * Compiles src/ and bench/ with tsc (no type check: other engineers' work in
 * progress must not stop a bench) so the measured processes run plain Node, as
 * the `dialer` bin does in production: no tsx loader thread, no tsx in the
 * phone worker, whose memory would otherwise be counted against us.
 */
export function buildForBench(): void {
  // BENCH_REUSE_BUILD=1: keep an existing build (e.g. one patched by hand to try a fix).
  if (process.env.BENCH_REUSE_BUILD === '1' && existsSync(path.join(BUILD_DIR, 'src'))) {
    built = true;
    return;
  }
  const r = spawnSync(process.execPath, [path.join(REPO, 'node_modules/typescript/bin/tsc'), '-p', path.join(REPO, 'tsconfig.json'), '--outDir', BUILD_DIR, '--noCheck', '--sourceMap', 'false'], { cwd: REPO, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`tsc build for the bench failed (exit ${r.status})`);
  // tsc copies no assets: the server's page files go beside its compiled code, as the Dockerfile does for dist/.
  cpSync(path.join(REPO, 'src/server/public'), path.join(BUILD_DIR, 'src/server/public'), { recursive: true });
  built = true;
}

export function runsBuilt(): boolean {
  return built;
}

/** How to start a repo file (e.g. 'src/cli/main.ts'): compiled JS when built, else through tsx. */
export function entry(file: string): { file: string; execArgv: string[] } {
  if (built) return { file: path.join(BUILD_DIR, file.replace(/\.ts$/, '.js')), execArgv: [] };
  return { file: path.resolve(REPO, file), execArgv: ['--import', 'tsx'] };
}

/** CPU seconds (user + system) a process has used so far (Linux /proc), or 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100 on Linux)
  } catch {
    return 0;
  }
}

/** Resident set size of a process in bytes (Linux /proc; covers all its threads), or null once it is gone. */
export function rssOf(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** This process's peak RSS (kernel high-water mark), for a child to report before it exits. */
export function selfPeakRss(): number {
  return rssOf(process.pid, 'VmHWM') ?? process.memoryUsage().rss;
}

export interface RssTrace {
  /** [ms since start, bytes] every `everyMs`. */
  samples: [number, number][];
  peak: number;
  /** Median RSS of the last quarter of the run minus that of its second quarter: ~0 when flat. */
  growth: number;
}

/** Samples a process's RSS until stopped. */
export function sampleRss(pid: number, everyMs = 100): { stop(): RssTrace } {
  const t0 = Date.now();
  const samples: [number, number][] = [];
  const take = () => {
    const v = rssOf(pid);
    if (v !== null) samples.push([Date.now() - t0, v]);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : 0);
      const q = Math.floor(samples.length / 4);
      const v = samples.map((s) => s[1]);
      return { samples, peak: Math.max(0, ...v), growth: samples.length >= 8 ? median(v.slice(3 * q)) - median(v.slice(q, 2 * q)) : 0 };
    },
  };
}

/**
 * Every child a bench started and that still runs: stopped when the bench is
 * interrupted (Ctrl-C, a `kill` of the bench), so no worker, poller or
 * simulator is left running on its own, loading the machine for the next run.
 */
const running = new Set<ChildProcess>();
let stopOnSignal = false;
export function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (stopOnSignal) return;
  stopOnSignal = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const c of running) c.kill('SIGKILL');
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

export interface TsChild {
  child: ChildProcess;
  /** Resolves with the first IPC message of this type (rejects if the child exits first). */
  message<T = Record<string, unknown>>(type: string, timeoutMs?: number): Promise<T>;
  send(msg: Record<string, unknown>): void;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
  /** Lets it exit on its own (a CPU profile is written at exit) for up to `graceMs`, then kills it. */
  end(graceMs?: number): Promise<void>;
}

/** Node flags that write CPU profiles into bench/profiles/<name>-<time>/ (one file per thread). */
export function profileArgs(name: string | undefined): string[] {
  return name ? ['--cpu-prof', `--cpu-prof-dir=${path.join(PROFILE_DIR, `${name}-${new Date().toISOString().replace(/[:.]/g, '')}`)}`] : [];
}

/**
 * Runs a repo file (e.g. 'bench/children/x.ts') in its own Node process with an
 * IPC channel. `profile` adds `--cpu-prof` (profiles in bench/profiles/).
 */
export function spawnTs(file: string, args: string[] = [], opts: { env?: NodeJS.ProcessEnv; profile?: string; quiet?: boolean; nodeArgs?: string[] } = {}): TsChild {
  const e = entry(file);
  const execArgv = [...e.execArgv, ...(opts.nodeArgs ?? []), ...profileArgs(opts.profile)];
  const child = fork(e.file, args, {
    cwd: REPO,
    execArgv,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', opts.quiet ? 'ignore' : 'inherit', 'inherit', 'ipc'],
  });
  track(child);
  const inbox: Record<string, unknown>[] = [];
  const waiters: { type: string; resolve: (m: Record<string, unknown>) => void }[] = [];
  child.on('message', (m: Record<string, unknown>) => {
    const i = waiters.findIndex((w) => w.type === m.type);
    if (i === -1) inbox.push(m);
    else waiters.splice(i, 1)[0]!.resolve(m);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    send: (msg) => {
      if (child.connected) child.send(msg);
    },
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    async end(graceMs = 10_000) {
      let timer: NodeJS.Timeout | undefined;
      const late = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)))]);
      clearTimeout(timer);
      if (late && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
    message<T>(type: string, timeoutMs = 600_000): Promise<T> {
      const i = inbox.findIndex((m) => m.type === type);
      if (i !== -1) return Promise.resolve(inbox.splice(i, 1)[0] as T);
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${file}: no "${type}" message within ${timeoutMs} ms`)), timeoutMs);
        const w = { type, resolve: (m: Record<string, unknown>) => { clearTimeout(timer); resolve(m as T); } };
        waiters.push(w);
        void exited.then((code) => {
          if (!waiters.includes(w)) return;
          waiters.splice(waiters.indexOf(w), 1);
          clearTimeout(timer);
          const late = inbox.find((m) => m.type === type);
          if (late) resolve(late as T);
          else reject(new Error(`${file} exited (${code}) before sending "${type}"`));
        });
      });
    },
  };
}

/** In a child: sends a message to the parent and waits until it is on its way. */
export function tell(msg: Record<string, unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error('not started with an IPC channel (run through bench/run.ts)'));
    process.send(msg, undefined, {}, (e) => (e ? reject(e) : resolve()));
  });
}

/** In a child: waits for a message of this type from the parent. */
export function heard<T = Record<string, unknown>>(type: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: Record<string, unknown>) => {
      if (m.type !== type) return;
      process.off('message', on);
      resolve(m as T);
    };
    process.on('message', on);
  });
}

export interface CliProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** SIGTERM (the CLI drains), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

/** Runs the dialer CLI (`src/cli/main.ts <args>`) as its own process; stderr (its log) passes through, or goes to `logFile` if given. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv, opts: { profile?: string; logFile?: string } = {}): CliProcess {
  const e = entry('src/cli/main.ts');
  const err = opts.logFile ? openSync(opts.logFile, 'w') : 'inherit';
  const child = spawn(process.execPath, [...e.execArgv, ...profileArgs(opts.profile), e.file, ...args], { cwd: REPO, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'ignore', err] });
  track(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    async stop(graceMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}
