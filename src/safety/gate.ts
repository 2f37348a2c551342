import { DateTime } from 'luxon';
import type { Campaign } from '../config/campaign.js';
import type { DialGate, GateResult } from '../dialer/worker.js';
import type { ZoneInfo } from '../phone/zones.js';
import { consentGate } from '../privacy/consent.js';
import { erasedGate, privacyScreen } from '../privacy/screen.js';
import type { RowRecord } from '../campaign/row.js';
import type { Runtime } from '../runtime.js';
import { checkWindow } from '../windows/index.js';
import { reserveFrequency } from './frequency.js';
import { FILE_SUPPRESSED_REASON, SUPPRESSED_REASON, campaignSuppression, globalSuppressionMatcher, isSuppressed } from './suppression.js';
import { resolveRowZones, rowZones, zoneLabel } from './zone.js';

/**
 * What stands between a loaded contact and a POST /calls, in one place:
 *  1. consent and erasure (issue 7, src/privacy): no consent → `no-consent`; erased → `suppressed`;
 *  2. suppression: the global set and the campaign's file → `suppressed`;
 *  3. the calling window in every candidate zone of the contact → delay to the next opening;
 *  4. the cross-campaign frequency cap (atomic reservation, given back by `release`) → delay.
 * The load screen runs 1–2 once per row and records the contact's zones; the gate runs
 * all of them immediately before each POST (first dials, retries and redials alike).
 * Business time is `rt.clock` (DIALER_NOW) throughout.
 */

export type Screen = (c: Campaign, rec: RowRecord) => Promise<RowRecord>;

/** Shortest delay handed back, so a job woken a hair early doesn't spin. */
const MIN_DELAY_MS = 1000;
/** The load screen's copy of the global suppression set is renewed after this long. */
const SNAPSHOT_MS = 30_000;

const UNKNOWN_ZONE_REASON = 'time zone unknown (no timezone column value, none from the number, no fallback_timezone): calling hours cannot be checked';

function localIso(zone: string | undefined, ms: number): string | undefined {
  if (!zone) return undefined;
  return DateTime.fromMillis(ms, { zone }).toISO({ suppressMilliseconds: true }) ?? undefined;
}

/** The window part of the gate, pure: time is a parameter. Exported for `dialer windows` and tests. */
export function windowDecision(c: Pick<Campaign, 'calling_hours'>, zone: ZoneInfo, now: number): GateResult {
  const d = checkWindow(c.calling_hours, zone, new Date(now));
  if (d.open) {
    // The rule names the zone that closes first; show the contact's clock there.
    const named = zone.zones.find((z) => d.rule.endsWith(` ${z}`)) ?? zone.zones[0];
    return { action: 'go', rule: d.rule, localTime: localIso(named, now) };
  }
  if (zone.zones.length === 0) return { action: 'skip', outcome: 'rejected', reason: UNKNOWN_ZONE_REASON };
  if (!d.nextOpen) return { action: 'skip', outcome: 'rejected', reason: `no calling window opens within 30 days (${d.rule})` };
  const nextAt = d.nextOpen.toISOString();
  return { action: 'delay', delayMs: Math.max(MIN_DELAY_MS, d.nextOpen.getTime() - now), nextAt, reason: `outside calling window (${d.rule}); next opening ${nextAt}` };
}

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

/**
 * `LoadDeps.screen`: erased and no-consent rows (src/privacy), suppressed numbers
 * (global set, campaign file) end at load and get no dial job; every other row gets its
 * zone label in `timezone`. A contact whose zone can't be told, under calling hours
 * that need one, ends `rejected` with the reason.
 */
export function createLoadScreen(rt: Runtime): Screen {
  const privacy = privacyScreen(rt.store, rt.env.hashKey);
  let snapshot: { at: number; match: Promise<(e164: string) => boolean | Promise<boolean>> } | undefined;
  return async (c, rec) => {
    rec = await privacy(c, rec);
    if (rec.outcome) return rec;
    if (!snapshot || Date.now() - snapshot.at > SNAPSHOT_MS) snapshot = { at: Date.now(), match: globalSuppressionMatcher(rt.store) };
    if (await (await snapshot.match)(rec.phone)) return { ...rec, outcome: 'suppressed', error: SUPPRESSED_REASON };
    const file = await campaignSuppression(c);
    if (file?.has(rec.phone)) return { ...rec, outcome: 'suppressed', error: FILE_SUPPRESSED_REASON };
    const zone = resolveRowZones(c, rec);
    const out: RowRecord = { ...rec, timezone: zoneLabel(zone) };
    if (zone.zones.length === 0 && !checkWindow(c.calling_hours, zone, new Date(rt.clock.now())).open) {
      return { ...out, outcome: 'rejected', error: UNKNOWN_ZONE_REASON };
    }
    return out;
  };
}
