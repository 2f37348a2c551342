import type { Campaign } from '../config/campaign.js';

/** The longest a waiting dial job is trusted without a look (a slow rate must not hide a lost job for days). */
export const MAX_QUEUED_LEASE_MS = 6 * 3600_000;

/**
 * How long the owner of a queued row (its dial job, waiting its turn) is
 * trusted before the reaper looks: one lease past the time the campaign's
 * rate reaches it, `ahead` jobs later. With one lease for every row, the
 * reaper re-read each of N queued rows every few minutes until its dial:
 * O(N²) Redis work, which at 1,000,000 rows took more of Redis than dialing
 * did and began as soon as the workers started on a freshly loaded list.
 */
export function queuedLeaseMs(c: Campaign, ahead: number, leaseMs: number): number {
  const msPerDial = (c.rate.per_seconds * 1000) / c.rate.calls;
  return Math.min(MAX_QUEUED_LEASE_MS, leaseMs + Math.ceil(ahead * msPerDial));
}
