import type { Campaign } from '../config/campaign.js';

/**
 * Each rate window is stretched by a fixed headroom (ms), so that requests
 * delayed on their way can't bring one too many inside a window as the API
 * counts it: `calls` requests are spaced over `per_seconds` s + RATE_HEADROOM_MS.
 * The headroom is in ms, not a share of the rate, because what it covers is
 * jitter in ms: arrivals at the simulator stray from their slots by the spread
 * of the transit time (client send → simulator receive), whatever the rate.
 * Measured with `npm run bench -- --only rate` (three worker processes, a
 * poller and the server on two cores): spread 33–37 ms at 5, 50 and 200/s,
 * worst bunching of `limit` gaps 29 ms. 45 ms covers that plus the `earlyMs`
 * allowance (≤ 5 ms); the mean stays at 1000 / 1045 = 95.7% of a per-second
 * limit and 99.9% of a per-minute one (a 5% margin cost 5% at any window).
 */
export const RATE_HEADROOM_MS = 45;

/** The limiter of one campaign's rate (LimitsStore scope). */
export const campaignRateScope = (id: string): string => `c:${id}`;

/** Spacing of a campaign's requests (ms) under its `rate`, margin included. */
export function campaignIntervalMs(rate: Campaign['rate']): number {
  return (rate.per_seconds * 1000 + RATE_HEADROOM_MS) / rate.calls;
}

/** The limiters one request of campaign `c` passes: its own rate, and the account's when one is set. */
export function dialLimits(c: Campaign, maxCallsPerSecond?: number): { scope: string; intervalMs: number }[] {
  const limits = [{ scope: campaignRateScope(c.name), intervalMs: campaignIntervalMs(c.rate) }];
  if (maxCallsPerSecond) limits.push({ scope: 'account', intervalMs: (1000 + RATE_HEADROOM_MS) / maxCallsPerSecond });
  return limits;
}

/**
 * How far ahead of its slot a request may go (ms). A waiter woken a little
 * late then still keeps the schedule instead of losing those ms each time
 * (which would drag the mean rate below the limit). It comes out of the
 * headroom: a window holds `calls` requests only if they bunch by more than
 * RATE_HEADROOM_MS − early.
 * Up to one interval, at most 5 ms: at 200/s a quarter interval (1.3 ms) was
 * less than a timer's lateness on a busy process, and every slot taken late
 * is lost for good (the mean fell to 0.87 of the limit). At least 1 ms: Redis
 * TIME counts whole ms, so above 1,000/s a smaller allowance turns most
 * reservations into a 1 ms sleep and a retry.
 */
export function earlyMs(limits: { intervalMs: number }[]): number {
  return Math.min(5, Math.max(1, Math.min(...limits.map((l) => l.intervalMs))));
}
