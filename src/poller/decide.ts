import type { Campaign } from '../config/campaign.js';
import type { Outcome } from '../campaign/row.js';
import type { LedgerEntry } from '../store/store.js';
import { nextRedial, redialPlan, type RedialCounts } from './redial-plan.js';

/** What to do once a call has ended with `outcome`. */
export type AfterCall =
  | { action: 'finish'; why?: string }
  | { action: 'redial'; delayMs: number; jobSuffix: string; redials?: RedialCounts };

/**
 * A redial follows an outcome the campaign's plan redials while the plan has
 * redials left for it (poller/redial-plan.ts); `calls` counts the calls
 * placed so far, this one included, `redials` the redials already made after
 * each outcome. A redial that would be due at or after the campaign's
 * deadline (`deadlineMs`, with `nowMs`) is not made: the row keeps its real outcome.
 */
export function decideAfterCall(
  redial: Campaign['redial'], outcome: Outcome, calls: number,
  o: { redials?: RedialCounts; nowMs?: number; deadlineMs?: number } = {},
): AfterCall {
  const plan = redialPlan(redial);
  const next = nextRedial(plan, outcome, calls, o.redials);
  if (!next.redial) return { action: 'finish' };
  if (o.deadlineMs !== undefined && (o.nowMs ?? 0) + next.delayMs >= o.deadlineMs) return { action: 'finish', why: 'no redial: it would be due after the campaign deadline' };
  const d: AfterCall = { action: 'redial', delayMs: next.delayMs, jobSuffix: `redial${calls}` };
  if (plan?.countBy === 'outcome') d.redials = next.counts;
  return d;
}

export interface ReconcileInput {
  entry?: LedgerEntry;
  now: number;
  /** A `sending` entry younger than this may still be a live request. */
  lockMs: number;
  graceMs: number;
  timeoutMs: number;
  /** Redials after an ambiguous dial that a lookup showed placed no call: none (skip), one, or up to the retry attempts. */
  maxAmbiguousRedials: number;
  /** The lookup's answer: the call found, none found, or the lookup failed. */
  lookup?: { found?: { id: string; status?: string }; failed?: string };
}

/** How many redials `on_ambiguous` allows after lookups that found no call. */
export function ambiguousRedials(onAmbiguous: 'skip' | 'redial-once' | 'redial', attempts: number): number {
  return onAmbiguous === 'skip' ? 0 : onAmbiguous === 'redial-once' ? 1 : Math.max(1, attempts - 1);
}

export type ReconcileDecision =
  /** Never sent (a dial job owns the row), or a redial whose job may be lost. */
  | { action: 'not-sent' }
  /** Look (again) at `atMs`; `lookup` says whether a GET /calls is needed now. */
  | { action: 'wait'; atMs: number }
  | { action: 'lookup' }
  | { action: 'adopt'; callId: string; status?: string; countCall: boolean }
  | { action: 'unknown'; error: string }
  | { action: 'redial'; why: string };

/**
 * Reconciliation of a dial whose result is unknown, as a pure step: first
 * without a lookup (`lookup` absent), then with its answer.
 */
export function decideReconcile(i: ReconcileInput): ReconcileDecision {
  const e = i.entry;
  if (!e || e.s === 'pending' || e.s === 'failed') return { action: 'not-sent' };
  if (e.s === 'sending' && i.now - e.t < i.lockMs) return { action: 'wait', atMs: e.t + i.lockMs };
  // A placed entry that knows its call: that call is ours.
  if (e.s === 'placed' && e.id) return { action: 'adopt', callId: e.id, countCall: false };
  const sentAt = e.sent ?? e.t;
  const why = e.e ?? "the request's outcome is unknown";
  if (!i.lookup) return { action: 'lookup' };
  if (i.lookup.found) return { action: 'adopt', callId: i.lookup.found.id, status: i.lookup.found.status, countCall: e.s !== 'placed' };
  if (i.lookup.failed !== undefined) {
    // A lookup that keeps failing must not hold the row open forever; nor may it lead to a blind redial.
    if (i.now - sentAt > i.timeoutMs) return { action: 'unknown', error: `could not find out whether a call was placed (${why}); lookup failing: ${i.lookup.failed}` };
    return { action: 'wait', atMs: i.now + Math.min(5000, i.graceMs || 1000) };
  }
  if (i.now - sentAt < i.graceMs) return { action: 'wait', atMs: i.now + Math.min(2000, Math.max(250, i.graceMs / 10)) };
  const grace = Math.round(i.graceMs / 1000);
  if (e.s === 'placed') return { action: 'unknown', error: `call placed but its id was never found within ${grace}s` };
  if (i.maxAmbiguousRedials === 0) return { action: 'unknown', error: `POST /calls may have placed a call (${why}); none found within ${grace}s; not redialed (on_ambiguous: skip)` };
  if ((e.amb ?? 0) >= i.maxAmbiguousRedials) return { action: 'unknown', error: `POST /calls may have placed a call (${why}); none found within ${grace}s; already redialed ${e.amb} time(s) after an unknown result` };
  return { action: 'redial', why };
}
