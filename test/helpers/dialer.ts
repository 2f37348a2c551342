/**
 * Helpers for the dialer's integration tests: a runtime on the real Redis
 * under a test-only key prefix, campaign files on disk, the dial loop run
 * in-process, and the CLI run as a subprocess.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import { stringify as toYaml } from 'yaml';
import { loadCampaignFile, type Campaign } from '../../src/config/campaign.js';
import { readEnv, type Env } from '../../src/config/env.js';
import { Dialer } from '../../src/dialer.js';
import type { LoadSummary } from '../../src/loader/load.js';
import { createLogger } from '../../src/log.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { scanKeys, type RedisClient } from '../../src/store/redis.js';
import type { Simulator } from '../../src/simulator/index.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const REDIS_URL = 'redis://127.0.0.1:6379';

/** A key prefix no other test file (or engineer) uses. */
export function testPrefix(name: string): string {
  return `t-${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** One parsed pino line. */
export type LogLine = Record<string, unknown> & { level: number; msg?: string };

export interface TestRuntime {
  rt: Runtime;
  /** Every line the runtime logged (debug and up), parsed. */
  logs: LogLine[];
}

/** A runtime on the real Redis under `prefix`, talking to `sim` (if given), logging into memory. */
export async function openTestRuntime(prefix: string, sim?: Simulator, env: Partial<Env> = {}): Promise<TestRuntime> {
  const logs: LogLine[] = [];
  const log = createLogger('debug', { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
  const rt = await openRuntime(
    { ...readEnv({}), redisUrl: REDIS_URL, prefix, apiKey: 'sim-key', baseUrl: sim?.url ?? 'http://127.0.0.1:1', httpTimeoutMs: 5000, ...env },
    { log },
  );
  return { rt, logs };
}

/** Runs `fn` with a fresh test runtime and always closes it (keys stay: see deletePrefix). */
export async function withRuntime<T>(prefix: string, sim: Simulator | undefined, fn: (t: TestRuntime) => Promise<T>, env: Partial<Env> = {}): Promise<T> {
  const t = await openTestRuntime(prefix, sim, env);
  try {
    return await fn(t);
  } finally {
    await t.rt.close();
  }
}

/**
 * Deletes every key under `prefix` (ours and BullMQ's); returns how many were deleted.
 * On a Cluster, a key at a time (a batch may span slots).
 */
export async function deletePrefix(redis: RedisClient, prefix: string): Promise<number> {
  let n = 0;
  for await (const keys of scanKeys(redis, `${prefix}:*`)) {
    n += redis instanceof Cluster ? (await Promise.all(keys.map((k) => redis.del(k)))).reduce((a, b) => a + b, 0) : await redis.del(...keys);
  }
  return n;
}

/** Every key matching a SCAN `pattern` (for "nothing was left behind" checks). */
export async function keysUnder(redis: RedisClient, pattern: string): Promise<string[]> {
  const out: string[] = [];
  for await (const keys of scanKeys(redis, pattern)) out.push(...keys);
  return out.sort();
}

/** afterAll helper: deletes a prefix's keys over a connection of its own. */
export async function cleanupPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    await deletePrefix(redis, prefix);
  } finally {
    await redis.quit();
  }
}

/**
 * Writes `campaign.yaml` (text, or an object turned into YAML) and
 * `contacts.csv` into `dir`; returns the campaign file's path. An object
 * without `contacts` points at the CSV written here.
 */
export async function writeCampaign(dir: string, yaml: string | Record<string, unknown>, csv: string, file = 'campaign.yaml'): Promise<string> {
  await mkdir(dir, { recursive: true });
  const text = typeof yaml === 'string' ? yaml : toYaml({ contacts: 'contacts.csv', ...yaml });
  const p = path.join(dir, file);
  await writeFile(p, text);
  await writeFile(path.join(dir, 'contacts.csv'), csv);
  return p;
}

/** writeCampaign + loadCampaignFile. */
export async function campaignIn(dir: string, yaml: Record<string, unknown>, csv: string): Promise<Campaign> {
  return loadCampaignFile(await writeCampaign(dir, yaml, csv));
}

/** Polls `fn` until it returns a truthy value; throws `what` on timeout. */
export async function waitFor<T>(fn: () => Promise<T> | T, what: string, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface Dialing {
  load: LoadSummary;
  /** Resolves once the campaign's state is `done`. */
  done(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Loads `c` and dials it in this process: a WorkerService for it and a Poller, as `dialer run` does. */
export async function startDialing(rt: Runtime, c: Campaign): Promise<Dialing> {
  const dialer = new Dialer(rt, { workerScanMs: 100, pollerTickMs: 50 });
  const load = await dialer.load(c);
  dialer.startWorkers({ campaigns: [c.name], bare: true });
  dialer.startPoller({ bare: true });
  return {
    load,
    done: async (timeoutMs = 20_000) => {
      await waitFor(async () => (await rt.store.getCampaign(c.name))?.state === 'done', `campaign ${c.name} to be done`, timeoutMs, 100);
    },
    stop: () => dialer.close(),
  };
}

/** POST /calls the simulator received, per phone number. */
export function postsByNumber(sim: Simulator): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of sim.requests) {
    if (r.method !== 'POST' || !r.path.startsWith('/calls')) continue;
    const phone = (r.body as { phoneNumber?: string } | undefined)?.phoneNumber ?? '?';
    m.set(phone, (m.get(phone) ?? 0) + 1);
  }
  return m;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node --import tsx src/cli/main.ts ...args` from the repository root
 * (so tsx resolves) with `env` on top of a clean environment; kills it after
 * `timeoutMs`.
 */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CliResult> {
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'NODE_OPTIONS']) if (process.env[k] !== undefined) base[k] = process.env[k]!;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: REPO_ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      stderr += `\n[runCli: killed after ${timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
