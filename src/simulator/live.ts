import type { SimCall } from './types.js';

/** How many calls were live at once, by the simulator's own clock. */
export interface LiveStats {
  /** Calls created so far. */
  calls: number;
  /** Calls live at `at` (created, not yet at their final status). */
  live: number;
  /** Most calls live at the same moment over the simulator's life. */
  max_live: number;
  /** When that peak first happened (ISO); null before any call. */
  max_live_at: string | null;
}

/**
 * A call is live from its creation (the POST's receipt) until it reaches its
 * final status (`createdAt + plannedMs`), an interval closed at the start and
 * open at the end: a call ending in the very ms another starts does not overlap it.
 * Pure: a sweep over start and end times.
 */
export function liveStats(calls: Iterable<SimCall>, at: number): LiveStats {
  const events: [number, number][] = [];
  let live = 0;
  let n = 0;
  for (const c of calls) {
    n++;
    const end = c.createdAt + c.plannedMs;
    events.push([c.createdAt, 1], [end, -1]);
    if (c.createdAt <= at && at < end) live++;
  }
  // Ends before starts at the same instant.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let max = 0;
  let maxAt: number | null = null;
  for (const [t, d] of events) {
    cur += d;
    if (cur > max) {
      max = cur;
      maxAt = t;
    }
  }
  return { calls: n, live, max_live: max, max_live_at: maxAt === null ? null : new Date(maxAt).toISOString() };
}
