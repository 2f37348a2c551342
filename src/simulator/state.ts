import type { Config } from './options.js';
import type { Rng } from './prng.js';
import type { SlidingWindowLimiter } from './ratelimit.js';
import type { RequestLogEntry, SimAction, SimCall } from './types.js';

/** Everything the route handlers share. `cfg` is swapped whole by setOptions. */
export interface SimState {
  cfg: Config;
  calls: Map<string, SimCall>;
  /** Calls per number in creation order; its length is the "nth call" count. */
  byNumber: Map<string, SimCall[]>;
  /** POST /calls attempts per number that got past the rate limit and validation. */
  attempts: Map<string, number>;
  actions: Map<string, SimAction>;
  limiter: SlidingWindowLimiter;
  /** For draws no request key fits (GET faults, latency of other requests). */
  globalRng: Rng;
}

/** What a handler decides; the HTTP layer applies latency, logs and sends it. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  callId?: string;
  /** A batched lookup: the ids answered. */
  callIds?: string[];
  /** Sent as it is instead of `body` as JSON (a malformed answer). */
  rawBody?: string;
  fault?: RequestLogEntry['fault'];
  /** hang: never answer; drop: cut the socket without answering. */
  kind?: 'hang' | 'drop';
  /** Uniform draw for the latency fault, when the handler had a keyed one. */
  latencyDraw?: number;
}

export interface Request {
  method: string;
  /** Path without the query, no trailing slash. */
  pathname: string;
  query: URLSearchParams;
  body: unknown;
  /** Body present but not JSON. */
  badJson: boolean;
  /** Receive time, epoch ms. */
  now: number;
}

export function reply(status: number, body?: unknown, headers?: Record<string, string>): Reply {
  return { status, body, headers };
}

export function fail(status: number, error: string): Reply {
  return { status, body: { error } };
}

export const notFound = (what: string): Reply => fail(404, `${what} not found`);
