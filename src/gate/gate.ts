import type { Campaign } from '../config/campaign.js';
import type { Runtime } from '../runtime.js';
import { consentGate } from './consent.js';
import { erasedGate } from './erasure.js';
import { reserveFrequency } from './frequency.js';
import { FILE_SUPPRESSED_REASON, SUPPRESSED_REASON, campaignSuppression, isSuppressed } from './suppression.js';
import type { DialGate } from './types.js';
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
 */

export function createDialGate(rt: Runtime): DialGate {
  const { store } = rt;
  const erased = erasedGate(store, rt.env.hashKey);
  return async (c, rec) => {
    const consent = consentGate(c, rec);
    if (consent) return consent;
    const e = await erased(c, rec);
    if (e) return e;
    if (await isSuppressed(store, rec.phone)) return { action: 'skip', outcome: 'suppressed', reason: SUPPRESSED_REASON };
    const file = await campaignSuppressionOrWarn(rt, c);
    if (file?.has(rec.phone)) return { action: 'skip', outcome: 'suppressed', reason: FILE_SUPPRESSED_REASON };

    const now = rt.clock.now();
    const w = windowDecision(c, rowZones(c, rec), now);
    if (w.action !== 'go') return w;

    // One slot per logical call: a re-POST after an ambiguous failure (same last call id) reuses it.
    const f = await reserveFrequency(store, rec.phone, c.frequency_cap, now, `${c.name}|${rec.row}|${rec.call_id ?? ''}`);
    if (!f.reserved) {
      const nextAt = new Date(f.freeAt).toISOString();
      return {
        action: 'delay', delayMs: Math.max(MIN_DELAY_MS, f.freeAt - now), nextAt,
        reason: `frequency cap: ${c.frequency_cap} call${c.frequency_cap === 1 ? '' : 's'} to this number in 24 h across campaigns; next slot ${nextAt}`,
      };
    }
    return { ...w, release: f.release };
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
