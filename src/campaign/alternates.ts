import type { Campaign } from '../config/campaign.js';
import { ApiError } from '../errors.js';
import { resolveRowZones, zoneLabel } from '../gate/zone.js';
import type { Outcome, RowRecord } from './row.js';
import type { RowPatch, Store } from '../store/store.js';

/**
 * Alternate numbers: a row with several numbers (phone_columns, several in a
 * cell) dials the first; when that one ends `no-answer`, `busy` or `failed`,
 * is rejected by the API as an invalid number, or is suppressed at the gate,
 * the next number is tried. The row's `phone` is always the number being
 * dialed (the ledger, the gate, reconciliation and the results all follow
 * it); `alts` holds the numbers still to try; `numbers_tried` those a POST
 * went to.
 *
 * Duplicates are judged on the first number at load, as before. A later
 * number is claimed in the campaign's ledger only when it is about to be
 * tried: one that another row already owns is skipped (that row calls the
 * person), so nobody is called twice through two rows.
 */

/** Why a number gives way to the next one. */
export type NextReason = { outcome: Outcome } | { rejected: string } | { suppressed: string };

/** Final call outcomes after which the next number is tried (voicemail reached the person's phone). */
export const NEXT_NUMBER_OUTCOMES: readonly Outcome[] = ['no-answer', 'busy', 'failed'];

/** Pure: whether this reason moves the row on to its next number. */
export function triesNext(rec: Pick<RowRecord, 'alts'>, why: NextReason): boolean {
  if (!rec.alts?.length) return false;
  if ('outcome' in why) return NEXT_NUMBER_OUTCOMES.includes(why.outcome);
  return true;
}

/** Pure: the numbers tried so far with `number` added (once, at the end). */
export function triedWith(tried: string | undefined, number: string): string {
  const list = tried ? tried.split(' ') : [];
  return list.includes(number) ? list.join(' ') : [...list, number].join(' ');
}

/** Pure: what the row says about its move to `next`, given the numbers left after it. */
export function nextNumberPatch(c: Pick<Campaign, 'timezone_column' | 'fallback_timezone'>, rec: RowRecord, next: string, rest: string[], why: NextReason, dialed: boolean): RowPatch {
  const left = 'outcome' in why ? `${why.outcome}` : 'rejected' in why ? `rejected: ${why.rejected}` : `suppressed`;
  const patch: RowPatch = {
    phone: next,
    alts: rest.length ? rest : null,
    status: `next number after ${left}`,
    // The window is checked in the new number's zone (a timezone column still names the person's own).
    timezone: c.timezone_column ? rec.timezone ?? null : zoneLabel(resolveRowZones(c, { phone: next, timezone: undefined })),
  };
  if (dialed) patch.numbers_tried = triedWith(rec.numbers_tried, rec.phone);
  return patch;
}

/** Whether an API error says the number itself is invalid (a 400/422 naming the phone number). */
export function isInvalidNumberError(err: unknown): boolean {
  if (!(err instanceof ApiError) || (err.status !== 400 && err.status !== 422)) return false;
  const text = `${err.message} ${typeof err.body === 'string' ? err.body : JSON.stringify(err.body ?? '')}`;
  return /phone/i.test(text);
}

/**
 * Picks the next number the row may try: the first of `alts` the ledger lets
 * this row own. Returns it with the numbers after it, or undefined when none is left.
 * The new entry starts from the row's `attempts` so far (the ledger counts a
 * number's POSTs, and the row's `attempts` is read from it), so `attempts`
 * keeps counting every POST of the row.
 */
export async function claimNextNumber(store: Store, id: string, rec: RowRecord, attempts: number): Promise<{ next: string; rest: string[]; skipped: string[] } | undefined> {
  const alts = rec.alts ?? [];
  const skipped: string[] = [];
  for (let i = 0; i < alts.length; i++) {
    const [owner] = await store.claimNumbers(id, [[alts[i]!, rec.row]], Date.now());
    if (owner === 0) {
      const entry = await store.ledgerGet(id, alts[i]!);
      if (entry && entry.s === 'pending' && entry.a < attempts) await store.ledgerMove(id, alts[i]!, ['pending'], { a: attempts });
      return { next: alts[i]!, rest: alts.slice(i + 1), skipped };
    }
    skipped.push(alts[i]!);
  }
  return undefined;
}
