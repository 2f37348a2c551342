import { findPhoneNumbersInText, type CountryCode } from 'libphonenumber-js/max';
import { normalizePhone } from './normalize.js';

/**
 * Several numbers for one contact, as exports write them: one cell per
 * column (`phone_columns: [Mobile, Phone]`) and several numbers in one cell
 * (Google Contacts' `0414 345 003 ::: 0415 345 003`, `;`, `|`, `/`, one per
 * line). Pure: no I/O, no clock.
 *
 * Separators are detected, never guessed: `:::`, `;`, `|` and line breaks
 * always separate; `/` and `,` separate only when the part does not read as
 * one number as a whole ("02/9876 5432" is one Sydney number). Digits of two
 * parts are never glued together; a part that holds no separator but two
 * numbers ("0414 345 003  02 9876 5432") is accepted only when
 * libphonenumber's findNumbers finds numbers that account for every digit.
 */

/** Joins the phone cells of one row (phone_columns) into one string for the phone worker. */
export const CELL_SEP = '\u001f';

export type CellsResult =
  | { ok: true; e164: string; country?: string; alts?: string[] }
  /** `cell`: index of the cell the reason is about (the first non-empty one); absent = the first. */
  | { ok: false; reason: string; cell?: number };

const ALWAYS = /:::|[;|\n\r]/;
const MAYBE = /[/,]/;
const ANY = /:::|[;|\n\r/,]/;

/** The numbers of one row, in order (cells in column order, parts in cell order), duplicates dropped. */
export function normalizeCells(cells: string[], country?: CountryCode): CellsResult {
  if (cells.length === 1 && !ANY.test(cells[0]!)) {
    const r = normalizePhone(cells[0]!, country);
    return r;
  }
  const found: { e164: string; country?: string }[] = [];
  let firstFailure: { reason: string; cell: number } | undefined;
  cells.forEach((cell, i) => {
    for (const part of splitCell(cell)) {
      const r = parsePart(part, country);
      if ('reason' in r) firstFailure ??= { reason: r.reason, cell: i };
      else for (const n of r.numbers) if (!found.some((f) => f.e164 === n.e164)) found.push(n);
    }
  });
  if (found.length === 0) {
    const f = firstFailure ?? { reason: 'missing phone number', cell: 0 };
    return f.cell ? { ok: false, ...f } : { ok: false, reason: f.reason };
  }
  const [first, ...rest] = found;
  const out: CellsResult = { ok: true, e164: first!.e164 };
  if (first!.country) out.country = first!.country;
  if (rest.length) out.alts = rest.map((n) => n.e164);
  return out;
}

/** The parts of a cell between the separators that always separate (empty parts dropped). */
export function splitCell(cell: string): string[] {
  if (!ALWAYS.test(cell)) return cell.trim() === '' ? [] : [cell.trim()];
  return cell.split(/:::|[;|\n\r]+/).map((p) => p.trim()).filter((p) => p !== '');
}

type Part = { numbers: { e164: string; country?: string }[] } | { reason: string };

function parsePart(part: string, country: CountryCode | undefined): Part {
  const whole = normalizePhone(part, country);
  if (whole.ok) return { numbers: [{ e164: whole.e164, country: whole.country }] };
  if (MAYBE.test(part)) {
    const subs = part.split(/[/,]/).map((p) => p.trim()).filter((p) => p !== '');
    const numbers = subs.map((s) => normalizePhone(s, country)).flatMap((r) => (r.ok ? [{ e164: r.e164, country: r.country }] : []));
    // "0414 345 003 / 02 9876 5432": every piece must be a number; otherwise the
    // "/" may be part of something else and the pieces prove nothing.
    if (numbers.length === subs.length && numbers.length > 1) return { numbers };
    return { reason: whole.reason };
  }
  const inText = findNumbers(part, country);
  return inText.length > 1 ? { numbers: inText } : { reason: whole.reason };
}

/** Numbers libphonenumber finds in the part, only when they cover every digit of it. */
function findNumbers(part: string, country: CountryCode | undefined): { e164: string; country?: string }[] {
  const hits = findPhoneNumbersInText(part, country ? { defaultCountry: country } : undefined);
  let rest = part;
  for (const h of [...hits].sort((a, b) => b.startsAt - a.startsAt)) rest = rest.slice(0, h.startsAt) + ' ' + rest.slice(h.endsAt);
  if (/\d/.test(rest)) return [];
  const out: { e164: string; country?: string }[] = [];
  for (const h of hits) {
    if (!h.number.isValid()) return [];
    out.push({ e164: h.number.number, country: h.number.country });
  }
  return out;
}
