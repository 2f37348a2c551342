/** Helpers for tests that talk to the simulator over real HTTP. */
import { afterEach } from 'vitest';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';

/** A simulator factory whose simulators are closed after each test. */
export function useSimulators(): (opts?: SimulatorOptions) => Promise<Simulator> {
  const open: Simulator[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  return async (opts = {}) => {
    const s = await startSimulator(opts);
    open.push(s);
    return s;
  };
}

export const numbers = (n: number, base = 61400000000): string[] => Array.from({ length: n }, (_, i) => `+${base + i}`);

export interface SimResponse {
  status: number;
  headers: Headers;
  // Tests poke at arbitrary JSON; `any` keeps the assertions readable.
  body: any;
}

export interface SimRequestOptions {
  body?: unknown;
  /** Raw text body, sent as is (for malformed JSON). */
  raw?: string;
  /** API key; null sends no Authorization header. Default: the simulator's key. */
  key?: string | null;
  signal?: AbortSignal;
}

export async function simRequest(sim: Simulator, method: string, path: string, o: SimRequestOptions = {}): Promise<SimResponse> {
  const headers: Record<string, string> = {};
  const key = o.key === undefined ? (sim.options.apiKey ?? 'sim-key') : o.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  let payload: string | undefined;
  if (o.raw !== undefined) payload = o.raw;
  else if (o.body !== undefined) payload = JSON.stringify(o.body);
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${sim.url}${path}`, { method, headers, body: payload, signal: o.signal });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

export function callBody(phoneNumber: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    assistant_id: 'CE_1',
    name: 'John',
    phoneNumber,
    customVariables: [{ key: 'name', value: 'John' }],
    ...extra,
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
