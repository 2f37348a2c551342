import type { Campaign } from '../config/campaign.js';
import type { RowRecord } from '../campaign/row.js';
import { isErased } from '../privacy/hash.js';
import { personalFieldsBlanked } from '../privacy/redact.js';
import type { Store } from '../store/store.js';
import { ScreenMembership } from './membership.js';
import type { GateResult, Screen } from './types.js';

/** Error text of a row whose number was erased on request. */
export const ERASED_REASON = 'number erased on request';

/**
 * Load-time screen for erased numbers: the row ends `suppressed` and keeps
 * nothing about the person (not even the number: it was erased on request).
 * Membership in the erased set is asked of Redis (a chunk at a time when
 * the loader prefetches, see membership.ts), no copy; a number erased after
 * its chunk was checked is caught by the dial gate before its POST.
 */
export function erasedScreen(store: Store, key: string | undefined, members = new ScreenMembership(store, key)): Screen {
  const screen: Screen = async (_c, rec) => {
    if (rec.outcome) return rec;
    if (!(await members.isErased(rec.phone))) return rec;
    return { ...personalFieldsBlanked(rec), outcome: 'suppressed', error: ERASED_REASON };
  };
  screen.prefetch = (_c, recs) => members.prefetch(recs.map((r) => r.phone));
  return screen;
}

/** How long a row waits when erasures can't be checked (no key); fixing the config lets it go on. */
const NO_KEY_RETRY_MS = 5 * 60_000;

/**
 * Check immediately before each POST: an erased number is never sent, even
 * when it was erased after the campaign was loaded (the row is then queued
 * for `completePendingErasures`, which blanks it once final). Without DIALER_HASH_KEY
 * no number can be recognised: if anything was ever erased the row waits
 * (fail closed, no final outcome), so setting the key lets the campaign go on.
 * Undefined = no objection.
 */
export function erasedGate(store: Store, key: string | undefined): (c: Campaign, rec: RowRecord) => Promise<GateResult | undefined> {
  return async (c, rec) => {
    if (key) {
      if (!(await isErased(store, rec.phone, key))) return undefined;
      // The worker ends the row with its data still in it: queue it for the erasure sweep.
      await store.privacy.deferErasure(c.name, [rec.row]);
      return { action: 'skip', outcome: 'suppressed', reason: ERASED_REASON };
    }
    if ((await store.privacy.erasedCount()) === 0) return undefined;
    return noHashKeyDelay();
  };
}

/** What a dial waits for when numbers were erased but DIALER_HASH_KEY is unset (fail closed). */
export function noHashKeyDelay(): GateResult {
  return {
    action: 'delay', delayMs: NO_KEY_RETRY_MS, nextAt: new Date(Date.now() + NO_KEY_RETRY_MS).toISOString(),
    reason: 'DIALER_HASH_KEY is not set but numbers were erased on request; waiting until it is set',
  };
}
