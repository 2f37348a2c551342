import type { Campaign } from '../config/campaign.js';

export interface DrainEstimate {
  /** Rows to dial. */
  calls: number;
  /** The campaign's rate (and the account's, when lower), calls per second. */
  rate_per_second: number;
  /** `max_live_calls` (or CALLEASE_MAX_LIVE_CALLS when lower), when set. */
  max_live_calls: number | null;
  avg_call_seconds: number;
  /** What the dialing can sustain: the rate, or the live-call cap over the call length. */
  calls_per_second: number;
  limited_by: 'rate' | 'max_live_calls';
  /** Until the last call ends, if every zone's window stays open (no redials or retries). */
  seconds: number;
}

export const DEFAULT_AVG_CALL_SECONDS = 60;

/**
 * How long dialing `calls` rows takes: at most `rate` calls start per second,
 * and with a live-call cap at most `max_live_calls` are on the line at once,
 * so a call ending frees a place every `avg / cap` seconds (Little's law).
 * Pure.
 */
export function drainEstimate(
  c: Pick<Campaign, 'rate'> & Partial<Pick<Campaign, 'max_live_calls'>>,
  calls: number,
  avgCallSeconds = DEFAULT_AVG_CALL_SECONDS,
  accountCallsPerSecond?: number,
  accountLiveCalls?: number,
): DrainEstimate {
  const own = c.rate.calls / c.rate.per_seconds;
  const rate = accountCallsPerSecond !== undefined ? Math.min(own, accountCallsPerSecond) : own;
  const caps = [c.max_live_calls, accountLiveCalls].filter((n): n is number => typeof n === 'number' && n > 0);
  const live = caps.length ? Math.min(...caps) : null;
  const byLive = live !== null && avgCallSeconds > 0 ? live / avgCallSeconds : Infinity;
  const perSecond = Math.min(rate, byLive);
  const seconds = calls === 0 ? 0 : Math.ceil(calls / perSecond + avgCallSeconds);
  return {
    calls, rate_per_second: round(rate), max_live_calls: live, avg_call_seconds: avgCallSeconds,
    calls_per_second: round(perSecond), limited_by: byLive < rate ? 'max_live_calls' : 'rate', seconds,
  };
}

const round = (n: number) => Math.round(n * 1000) / 1000;
