import type { Campaign } from '../config/campaign.js';
import { EARLIEST_LOOK_MS } from './first-look.js';

/** Batched, the poller looks for due work at most this often, so one GET carries the calls due meanwhile. */
export const BATCH_TICK_MS = 500;

/**
 * When the worker schedules the first look at a call just placed (ms after
 * placing): `poll.first_look_seconds` when set; otherwise 1 s (at most one
 * interval). Per-call, the poller then moves a look that comes before the
 * campaign's learned first-look time (poller/first-look.ts: one interval until
 * it has seen calls end) to that time without a GET; batched, it looks then.
 */
export function firstLookMs(c: Campaign): number {
  if (c.poll.first_look_seconds !== undefined) return c.poll.first_look_seconds * 1000;
  return Math.min(c.poll.interval_seconds * 1000, EARLIEST_LOOK_MS);
}

/** The wait before another look after a failed one: a poll interval, or the API's Retry-After when longer. */
export function retryDelayMs(c: Campaign, retryAfterMs?: number): number {
  return Math.max(c.poll.interval_seconds * 1000, retryAfterMs ?? 0);
}
