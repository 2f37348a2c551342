import type { Campaign } from '../config/campaign.js';

/** Batched, the poller looks for due work at most this often, so one GET carries the calls due meanwhile. */
export const BATCH_TICK_MS = 500;
/** Batched, the first look at a placed call comes this soon (a look costs a share of one GET, not a GET). */
export const BATCHED_FIRST_LOOK_MS = 1000;

/**
 * When the first look at a call just placed is due, after placing (ms):
 * `poll.first_look_seconds` when set; otherwise one poll interval per call
 * (each look is a GET of its own, and no call ends the moment it is placed),
 * or at most 1 s when lookups are batched.
 */
export function firstLookMs(c: Campaign, batched: boolean): number {
  const interval = c.poll.interval_seconds * 1000;
  if (c.poll.first_look_seconds !== undefined) return c.poll.first_look_seconds * 1000;
  return batched ? Math.min(interval, BATCHED_FIRST_LOOK_MS) : interval;
}

/** The wait before another look after a failed one: a poll interval, or the API's Retry-After when longer. */
export function retryDelayMs(c: Campaign, retryAfterMs?: number): number {
  return Math.max(c.poll.interval_seconds * 1000, retryAfterMs ?? 0);
}
