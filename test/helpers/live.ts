/**
 * Helpers for the live-call cap tests: `dialer worker` processes of the CLI,
 * the simulator's own live-call figures over HTTP, and a campaign run to its end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from './dialer.js';
import type { LiveStats, Simulator } from '../../src/simulator/index.js';

/** Child processes of the CLI, stopped together. */
export class Children {
  readonly all: ChildProcess[] = [];

  /** `dialer <args>` as a process of its own; its stderr tail is printed if it fails. */
  start(args: string[], env: Record<string, string>): ChildProcess {
    const base: Record<string, string> = {};
    for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[k] !== undefined) base[k] = process.env[k]!;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: REPO_ROOT, env: { ...base, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
    child.on('exit', (code, signal) => {
      if (code && code !== 0) process.stderr.write(`dialer ${args[0]} (${child.pid}) exited ${code ?? signal}: ${stderr}\n`);
    });
    this.all.push(child);
    return child;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.all.map(stopChild));
  }
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** GET /simulator/stats: calls live at once by the simulator's own clock. */
export async function simLiveStats(sim: Simulator): Promise<LiveStats> {
  const r = await fetch(`${sim.url}/simulator/stats`, { headers: { authorization: `Bearer ${sim.options.apiKey ?? 'sim-key'}` } });
  if (r.status !== 200) throw new Error(`GET /simulator/stats answered ${r.status}`);
  return (await r.json()) as LiveStats;
}

/** The fastest a list can drain with at most `cap` calls live at once: the call time it needs, spread over the cap (ms). */
export function capBoundMs(sim: Simulator, cap: number): number {
  let total = 0;
  for (const c of sim.calls.values()) total += c.plannedMs;
  return total / cap;
}

/** First POST /calls the simulator received and the last call's end, by its clock (ms). */
export function simSpan(sim: Simulator): { firstPost: number; lastEnd: number } {
  let firstPost = Infinity;
  let lastEnd = 0;
  for (const c of sim.calls.values()) {
    firstPost = Math.min(firstPost, c.createdAt);
    lastEnd = Math.max(lastEnd, c.createdAt + c.plannedMs);
  }
  return { firstPost, lastEnd };
}

export const csvOf = (phones: string[]): string => ['name,phone', ...phones.map((p, i) => `P${i + 1},${p}`)].join('\n') + '\n';
