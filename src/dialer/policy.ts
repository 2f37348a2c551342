import { ApiError, coerceError } from '../errors.js';

/**
 * What to do after a failed POST /calls. Pure: the same inputs always give
 * the same decision (jitter comes in as `random`).
 *
 * - `rate-limited`: the API said 429. Wait, then try again without using up an attempt.
 * - `retry`: the call was definitely not placed; try again after `delayMs`.
 * - `dead-letter`: it can never succeed (or attempts ran out); stop.
 * - `ambiguous`: a call may have been placed; never retry blind, reconcile.
 */
export type FailureDecision =
  | { action: 'rate-limited'; delayMs: number }
  | { action: 'retry'; delayMs: number }
  | { action: 'dead-letter'; reason: string }
  | { action: 'ambiguous'; reason: string };

export interface RetryPolicy {
  /** Most POST attempts per contact (429s don't count). */
  attempts: number;
  /** First backoff; doubles each attempt. */
  backoffMs: number;
  maxBackoffMs: number;
}

/** Wait after a 429 that carries no Retry-After. */
export const DEFAULT_RATE_LIMIT_WAIT_MS = 1000;

/** Exponential backoff with "equal jitter": half fixed, half random, capped. */
export function backoffDelay(attemptsMade: number, policy: RetryPolicy, random: number): number {
  const exp = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(exp / 2 + (exp / 2) * random);
}

/**
 * @param attemptsMade attempts used so far, including the one that just failed.
 * @param random a number in [0, 1) for jitter.
 */
export function decideFailure(err: unknown, attemptsMade: number, policy: RetryPolicy, random: number): FailureDecision {
  const e = coerceError(err);
  const retry = (): FailureDecision =>
    attemptsMade < policy.attempts
      ? { action: 'retry', delayMs: backoffDelay(attemptsMade, policy, random) }
      : { action: 'dead-letter', reason: `gave up after ${attemptsMade} attempts: ${e.message}` };
  // An unexpected error on our side (before anything was sent) may pass: retry within the budget.
  if (!(e instanceof ApiError)) return retry();
  switch (e.code) {
    case 'API_RATE_LIMITED':
      return { action: 'rate-limited', delayMs: Math.max(e.retryAfterMs ?? DEFAULT_RATE_LIMIT_WAIT_MS, 100) };
    case 'API_REJECTED':
    case 'API_UNAUTHORIZED':
    case 'API_NOT_FOUND':
    case 'API_HTTP_ERROR':
      return { action: 'dead-letter', reason: e.message };
    case 'API_UNREACHABLE':
      return retry();
    case 'API_SERVER_ERROR':
    case 'API_TIMEOUT':
    case 'API_CONNECTION_LOST':
    case 'API_BAD_RESPONSE':
    case 'API_ABORTED':
      // The request went out: the person's phone may be ringing. Only a lookup may decide.
      return e.maybeSent ? { action: 'ambiguous', reason: e.message } : retry();
  }
}
