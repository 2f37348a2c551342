import type { Campaign } from '../config/campaign.js';

/**
 * Requests are spaced 5% wider than the limit allows, so that a request
 * delayed on its way can't bring one too many inside a sliding second as the
 * API counts it; the mean rate stays at 95% of the limit. Chosen from measured
 * jitter: with three worker processes on two cores, arrivals at the simulator
 * strayed up to ~25 ms from their slots (11 POSTs in 995–997 ms at 10/s, whose
 * slots spanned 1,020 ms under a 2% margin); 5% leaves 50 ms per second's worth.
 */
export const RATE_MARGIN = 1.05;

/** The limiter of one campaign's rate (LimitsStore scope). */
export const campaignRateScope = (id: string): string => `c:${id}`;

/** Spacing of a campaign's requests (ms) under its `rate`, margin included. */
export function campaignIntervalMs(rate: Campaign['rate']): number {
  return (RATE_MARGIN * rate.per_seconds * 1000) / rate.calls;
}

/** The limiters one request of campaign `c` passes: its own rate, and the account's when one is set. */
export function dialLimits(c: Campaign, maxCallsPerSecond?: number): { scope: string; intervalMs: number }[] {
  const limits = [{ scope: campaignRateScope(c.name), intervalMs: campaignIntervalMs(c.rate) }];
  if (maxCallsPerSecond) limits.push({ scope: 'account', intervalMs: (RATE_MARGIN * 1000) / maxCallsPerSecond });
  return limits;
}

/**
 * How far ahead of its slot a request may go (ms). A waiter woken a little
 * late then still keeps the schedule instead of losing those ms each time
 * (which would drag the mean rate below the limit). Any window then holds at
 * most limit × 1.05 − early/interval requests: below the limit.
 * At least 1 ms: Redis TIME counts whole ms, so above 250/s a smaller allowance
 * turns most reservations into a 1 ms sleep and a retry (many tries per dial
 * at very high rates). 1 ms ≤ the 5% margin, so no window is over.
 */
export function earlyMs(limits: { intervalMs: number }[]): number {
  return Math.min(5, Math.max(1, Math.min(...limits.map((l) => l.intervalMs)) / 4));
}
