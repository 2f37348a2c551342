import type { Campaign } from '../config/campaign.js';
import { numberHash } from '../privacy/hash.js';
import type { Runtime } from '../runtime.js';
import { GATE } from '../store/frequency.js';
import { consentGate } from './consent.js';
import { ERASED_REASON, noHashKeyDelay } from './erasure.js';
import { FREQUENCY_WINDOW_MS, frequencyResult } from './frequency.js';
import { FILE_SUPPRESSED_REASON, SUPPRESSED_REASON, campaignSuppression } from './suppression.js';
import type { DialGate, GateResult } from './types.js';
import { MIN_DELAY_MS, windowDecision } from './window.js';
import { rowZones } from './zone.js';

/**
 * What stands between a loaded contact and a POST /calls, in one place:
 *  1. consent and erasure: no consent → `no-consent`; erased → `suppressed`;
 *  2. suppression: the global set and the campaign's file → `suppressed`;
 *  3. the calling window in every candidate zone of the contact → delay to the next opening;
 *  4. the cross-campaign frequency cap (atomic reservation, given back by `release`) → delay.
 * The load screen runs 1–2 once per row and records the contact's zones; the gate runs
 * all of them immediately before each POST (first dials, retries and redials alike).
 * Business time is `rt.clock` (DIALER_NOW) throughout.
 *
 * What is decided in memory (consent, the campaign file, the window) is decided
 * first; then one script checks the erased and suppression sets in Redis
 * (membership, no copy: a number added a moment ago stops the next dial) and,
 * when everything let the call go, reserves the frequency slot: one round trip
 * per dial. The verdict keeps the order above.
 *
 * The worker asks with `defer`: when the local checks let the call go (and
 * the layout keeps the gate's keys in the campaign's slot, store/keys.ts),
 * that script is left to the dial's first step (store/dial.ts DIAL_BEGIN),
 * which runs the same checks first and reserves the slot only if the whole
 * step goes through; `settle` turns its answer into this gate's verdict.
 */
export function createDialGate(rt: Runtime): DialGate {
  const { store } = rt;
  const key = rt.env.hashKey;
  return async (c, rec, opts) => {
    const consent = consentGate(c, rec);
    if (consent) return consent;
    const file = await campaignSuppressionOrWarn(rt, c);
    const inFile = file?.has(rec.phone) === true;
    const now = rt.clock.now();
    const w = inFile ? undefined : windowDecision(c, rowZones(c, rec), now);

    // One slot per logical call: a re-POST after an ambiguous failure (same last call id) reuses it.
    const member = `${c.name}|${rec.row}|${rec.call_id ?? ''}`;
    const check = { hash: key ? numberHash(rec.phone, key) : '', nowMs: now, windowMs: FREQUENCY_WINDOW_MS, cap: c.frequency_cap, member };
    const settle = async (r: number[]): Promise<GateResult> => {
      switch (r[0]) {
        case GATE.erased:
          // The worker ends the row with its data still in it: queue it for the erasure sweep.
          await store.privacy.deferErasure(c.name, [rec.row]);
          return { action: 'skip', outcome: 'suppressed', reason: ERASED_REASON };
        case GATE.noKey:
          return noHashKeyDelay();
        case GATE.suppressed:
          return { action: 'skip', outcome: 'suppressed', reason: SUPPRESSED_REASON };
      }
      if (inFile) return { action: 'skip', outcome: 'suppressed', reason: FILE_SUPPRESSED_REASON };
      if (!w || w.action !== 'go') return w!;
      const f = frequencyResult(store, rec.phone, member, r[0] === GATE.reserved ? [1, r[1]!, r[2]] : [0, r[1]!]);
      if (!f.reserved) {
        const nextAt = new Date(f.freeAt).toISOString();
        return {
          action: 'delay', delayMs: Math.max(MIN_DELAY_MS, f.freeAt - now), nextAt,
          reason: `frequency cap: ${c.frequency_cap} call${c.frequency_cap === 1 ? '' : 's'} to this number in 24 h across campaigns; next slot ${nextAt}`,
        };
      }
      return { ...w, release: f.release };
    };
    if (opts?.defer && !store.keys.spread && w?.action === 'go') return { ...w, deferred: { check, settle } };
    return settle(await store.frequency.gateCheck({ ...check, e164: rec.phone, reserve: w?.action === 'go' }));
  };
}

const unreadable = new Set<string>();

/**
 * A worker on another machine may not see the campaign's suppression file (its path is
 * the loading machine's). Its rows were screened at load; say so once and go on.
 */
async function campaignSuppressionOrWarn(rt: Runtime, c: Campaign): Promise<Set<string> | undefined> {
  try {
    return await campaignSuppression(c);
  } catch (e) {
    if (!unreadable.has(c.name)) {
      unreadable.add(c.name);
      rt.log.warn({ campaign: c.name, err: (e as Error).message }, 'cannot read the campaign suppression file here; relying on the check made at load');
    }
    return undefined;
  }
}
