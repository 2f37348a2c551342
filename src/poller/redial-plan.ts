import { REDIAL_OUTCOMES, type Campaign, type RedialOutcome } from '../config/campaign.js';

/**
 * A campaign's redial plan, read from its `redial` key at decision time (so
 * a setting changed on a running campaign applies to the next decision).
 *
 * Two shapes of the key mean the same kind of plan:
 * - one plan for all outcomes, `{outcomes, max, after_minutes}`: after any
 *   of `outcomes`, another call `after_minutes` later while the contact has
 *   had fewer than `max` redials in all (what it has always meant);
 * - a list per outcome, `{busy: {after_minutes: [5, 30]}, ...}`: the n-th
 *   redial after that outcome waits the n-th interval, and the list's length
 *   is the most redials after that outcome.
 */
export interface RedialPlan {
  /** Waits before the 1st, 2nd, ... redial, per outcome (ms). */
  waitsMs: Partial<Record<RedialOutcome, number[]>>;
  /** What "the n-th redial" counts: every redial of the contact (one plan), or those after the same outcome. */
  countBy: 'contact' | 'outcome';
  priority?: 'first' | 'last';
}

/** Redials made so far after each outcome, as the row keeps them. */
export type RedialCounts = Partial<Record<RedialOutcome, number>>;

const DEFAULT_ONE_PLAN = { outcomes: ['no-answer', 'busy', 'voicemail'] as RedialOutcome[], max: 2, after_minutes: 240 };

export function redialPlan(redial: Campaign['redial']): RedialPlan | undefined {
  if (!redial) return undefined;
  const perOutcome = REDIAL_OUTCOMES.filter((o) => redial[o] !== undefined);
  if (perOutcome.length) {
    return { waitsMs: Object.fromEntries(perOutcome.map((o) => [o, redial[o]!.after_minutes.map((m) => m * 60_000)])), countBy: 'outcome', priority: redial.priority };
  }
  const outcomes = redial.outcomes ?? DEFAULT_ONE_PLAN.outcomes;
  const waits = new Array<number>(redial.max ?? DEFAULT_ONE_PLAN.max).fill((redial.after_minutes ?? DEFAULT_ONE_PLAN.after_minutes) * 60_000);
  return { waitsMs: Object.fromEntries(outcomes.map((o) => [o, waits])), countBy: 'contact', priority: redial.priority };
}

export type NextRedial = { redial: false } | { redial: true; delayMs: number; counts: RedialCounts };

/**
 * Whether a call that ended with `outcome` gets another, and after how long.
 * `calls`: calls placed for the contact so far, this one included;
 * `counts`: redials already made after each outcome.
 */
export function nextRedial(plan: RedialPlan | undefined, outcome: string, calls: number, counts: RedialCounts = {}): NextRedial {
  const o = outcome as RedialOutcome;
  const waits = plan?.waitsMs[o];
  if (!plan || !waits) return { redial: false };
  const done = plan.countBy === 'contact' ? calls - 1 : counts[o] ?? 0;
  const delayMs = waits[done];
  if (delayMs === undefined) return { redial: false };
  return { redial: true, delayMs, counts: { ...counts, [o]: (counts[o] ?? 0) + 1 } };
}

/**
 * BullMQ priority of a dial job (lower runs first; none = today's order).
 * With `priority` set every job of the campaign gets one, so the order holds
 * among all of them: redials 1 (first) or 3 (last), everything else 2.
 */
export function dialPriority(priority: 'first' | 'last' | undefined, kind: 'redial' | 'other'): number | undefined {
  if (!priority) return undefined;
  if (kind === 'other') return 2;
  return priority === 'first' ? 1 : 3;
}
