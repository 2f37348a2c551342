import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SimulatorOptions } from '../../src/simulator/index.js';
import { spawnTs } from './proc.js';

export interface SimRequest {
  t: number;
  method: string;
  path: string;
  status: number;
  call_id?: string;
  assistant?: string;
}
export interface SimCallInfo {
  id: string;
  createdAt: number;
  plannedMs: number;
  phoneNumber: string;
  assistant: string;
}

export interface SimProcess {
  url: string;
  pid: number;
  /** POST /calls answered 201 and GETs so far. */
  count(): Promise<{ posts: number; gets: number }>;
  /** The request log and every call (id, createdAt, plannedMs). */
  dump(): Promise<{ requests: SimRequest[]; calls: SimCallInfo[] }>;
  close(): Promise<void>;
}

/** Starts the Callease simulator in its own process. */
export async function startSimProcess(opts: SimulatorOptions = {}): Promise<SimProcess> {
  const p = spawnTs('bench/lib/sim-child.ts', [], { quiet: true });
  p.send({ type: 'start', opts });
  const { url } = await p.message<{ url: string }>('ready', 30_000);
  let n = 0;
  return {
    url,
    pid: p.child.pid!,
    async count() {
      const id = n++;
      p.send({ type: 'count', id });
      return p.message<{ posts: number; gets: number }>(`count:${id}`, 30_000);
    },
    async dump() {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-sim-'));
      try {
        const file = path.join(dir, 'dump.json');
        p.send({ type: 'dump', file });
        await p.message('dumped', 120_000);
        return JSON.parse(await readFile(file, 'utf8')) as { requests: SimRequest[]; calls: SimCallInfo[] };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    async close() {
      p.send({ type: 'close' });
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      await p.exited;
      clearTimeout(t);
    },
  };
}

/** Polls `fn` every `everyMs` until it is true; false on timeout. */
export async function until(fn: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return fn();
}
