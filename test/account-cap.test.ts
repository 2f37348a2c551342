import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCampaign } from '../src/loader/load.js';
import { Poller } from '../src/poller/poller.js';
import { campaignIn, cleanupPrefix, REDIS_URL, REPO_ROOT, testPrefix, waitFor, withRuntime } from './helpers/dialer.js';
import type { RequestLogEntry } from '../src/simulator/index.js';
import { numbers } from './helpers/sim-http.js';

const prefix = testPrefix('cap');
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-cap-'));
});
afterAll(async () => {
  await Promise.all(children.map(stopChild));
  for (let i = 1; i <= attempt; i++) await cleanupPrefix(`${prefix}-r${i}`);
  await rm(dir, { recursive: true, force: true });
});

/** `dialer <args>` as a process of its own (stopped in afterAll if the test doesn't). */
function startCli(args: string[], env: Record<string, string>, onStdout?: (s: string) => void): ChildProcess {
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[k] !== undefined) base[k] = process.env[k]!;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: REPO_ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => onStdout?.(s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
  child.on('exit', (code, signal) => {
    if (code && code !== 0) process.stderr.write(`dialer ${args[0]} (${child.pid}) exited ${code ?? signal}: ${stderr}\n`);
  });
  children.push(child);
  return child;
}

/**
 * The simulator in a process of its own: its request times are what an API
 * would see, not delayed by this busy test process's event loop.
 */
async function startSimProcess(logPath: string): Promise<{ url: string; child: ChildProcess }> {
  let out = '';
  let child!: ChildProcess;
  const url = await new Promise<string>((resolve, reject) => {
    child = startCli(['simulate', '--port', '0', '--duration-ms', '100-400', '--log', logPath], {}, (s) => {
      out += s;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', () => reject(new Error(`simulator exited: ${out}`)));
  });
  return { url, child };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** The fullest window [t, t + ms) over sorted `times`: how many, and the times in it. */
function busiestWindow(times: number[], ms: number): { count: number; times: number[] } {
  let best = { count: 0, times: [] as number[] };
  for (let i = 0, j = 0; i < times.length; i++) {
    while (j < times.length && times[j]! < times[i]! + ms) j++;
    if (j - i > best.count) best = { count: j - i, times: times.slice(i, j) };
  }
  return best;
}

const csvOf = (phones: string[]) => ['name,phone', ...phones.map((p, i) => `P${i + 1},${p}`)].join('\n') + '\n';

let attempt = 0;

describe('account-wide rate cap', () => {
  // Arrival times on two busy cores still stray by tens of ms from their slots (issue 15:
  // headroom against jitter); a retry runs afresh under its own prefix, log and files.
  it('three worker processes, two campaigns at 20/s each: never more than 10 POST /calls in any second', { timeout: 90_000, retry: 2 }, async () => {
    attempt += 1;
    const run = `${prefix}-r${attempt}`;
    const logPath = path.join(dir, `requests-${attempt}.jsonl`);
    const sim = await startSimProcess(logPath);
    const env = {
      REDIS_URL, DIALER_PREFIX: run, CALLEASE_API_KEY: 'sim-key', CALLEASE_BASE_URL: sim.url,
      CALLEASE_MAX_CALLS_PER_SECOND: '10', LOG_LEVEL: 'warn',
    };
    const phones = [numbers(40, 61416100000), numbers(40, 61416200000)];
    const campaigns = await Promise.all(['cap-a', 'cap-b'].map((name, i) => campaignIn(path.join(dir, `${name}-${attempt}`), {
      name, assistant_id: 'CE_CAP', default_country: 'AU', rate: { calls: 20, per_seconds: 1 }, concurrency: 10,
      poll: { interval_seconds: 0.2, timeout_minutes: 1 }, results: path.join(dir, `${name}-${attempt}.csv`),
    }, csvOf(phones[i]!))));

    await withRuntime(run, undefined, async ({ rt }) => {
      for (let i = 0; i < 3; i++) startCli(['worker'], env);
      // Every worker is up (heartbeat) before there is anything to dial, so all three compete.
      await waitFor(async () => (await rt.redis.hlen(rt.store.keys.workers)) >= 3, 'three workers to start', 30_000, 100);
      const poller = new Poller({ store: rt.store, api: rt.api(), log: rt.log, queues: rt.queues, lockMs: rt.env.lockMs, tickMs: 50 });
      poller.start();
      try {
        for (const c of campaigns) await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => Date.now() }, c);
        for (const c of campaigns) {
          await waitFor(async () => (await rt.store.getCampaign(c.name))?.state === 'done', `${c.name} to be done`, 30_000, 100);
        }
      } finally {
        await poller.close();
      }
    }, { baseUrl: sim.url });
    await Promise.all(children.map(stopChild)); // the simulator flushes its log as it stops

    const log = (await readFile(logPath, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as RequestLogEntry);
    const posts = log.filter((r) => r.method === 'POST' && r.path.startsWith('/calls'));
    expect(posts.filter((r) => r.status === 201)).toHaveLength(80);
    const times = posts.map((r) => r.t).sort((a, b) => a - b);
    const peak = busiestWindow(times, 1000);
    const shown = peak.times.map((t) => t - times[0]!).join(', ');
    expect(peak.count, `busiest second (ms from the first POST): ${shown}`).toBeLessThanOrEqual(10);
    // The cap was what held the pace (not slow workers): 80 dials took about 8 s, near 10 a second.
    expect(peak.count).toBeGreaterThanOrEqual(8);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(7000);
    // Every number once.
    expect(new Set(posts.map((r) => (r.body as { phoneNumber: string }).phoneNumber)).size).toBe(80);
  });
});
