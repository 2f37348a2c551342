import { DialerError } from '../errors.js';
import { maskPhone } from '../log.js';
import type { Store } from '../store/store.js';
import { rowStateOf, ROW_STATES } from './lifecycle.js';
import { OUTCOMES, type RowRecord } from './row.js';
import { decodeRow } from '../store/row-codec.js';

/**
 * The campaign page's rows table: one page of rows, filtered by outcome or
 * state, or found by row number or (masked) number. Every request reads a
 * bounded amount, whatever the size of the campaign:
 * - no filter: the next `limit` row numbers (HMGET);
 * - an outcome: its index of final rows (ZRANGEBYSCORE), then HMGET;
 * - a state (open rows have no index): row ranges read in order until the
 *   page is full or SCAN_BUDGET rows were read; `next_after` resumes;
 * - a row number, or a full number (through the ledger): one row;
 * - a masked number ("+614•••••678", "*678"): an HSCAN of the ledger with
 *   the pattern, at most SCAN_BUDGET entries, resumed by `cursor`.
 */

export const MAX_LIMIT = 200;
/** Most rows (or ledger entries) one request reads when no index serves the filter. */
export const SCAN_BUDGET = 20_000;
const CHUNK = 1000;

export interface RowQuery {
  /** Rows after this row number (0 = from the start). */
  after?: number;
  limit?: number;
  outcome?: string;
  /** A row state (lifecycle.ts), or `open` (any state but final). */
  state?: string;
  /** Row number, E.164 number, or a masked number with • / * / ? for hidden digits. */
  q?: string;
  /** Resumes a masked-number search. */
  cursor?: string;
}

export interface RowView {
  row: number;
  name: string;
  /** Masked: the page never shows a whole number. */
  phone: string;
  outcome: string | null;
  state: string;
  attempts: number | null;
  duration_seconds: number | null;
  call_id: string | null;
  ended_at: string | null;
  error: string | null;
  cost: number | null;
}

export interface RowPage {
  rows: RowView[];
  /** Rows matching the filter (null when it can't be told without a scan). */
  total: number | null;
  /** Pass as `after` for the next page; null on the last. */
  next_after: number | null;
  /** Pass as `cursor` to go on with a masked-number search; null when it is done. */
  cursor: string | null;
  /** Row records (or ledger entries) read for this page. */
  scanned: number;
}

export type Search = { kind: 'row'; row: number } | { kind: 'number'; e164: string } | { kind: 'mask'; glob: string };

/** What a search box text asks for; undefined when it is none of them. */
export function parseSearch(q: string): Search | undefined {
  const t = q.trim().replace(/[\s().-]/g, '');
  if (/^\d{1,9}$/.test(t)) return { kind: 'row', row: Number(t) };
  if (/^\+\d{6,15}$/.test(t)) return { kind: 'number', e164: t };
  if (/^\+?[\d•*?…]{3,20}$/.test(t) && /[•*?…]/.test(t)) {
    return { kind: 'mask', glob: t.replace(/…/g, '*').replace(/•/g, '?') };
  }
  return undefined;
}

export function rowView(n: number, rec: RowRecord | undefined): RowView {
  return {
    row: n,
    name: rec?.name ?? '',
    phone: rec?.phone ? maskPhone(rec.phone) : '',
    outcome: rec?.outcome ?? null,
    state: rec ? rowStateOf(rec) : 'missing',
    attempts: rec?.attempts ?? null,
    duration_seconds: rec?.duration_seconds ?? null,
    call_id: rec?.call_id ?? null,
    ended_at: rec?.ended_at ?? null,
    error: rec?.error ?? (rec ? null : 'row missing from the dialer state'),
    cost: rec?.cost ?? null,
  };
}

const parse = (v: string | null): RowRecord | undefined => (v ? decodeRow(v) : undefined);

function matches(v: RowView, o: RowQuery): boolean {
  if (o.outcome && (o.outcome === 'pending' ? v.outcome !== null : v.outcome !== o.outcome)) return false;
  if (o.state && (o.state === 'open' ? v.state === 'final' : v.state !== o.state)) return false;
  return true;
}

export async function rowsPage(store: Store, id: string, o: RowQuery): Promise<RowPage> {
  const info = await store.getCampaign(id);
  if (!info) throw new DialerError('CAMPAIGN_NOT_FOUND', `no campaign named "${id}"`);
  const limit = Math.min(MAX_LIMIT, Math.max(1, Math.floor(o.limit ?? 50)));
  const after = Math.max(0, Math.floor(o.after ?? 0));
  const total = info.total ?? (await store.rowCount(id));
  const pages = store.rowPages;
  if (o.outcome && o.outcome !== 'pending' && !(OUTCOMES as readonly string[]).includes(o.outcome) && o.outcome !== 'expired') {
    throw new DialerError('USAGE', `outcome: unknown outcome "${o.outcome}" (one of ${[...OUTCOMES, 'pending'].join(', ')})`);
  }
  if (o.state && o.state !== 'open' && !(ROW_STATES as readonly string[]).includes(o.state)) {
    throw new DialerError('USAGE', `state: unknown state "${o.state}" (one of open, ${ROW_STATES.join(', ')})`);
  }

  if (o.q) {
    const s = parseSearch(o.q);
    if (!s) throw new DialerError('USAGE', 'q: search by row number (e.g. 1234), number (+61412345678) or masked number (+614•••••678, *678)');
    if (s.kind !== 'mask') {
      const row = s.kind === 'row' ? s.row : await pages.rowOfNumber(id, s.e164);
      const found = row !== undefined && row >= 1 && row <= total ? await pages.some(id, [row]) : [];
      const rows = found.map(([n, v]) => rowView(n, parse(v))).filter((v) => matches(v, o));
      return { rows, total: rows.length, next_after: null, cursor: null, scanned: found.length };
    }
    let cursor = o.cursor ?? '0';
    const hits = new Set<number>();
    let scanned = 0;
    do {
      const r = await pages.scanNumbers(id, s.glob, cursor, 5000);
      for (const row of r.rows) hits.add(row);
      cursor = r.cursor;
      scanned += 5000;
    } while (cursor !== '0' && hits.size < limit && scanned < SCAN_BUDGET);
    const sorted = [...hits].sort((a, b) => a - b);
    const rows = (await pages.some(id, sorted)).map(([n, v]) => rowView(n, parse(v))).filter((v) => matches(v, o));
    return { rows, total: null, next_after: null, cursor: cursor === '0' ? null : cursor, scanned };
  }

  if (o.outcome && o.outcome !== 'pending' && !o.state) {
    // A campaign from before the outcome index: build it once (the scripts keep it from then on).
    // Counts first: the scripts move both at once, so a later index count is never behind an earlier finished count.
    const finished = (await store.counts(id)).finished ?? 0;
    if ((await pages.indexedCount(id)) < finished) await pages.backfillOutcomes(id);
    const nums = await pages.outcomeRows(id, o.outcome, after, limit + 1);
    const more = nums.length > limit;
    const recs = await pages.some(id, nums.slice(0, limit));
    const rows = recs.map(([n, v]) => rowView(n, parse(v)));
    return { rows, total: await pages.outcomeCount(id, o.outcome), next_after: more ? rows[rows.length - 1]!.row : null, cursor: null, scanned: recs.length };
  }

  if (!o.outcome && !o.state) {
    const to = Math.min(total, after + limit);
    const recs = await pages.range(id, after + 1, to);
    return { rows: recs.map(([n, v]) => rowView(n, parse(v))), total, next_after: to < total ? to : null, cursor: null, scanned: recs.length };
  }

  // A state (or `pending`): no index, so read row ranges in order, within the budget.
  const rows: RowView[] = [];
  let at = after;
  let scanned = 0;
  while (at < total && rows.length < limit && scanned < SCAN_BUDGET) {
    const to = Math.min(total, at + CHUNK);
    for (const [n, v] of await pages.range(id, at + 1, to)) {
      scanned++;
      at = n;
      const view = rowView(n, parse(v));
      if (matches(view, o)) rows.push(view);
      if (rows.length === limit) break;
    }
  }
  const counts = await store.rowStates(id);
  const open = Object.values(counts).reduce((a, b) => a + b, 0);
  const known = o.state === 'open' || o.outcome === 'pending' ? open : o.state === 'final' ? total - open : o.state ? (counts as Record<string, number>)[o.state] ?? 0 : null;
  return { rows, total: o.outcome && o.state ? null : known, next_after: at < total ? at : null, cursor: null, scanned };
}
