import { queuedLeaseMs } from '../campaign/queue-lease.js';
import { untilStartMs, type Campaign } from '../config/campaign.js';
import type { FeedMode } from '../store/feed.js';
import type { Store } from '../store/store.js';
import { dialJob, type DialQueues } from './jobs.js';

/**
 * The feeder: a campaign keeps only a window of first-attempt dial jobs in
 * BullMQ, fed from its queued rows in row order (store/feed.ts holds the
 * cursor). A queued row above the cursor has no job and no open-index entry,
 * which saves about 300 B of Redis a queued contact (job hash, wait entry,
 * open entry). The loader feeds the first window; every dial worker process
 * tops up the campaigns it serves (WorkerService) when their queue runs low,
 * under a short per-campaign lock. Each row keeps its deterministic job id,
 * and the ledger (LEDGER_BEGIN) still refuses a second call for a number
 * whatever BullMQ holds.
 */

/** The most first-attempt jobs a campaign keeps queued (a fast campaign refills more often instead). */
export const MAX_WINDOW = 5000;
/** Seconds of dialing at the campaign's rate the window holds. */
export const WINDOW_SECONDS = 10;
/** How often a worker process looks at the queues of the campaigns it serves (ms). */
export const FEED_EVERY_MS = 500;
/** The per-campaign feed lock (ms): longer than a top-up takes, short enough that a killed holder's turn passes at once. */
const FEED_LOCK_MS = 5000;
/** A job delayed for a row's calling window further off than this does not fill the window (the rows after it may dial now). */
const WINDOW_WAIT_HORIZON_MS = 10_000;

/**
 * The window of a campaign: 2 × concurrency jobs or 10 s at its rate,
 * whichever is larger, at most `max` (DIALER_FEED_WINDOW_MAX, default MAX_WINDOW). A top-up comes when the queue
 * holds half of it or less, so even at the cap a worker looking every 0.5 s
 * keeps ahead of 5,000 dials a second.
 */
export function feedWindow(c: Pick<Campaign, 'concurrency' | 'rate'>, max = MAX_WINDOW): number {
  const perSecond = c.rate.calls / c.rate.per_seconds;
  return Math.min(max, Math.max(2 * c.concurrency, Math.ceil(perSecond * WINDOW_SECONDS), 1));
}

export interface FeedDeps {
  store: Store;
  queues: DialQueues;
}

/**
 * Claims up to `n` queued rows after the cursor and adds their dial jobs
 * (delayed by `delayMs`, for a start time). `ahead`: jobs already queued
 * before them, for their lease. Returns how many jobs were added.
 */
export async function feedRows(deps: FeedDeps, c: Campaign, n: number, o: { ahead?: number; delayMs?: number } = {}): Promise<number> {
  if (n <= 0) return 0;
  const delay = Math.max(0, o.delayMs ?? 0);
  const lease = Date.now() + delay + queuedLeaseMs(c, (o.ahead ?? 0) + n, deps.store.leaseMs);
  const { rows } = await deps.store.feed.claim(c.name, 'feed', n, lease);
  if (rows.length) await deps.queues.get(c.name).addBulk(rows.map((row) => dialJob(c, row, undefined, delay)));
  return rows.length;
}

/**
 * Dial jobs of the campaign that will run soon: waiting, prioritized, active
 * and delayed, less the rows put off until a calling window more than 10 s away
 * (the waiting index), so a closed window in one zone doesn't hold back the rows of the others.
 */
export async function queueDepth(deps: FeedDeps, id: string, now = Date.now()): Promise<number> {
  const [counts, farOff] = await Promise.all([
    deps.queues.get(id).getJobCounts('wait', 'prioritized', 'delayed', 'active'),
    deps.store.feed.waitingFrom(id, now + WINDOW_WAIT_HORIZON_MS),
  ]);
  const all = Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
  return Math.max(0, all - Math.min(farOff, counts.delayed ?? 0));
}

/**
 * One look at a campaign by a worker process: when it runs, has rows above
 * the cursor, has reached its start time (`businessNow`, DIALER_NOW aware)
 * and its queue holds half its window or less, one process (the lock) tops
 * the window up. Returns how many jobs were added.
 */
export async function topUp(deps: FeedDeps, c: Campaign, holder: string, businessNow: number, max = MAX_WINDOW): Promise<number> {
  if (untilStartMs(c.schedule, businessNow) > 0) return 0;
  const cur = await deps.store.feed.cursor(c.name);
  if (cur.fed === undefined || cur.state !== 'running' || cur.unfed === 0) return 0;
  const window = feedWindow(c, max);
  if ((await queueDepth(deps, c.name)) > window / 2) return 0;
  if (!(await deps.store.feed.lock(c.name, holder, FEED_LOCK_MS))) return 0;
  try {
    // Counted again under the lock: another process may have just topped it up.
    const depth = await queueDepth(deps, c.name);
    if (depth > window / 2) return 0;
    return await feedRows(deps, c, window - depth, { ahead: depth });
  } finally {
    await deps.store.feed.unlock(c.name, holder);
  }
}

/**
 * Hands every row above the cursor to `end` (CANCEL_ROWS for a cancel,
 * EXPIRE_ROWS past the deadline), a batch at a time. Each batch is claimed
 * into the open index first, its lease already run out, so a crash before
 * `end` leaves them to the reaper (which cancels or expires them), never queued without an owner.
 * Returns the sum of what `end` returned.
 */
export async function endUnfed(store: Store, id: string, mode: Exclude<FeedMode, 'feed'>, end: (rows: number[]) => Promise<number>): Promise<number> {
  let n = 0;
  for (;;) {
    const { passed, rows } = await store.feed.claim(id, mode, 1000, Date.now());
    if (passed === 0) return n;
    if (rows.length) n += await end(rows);
  }
}
