import { randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';

/**
 * The frequency cap: at most N calls to one number in any rolling 24 h, across every
 * campaign and worker. One sorted set per number (store/frequency.ts) holds a
 * member per call (score = business time of the call). Reserving a slot is one Lua
 * script — trim to 24 h, count, add only if under the cap — so two campaigns dialing
 * the same number at the same moment can't both get past it.
 *
 * Times are business time (the injectable clock, DIALER_NOW aware), like the calling
 * window: every process of one deployment runs on the same clock.
 */

export const FREQUENCY_WINDOW_MS = 24 * 3_600_000;

export type FrequencyResult =
  | { reserved: true; count: number; release: () => Promise<void> }
  | { reserved: false; freeAt: number };

/**
 * Reserves one call to `e164` at business time `now` if fewer than `cap` were made in
 * the last 24 h. `member` names the logical call (the gate uses campaign|row|last call
 * id): a POST retried after an ambiguous failure that placed nothing reuses its slot
 * instead of eating another. Default: a fresh member, always a new slot.
 */
export async function reserveFrequency(store: Store, e164: string, cap: number, now: number, member = `${now}:${randomBytes(6).toString('hex')}`): Promise<FrequencyResult> {
  return frequencyResult(store, e164, member, await store.frequency.reserve(e164, now, FREQUENCY_WINDOW_MS, cap, member));
}

/** The outcome of a reservation script ([1, count, 1 if new] or [0, freeAtMs]), with its `release`. */
export function frequencyResult(store: Store, e164: string, member: string, [ok, v, fresh]: [number, number, number?]): FrequencyResult {
  if (ok !== 1) return { reserved: false, freeAt: v };
  // Only a slot this call took may be given back: a reused one may stand for a call that exists.
  let released = fresh !== 1;
  return {
    reserved: true,
    count: v,
    release: async () => {
      if (released) return;
      released = true;
      await store.frequency.release(e164, member);
    },
  };
}

/** Calls to `e164` in the 24 h before business time `now` (for reports). */
export async function recentCalls(store: Store, e164: string, now: number): Promise<number> {
  return store.frequency.countSince(e164, now - FREQUENCY_WINDOW_MS);
}
