import type { RowRecord } from '../campaign/row.js';
import type { Runtime } from '../runtime.js';
import type { Store } from '../store/store.js';
import { checkWindow } from '../windows/index.js';
import { consentScreen } from './consent.js';
import { erasedScreen } from './erasure.js';
import { ScreenMembership } from './membership.js';
import { FILE_SUPPRESSED_REASON, SUPPRESSED_REASON, campaignSuppression } from './suppression.js';
import type { Screen } from './types.js';
import { UNKNOWN_ZONE_REASON } from './window.js';
import { resolveRowZones, zoneLabel } from './zone.js';

/** Runs screens in order; the first that makes a row final wins. Prefetches for all of them. */
export function chainScreens(...screens: (Screen | undefined)[]): Screen {
  const chain: Screen = async (c, rec) => {
    for (const s of screens) {
      if (rec.outcome) break;
      if (s) rec = await s(c, rec);
    }
    return rec;
  };
  const pre = screens.filter((s) => s?.prefetch);
  if (pre.length) chain.prefetch = async (c, recs) => void (await Promise.all(pre.map((s) => s!.prefetch!(c, recs))));
  return chain;
}

/**
 * The privacy part of the load screen: erased numbers first (they keep
 * nothing), then consent. Throws at the first row when numbers were
 * erased but DIALER_HASH_KEY is unset: the load is refused rather than
 * calling people who asked to be forgotten.
 */
export function privacyScreen(store: Store, key: string | undefined, members = new ScreenMembership(store, key)): Screen {
  const screen = chainScreens(erasedScreen(store, key, members), async (c, rec) => consentScreen(c, rec));
  const out: Screen = async (c, rec) => {
    const r = await screen(c, rec);
    if (r.outcome && !rec.outcome) await releaseClaim(store, c.name, rec.phone, rec.row);
    return r;
  };
  out.prefetch = screen.prefetch;
  return out;
}

/**
 * The loader claims a number in the ledger before screens run; a screened row
 * gives its claim back, so the number of someone without consent (or erased)
 * is not kept there either.
 */
async function releaseClaim(store: Store, id: string, phone: string, row: number): Promise<void> {
  if (phone) await store.privacy.releaseClaim(id, phone, row);
}

/**
 * `LoadDeps.screen`: erased and no-consent rows, suppressed numbers
 * (global set, campaign file) end at load and get no dial job; every other row gets its
 * zone label in `timezone`. A contact whose zone can't be told, under calling hours
 * that need one, ends `rejected` with the reason.
 */
export function createLoadScreen(rt: Runtime): Screen {
  const members = new ScreenMembership(rt.store, rt.env.hashKey);
  return verdictScreen(privacyScreen(rt.store, rt.env.hashKey, members), () => rt.clock.now(), members);
}

/**
 * The load screen's verdicts without a write (`dialer check`): the same
 * order and rules, reading the erased and suppression sets only. No claim
 * was taken, so none is given back.
 */
export function createCheckScreen(store: Store, hashKey: string | undefined, now: () => number): Screen {
  const members = new ScreenMembership(store, hashKey);
  return verdictScreen(chainScreens(erasedScreen(store, hashKey, members), async (c, rec) => consentScreen(c, rec)), now, members);
}

/**
 * The global set is asked of Redis (membership, no copy): per chunk when the
 * caller prefetches, else per row. `members` is shared with the erased screen
 * inside `privacy`, so one prefetch answers both sets.
 */
function verdictScreen(privacy: Screen, now: () => number, members: ScreenMembership): Screen {
  const screen: Screen = async (c, rec) => {
    rec = await privacy(c, rec);
    if (rec.outcome) return rec;
    if (await members.isSuppressed(rec.phone)) return { ...rec, outcome: 'suppressed', error: SUPPRESSED_REASON };
    const file = await campaignSuppression(c);
    if (file?.has(rec.phone)) return { ...rec, outcome: 'suppressed', error: FILE_SUPPRESSED_REASON };
    const zone = resolveRowZones(c, rec);
    const out: RowRecord = { ...rec, timezone: zoneLabel(zone) };
    if (zone.zones.length === 0 && !checkWindow(c.calling_hours, zone, new Date(now())).open) {
      return { ...out, outcome: 'rejected', error: UNKNOWN_ZONE_REASON };
    }
    return out;
  };
  screen.prefetch = (_c, recs) => members.prefetch(recs.map((r) => r.phone));
  return screen;
}
