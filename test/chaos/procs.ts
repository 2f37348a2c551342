/** Child processes of the chaos harness: the real CLI, run the way an operator runs it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SimCallRecord } from './verify.js';

/** Repository root (this file is test/chaos/procs.ts). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * The dialer CLI as the harness runs it: from source through tsx, or with
 * CHAOS_CLI=dist the compiled build (`npm run build` first), which starts in
 * a fraction of the CPU time: long randomized runs use it.
 */
const CLI = process.env.CHAOS_CLI === 'dist' ? ['dist/src/cli/main.js'] : ['--import', 'tsx', 'src/cli/main.ts'];

export interface Proc {
  name: string;
  child: ChildProcess;
  /** Resolves with the exit code, or the signal name when killed. */
  exited: Promise<number | string>;
  /** Set when the harness killed or stopped it on purpose. */
  expectedExit: boolean;
  startedAt: number;
}

/** A long-running `dialer <args>`, stdout and stderr appended to `logFile`. */
export function spawnCli(name: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): Proc {
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? 'unknown')));
  return { name, child, exited, expectedExit: false, startedAt: Date.now() };
}

export function alive(p: Proc): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

/** kill -9, and wait until the process is gone. */
export async function kill9(p: Proc): Promise<void> {
  p.expectedExit = true;
  if (alive(p)) p.child.kill('SIGKILL');
  await p.exited;
}

/** SIGTERM (graceful drain), SIGKILL after `graceMs`. */
export async function stop(p: Proc, graceMs = 8000): Promise<void> {
  p.expectedExit = true;
  if (!alive(p)) return;
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(t);
}

/** A short `dialer <args>` command; resolves with its exit code and output. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, sig) => {
      clearTimeout(t);
      resolve({ code: code ?? sig ?? 'unknown', stdout, stderr });
    });
  });
}

/** Waits until something accepts TCP connections on the port (no request is sent, so nothing is logged). */
export async function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every call the simulator holds, with its status now (all final by the time a campaign is done). */
export async function listSimCalls(port: number): Promise<SimCallRecord[]> {
  for (let i = 0; ; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/calls`, { headers: { authorization: 'Bearer sim-key' } });
    // The simulator's fault injection answers some GETs 5xx too.
    if (res.status >= 500 && i < 20) {
      await res.text();
      continue;
    }
    if (res.status !== 200) throw new Error(`simulator GET /calls answered ${res.status}`);
    const body = (await res.json()) as { data: { id: string; phoneNumber: string; status: string }[] };
    return body.data.map((c) => ({ id: c.id, phone: c.phoneNumber, status: c.status }));
  }
}
