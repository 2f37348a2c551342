import type { Campaign } from '../config/campaign.js';
import type { GateResult } from '../dialer/worker.js';
import type { RowRecord } from '../campaign/row.js';
import type { Store } from '../store/store.js';
import { consentScreen } from './consent.js';
import { erasedMatcher, isErased } from './hash.js';
import { personalFieldsBlanked } from './redact.js';

/** Error text of a row whose number was erased on request. */
export const ERASED_REASON = 'number erased on request';

export type Screen = (c: Campaign, rec: RowRecord) => Promise<RowRecord>;

/** Runs screens in order; the first that makes a row final wins. */
export function chainScreens(...screens: (Screen | undefined)[]): Screen {
  return async (c, rec) => {
    for (const s of screens) {
      if (rec.outcome) break;
      if (s) rec = await s(c, rec);
    }
    return rec;
  };
}

/**
 * Load-time screen for erased numbers: the row ends `suppressed` and keeps
 * nothing about the person (not even the number: it was erased on request).
 * The erased set is read once per load; a number erased during the load is
 * caught by `erasedGate` before its POST.
 */
export function erasedScreen(store: Store, key: string | undefined): Screen {
  let matcher: Promise<(e164: string) => boolean> | undefined;
  return async (_c, rec) => {
    if (rec.outcome) return rec;
    const erased = await (matcher ??= erasedMatcher(store, key));
    if (!erased(rec.phone)) return rec;
    return { ...personalFieldsBlanked(rec), outcome: 'suppressed', error: ERASED_REASON };
  };
}

/**
 * The issue-7 load screen for `LoadDeps.screen`: erased numbers first (they
 * keep nothing), then consent. Throws at the first row when numbers were
 * erased but DIALER_HASH_KEY is unset: the load is refused rather than
 * calling people who asked to be forgotten.
 */
export function privacyScreen(store: Store, key: string | undefined): Screen {
  const screen = chainScreens(erasedScreen(store, key), async (c, rec) => consentScreen(c, rec));
  return async (c, rec) => {
    const out = await screen(c, rec);
    if (out.outcome && !rec.outcome) await releaseClaim(store, c.name, rec.phone, rec.row);
    return out;
  };
}

/** Drops a ledger claim if it is still the untouched one this row's load just made. KEYS: ledger  ARGV: number, row */
const RELEASE_CLAIM = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local e = cjson.decode(cur)
if tostring(e.r) ~= ARGV[2] or e.s ~= 'pending' or (e.a or 0) > 0 then return 0 end
return redis.call('HDEL', KEYS[1], ARGV[1])
`;

/**
 * The loader claims a number in the ledger before screens run; a screened row
 * gives its claim back, so the number of someone without consent (or erased)
 * is not kept there either.
 */
async function releaseClaim(store: Store, id: string, phone: string, row: number): Promise<void> {
  if (phone) await store.redis.eval(RELEASE_CLAIM, 1, store.keys.ledger(id), phone, row);
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
      await store.redis.sadd(store.keys.erasePending, `${c.name}|${rec.row}`);
      return { action: 'skip', outcome: 'suppressed', reason: ERASED_REASON };
    }
    if ((await store.redis.scard(store.keys.erased)) === 0) return undefined;
    return {
      action: 'delay', delayMs: NO_KEY_RETRY_MS, nextAt: new Date(Date.now() + NO_KEY_RETRY_MS).toISOString(),
      reason: 'DIALER_HASH_KEY is not set but numbers were erased on request; waiting until it is set',
    };
  };
}
