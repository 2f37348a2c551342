import type { SimRequest } from './sim.js';

/** Times (ms, sorted) of the POST /calls the simulator answered 201, optionally of one assistant (campaign). */
export function postTimes(requests: SimRequest[], assistant?: string): number[] {
  return requests
    .filter((r) => r.method === 'POST' && r.path === '/calls' && r.status === 201 && (assistant === undefined || r.assistant === assistant))
    .map((r) => r.t)
    .sort((a, b) => a - b);
}

/** Most requests in any sliding window (t - windowMs, t], as the simulator's own limiter counts. */
export function maxInWindow(times: number[], windowMs = 1000): number {
  let best = 0;
  for (let i = 0, j = 0; j < times.length; j++) {
    while (times[j]! - times[i]! >= windowMs) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}

/** Requests that close a window (t - windowMs, t] holding more than `limit`. */
export function overLimit(times: number[], limit: number, windowMs = 1000): number {
  let n = 0;
  for (let i = 0, j = 0; j < times.length; j++) {
    while (times[j]! - times[i]! >= windowMs) i++;
    if (j - i + 1 > limit) n++;
  }
  return n;
}

/** Gaps between consecutive requests (ms). */
export function gaps(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]!);
}

/** Mean rate (per second) between the first and the last request. */
export function meanRate(times: number[]): number {
  if (times.length < 2) return 0;
  return ((times.length - 1) * 1000) / (times.at(-1)! - times[0]!);
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

export function median(xs: number[]): number {
  return percentile(xs, 50);
}
