/**
 * `dialer <command>` as processes of their own, for tests that need real
 * worker, poller and simulator processes (stopped with real signals).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from './dialer.js';

export interface Processes {
  /** Starts `dialer <args>`; stdout goes to `onStdout`, the last 4 KB of stderr are printed if it exits non-zero. */
  start(args: string[], env: Record<string, string>, onStdout?: (s: string) => void): ChildProcess;
  /** The simulator as a process (its request times are an API's, not this busy test process's); resolves with its URL. */
  simulator(args: string[]): Promise<{ url: string; child: ChildProcess }>;
  /** SIGTERM to each still running (SIGKILL after 10 s), and waits for them. */
  stopAll(): Promise<void>;
}

export function processes(): Processes {
  const children: ChildProcess[] = [];
  const start = (args: string[], env: Record<string, string>, onStdout?: (s: string) => void): ChildProcess => {
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
  };
  const stop = async (child: ChildProcess): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return {
    start,
    async simulator(args) {
      let out = '';
      let child!: ChildProcess;
      const url = await new Promise<string>((resolve, reject) => {
        child = start(['simulate', '--port', '0', ...args], {}, (s) => {
          out += s;
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once('exit', () => reject(new Error(`simulator exited: ${out}`)));
      });
      return { url, child };
    },
    async stopAll() {
      await Promise.all(children.map(stop));
    },
  };
}
