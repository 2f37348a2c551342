import { describe, expect, it } from 'vitest';
import { backoffDelay, decideFailure, DEFAULT_RATE_LIMIT_WAIT_MS, type FailureDecision, type RetryPolicy } from '../src/dialer/policy.js';
import { ApiError, DialerError, type ApiErrorCode } from '../src/errors.js';

const policy: RetryPolicy = { attempts: 3, backoffMs: 1000, maxBackoffMs: 10_000 };

const apiError = (code: ApiErrorCode, maybeSent: boolean, extra: { status?: number; retryAfterMs?: number } = {}) =>
  new ApiError(code, `POST /calls → ${code}`, { method: 'POST', path: '/calls', maybeSent, ...extra });

/**
 * What each code must lead to. `never`: the call can't succeed, stop at once.
 * `retry`: provably not placed, retry within the budget. `ambiguous-if-sent`:
 * may have placed a call when maybeSent, else like `retry`. Typed as a full
 * Record so a new ApiErrorCode fails to compile here until it is decided.
 */
const EXPECTED: Record<ApiErrorCode, 'never' | 'retry' | 'ambiguous-if-sent' | 'rate-limited'> = {
  API_REJECTED: 'never',
  API_UNAUTHORIZED: 'never',
  API_NOT_FOUND: 'never',
  API_HTTP_ERROR: 'never',
  API_RATE_LIMITED: 'rate-limited',
  API_UNREACHABLE: 'retry',
  API_SERVER_ERROR: 'ambiguous-if-sent',
  API_TIMEOUT: 'ambiguous-if-sent',
  API_CONNECTION_LOST: 'ambiguous-if-sent',
  API_BAD_RESPONSE: 'ambiguous-if-sent',
  API_ABORTED: 'ambiguous-if-sent',
};

describe('decideFailure: every ApiError code × maybeSent × attempts left', () => {
  const cases = (Object.keys(EXPECTED) as ApiErrorCode[]).flatMap((code) =>
    [true, false].flatMap((maybeSent) => [1, 2, 3].map((attemptsMade) => ({ code, maybeSent, attemptsMade }))),
  );

  it.each(cases)('$code maybeSent=$maybeSent after attempt $attemptsMade/3', ({ code, maybeSent, attemptsMade }) => {
    const err = apiError(code, maybeSent, code === 'API_RATE_LIMITED' ? { status: 429, retryAfterMs: 2500 } : {});
    const d = decideFailure(err, attemptsMade, policy, 0.5);
    const left = attemptsMade < policy.attempts;
    const retryOrGiveUp: FailureDecision = left
      ? { action: 'retry', delayMs: backoffDelay(attemptsMade, policy, 0.5) }
      : { action: 'dead-letter', reason: `gave up after ${attemptsMade} attempts: ${err.message}` };
    switch (EXPECTED[code]) {
      case 'never':
        expect(d).toEqual({ action: 'dead-letter', reason: err.message });
        break;
      case 'rate-limited':
        // A 429 never uses up the budget, even on the last attempt.
        expect(d).toEqual({ action: 'rate-limited', delayMs: 2500 });
        break;
      case 'retry':
        expect(d).toEqual(retryOrGiveUp);
        break;
      case 'ambiguous-if-sent':
        // Never retried blind, not even with attempts left: the phone may be ringing.
        expect(d).toEqual(maybeSent ? { action: 'ambiguous', reason: err.message } : retryOrGiveUp);
        break;
    }
  });

  it('retry delays grow with the attempt number', () => {
    const d1 = decideFailure(apiError('API_UNREACHABLE', false), 1, policy, 0);
    const d2 = decideFailure(apiError('API_UNREACHABLE', false), 2, policy, 0);
    expect(d1).toEqual({ action: 'retry', delayMs: 500 });
    expect(d2).toEqual({ action: 'retry', delayMs: 1000 });
  });

  it('a one-attempt policy dead-letters the first retryable failure', () => {
    const d = decideFailure(apiError('API_SERVER_ERROR', false, { status: 503 }), 1, { ...policy, attempts: 1 }, 0.3);
    expect(d.action).toBe('dead-letter');
    expect(d.action === 'dead-letter' && d.reason).toMatch(/^gave up after 1 attempts: /);
  });
});

describe('decideFailure: errors that are not ApiErrors', () => {
  it.each([
    ['Error', new Error('socket hang up in our code')],
    ['DialerError', new DialerError('CONFIG_INVALID', 'bad config')],
    ['TypeError', new TypeError('x is undefined')],
    ['a thrown string', 'plain string'],
    ['a thrown object', { weird: true }],
  ])('%s: retried within the budget, then dead-lettered with its message', (_, err) => {
    expect(decideFailure(err, 1, policy, 0)).toEqual({ action: 'retry', delayMs: 500 });
    expect(decideFailure(err, 2, policy, 1)).toEqual({ action: 'retry', delayMs: 2000 });
    const last = decideFailure(err, 3, policy, 0.5);
    expect(last.action).toBe('dead-letter');
    const message = typeof err === 'string' ? err : err instanceof Error ? err.message : JSON.stringify(err);
    expect(last).toEqual({ action: 'dead-letter', reason: `gave up after 3 attempts: ${message}` });
  });

  it('a count beyond the budget is still a dead letter', () => {
    expect(decideFailure(new Error('x'), 9, policy, 0).action).toBe('dead-letter');
  });
});

describe('decideFailure: 429', () => {
  const limited = (retryAfterMs?: number) => apiError('API_RATE_LIMITED', false, { status: 429, retryAfterMs });

  it('waits as long as Retry-After says', () => {
    expect(decideFailure(limited(3000), 1, policy, 0.9)).toEqual({ action: 'rate-limited', delayMs: 3000 });
    expect(decideFailure(limited(1), 1, policy, 0.9)).toEqual({ action: 'rate-limited', delayMs: 100 });
    expect(decideFailure(limited(0), 1, policy, 0.9)).toEqual({ action: 'rate-limited', delayMs: 100 });
  });

  it('without Retry-After waits the default', () => {
    expect(decideFailure(limited(undefined), 1, policy, 0.9)).toEqual({ action: 'rate-limited', delayMs: DEFAULT_RATE_LIMIT_WAIT_MS });
    expect(DEFAULT_RATE_LIMIT_WAIT_MS).toBeGreaterThanOrEqual(100);
  });

  it('is not an attempt: even past the budget it is rate-limited, not dead', () => {
    expect(decideFailure(limited(500), 99, policy, 0).action).toBe('rate-limited');
  });

  it('does not depend on jitter', () => {
    for (const r of [0, 0.25, 0.999]) expect(decideFailure(limited(700), 1, policy, r)).toEqual({ action: 'rate-limited', delayMs: 700 });
  });
});

describe('backoffDelay', () => {
  it('doubles per attempt: exp = backoff × 2^(attempt-1), delay in [exp/2, exp]', () => {
    const p: RetryPolicy = { attempts: 10, backoffMs: 1000, maxBackoffMs: 1_000_000 };
    for (let attempt = 1; attempt <= 8; attempt++) {
      const exp = 1000 * 2 ** (attempt - 1);
      expect(backoffDelay(attempt, p, 0)).toBe(exp / 2);
      expect(backoffDelay(attempt, p, 0.5)).toBe(Math.round(exp * 0.75));
      expect(backoffDelay(attempt, p, 0.999999)).toBeLessThanOrEqual(exp);
      expect(backoffDelay(attempt, p, 0.999999)).toBeGreaterThan(exp * 0.999);
    }
  });

  it('jitter stays within bounds for many random draws', () => {
    const p: RetryPolicy = { attempts: 10, backoffMs: 2000, maxBackoffMs: 300_000 };
    for (let i = 0; i < 2000; i++) {
      const attempt = 1 + (i % 12);
      const exp = Math.min(300_000, 2000 * 2 ** (attempt - 1));
      const d = backoffDelay(attempt, p, Math.random());
      expect(Number.isInteger(d)).toBe(true);
      expect(d).toBeGreaterThanOrEqual(exp / 2);
      expect(d).toBeLessThanOrEqual(exp);
    }
  });

  it('is capped by maxBackoffMs (jitter included), also for huge attempt counts', () => {
    const p: RetryPolicy = { attempts: 100, backoffMs: 1000, maxBackoffMs: 5000 };
    expect(backoffDelay(3, p, 0.999)).toBe(Math.round(2000 + 2000 * 0.999)); // exp 4000, under the cap
    expect(backoffDelay(4, p, 0)).toBe(2500); // exp 8000 → capped at 5000
    expect(backoffDelay(4, p, 0.999999)).toBe(5000);
    expect(backoffDelay(60, p, 0.5)).toBe(3750);
    expect(backoffDelay(2000, p, 0.5)).toBe(3750); // 2^1999 is Infinity; still capped
  });

  it('attempt 0 (or less) counts as the first', () => {
    const p: RetryPolicy = { attempts: 3, backoffMs: 800, maxBackoffMs: 10_000 };
    expect(backoffDelay(0, p, 0)).toBe(400);
    expect(backoffDelay(-3, p, 0)).toBe(400);
  });

  it('a zero backoff means retry at once', () => {
    const p: RetryPolicy = { attempts: 3, backoffMs: 0, maxBackoffMs: 10_000 };
    expect(backoffDelay(1, p, 0.7)).toBe(0);
    expect(backoffDelay(5, p, 0.7)).toBe(0);
  });
});
