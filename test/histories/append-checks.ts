/**
 * The appended lists of a history (`append` steps), checked from the outside:
 * which of their rows landed in the campaign (its export tells), and
 * invariant 12 (README of the histories test). Pure: no I/O.
 */
import type { HistoryRow } from './contacts.js';

/** A row of an appended list as the runner wrote it, and what loading must make of it. */
export interface AppendedRow {
  /** The row's content id ("n.j"); a repeat of an earlier file's row has that row's id and content. */
  id: string;
  name: string;
  phone: string;
  expect: 'accepted' | 'rejected' | 'duplicate';
  /** For a number of the first list: the input row that owns it (its `duplicate of row N`). */
  ownerRow?: number;
}

/** `dialer load --append --json`'s summary. */
export interface AppendSummary {
  upload?: number;
  rows: number;
  added?: number;
  already?: number;
  accepted: number;
  rejected: number;
  duplicates: number;
  screened?: number;
}

/** One run of an append's command: during the steps, or the operator's re-run in the settle. */
export interface AppendRun {
  /** Exit code, or the signal when killed. */
  code: number | string;
  /** Killed -9 by the harness while it ran. */
  killed: boolean;
  settle: boolean;
  summary?: AppendSummary;
  /** Its `error:` line when it failed. */
  error?: string;
}

export interface AppendEvidence {
  n: number;
  rows: AppendedRow[];
  runs: AppendRun[];
}

/** The refusal of an append to a canceled campaign: it stays refused. */
export const CANCELED_REFUSAL = /was canceled; contacts cannot be appended/;
/** Refusals that come before the append writes anything (append.ts, load.ts): such a run adds no row. */
export const REFUSED_BEFORE_WRITING = /was canceled|still loading its first list|first load of campaign .* broke off|being loaded by another process|no campaign named/;

export const succeeded = (r: AppendRun) => r.code === 0 && !r.killed;
const refusedBeforeWriting = (r: AppendRun) => !r.killed && r.code !== 0 && REFUSED_BEFORE_WRITING.test(r.error ?? '');
/** A run that may have written rows (it succeeded, was killed, or failed after it began writing). */
const mayHaveWritten = (r: AppendRun) => !refusedBeforeWriting(r);
/** The operator is done with an append once a run succeeded or the campaign refused it for good (canceled). */
export const appendSettled = (a: AppendEvidence) => {
  const last = a.runs[a.runs.length - 1];
  return Boolean(last && (succeeded(last) || (!last.killed && CANCELED_REFUSAL.test(last.error ?? ''))));
};

/**
 * The rows of the appended lists that are in the campaign, numbered as the
 * export numbers them: every export row after the first list's `baseRows`
 * whose name is a row of an appended list. (Which appends landed is what
 * the campaign's rows say; invariant 12 then checks that it is right.)
 */
export function landedRows(baseRows: number, appends: AppendEvidence[], results: Record<string, string>[] | null): HistoryRow[] {
  const byName = new Map(appends.flatMap((a) => a.rows.map((r) => [r.name, r] as const)));
  const out: HistoryRow[] = [];
  for (const r of results ?? []) {
    const spec = Number(r.row) > baseRows ? byName.get(r.name ?? '') : undefined;
    if (spec) out.push({ row: Number(r.row), phone: spec.phone, expect: spec.expect, appended: spec.id, ...(spec.ownerRow ? { ownerRow: spec.ownerRow } : {}) });
  }
  return out;
}

/**
 * 12. Appends: every export row after the first list is a row of an appended
 * list, each at most once (an append is idempotent: a row already in adds
 * nothing, however often its file runs, killed or not); every row of an
 * append that succeeded is in the campaign, and no row that only appends
 * refused before writing carried (a refused append adds no row); each
 * successful run's summary adds up (rows = added + already, added =
 * accepted + rejected + duplicates + screened), and when no run may have
 * written rows beyond the successful ones' summaries, their `added` sum to
 * the rows appended; a row carrying a number of the first list is a
 * `duplicate of row <owner>`; the `upload` column says 1 for the first
 * list's rows and more for appended ones; once the settle re-ran what was
 * killed or failed, every append succeeded or was refused as canceled.
 */
export function checkAppends(baseRows: number, appends: AppendEvidence[], results: Record<string, string>[] | null, v: (inv: string, msg: string) => void): void {
  if (!appends.length) return;
  for (const a of appends) {
    if (!appendSettled(a)) {
      const last = a.runs[a.runs.length - 1];
      v('12', `append ${a.n} neither succeeded nor was refused as canceled once the settle ran it again: ${last ? `${last.killed ? 'killed' : `exit ${last.code}`}${last.error ? `: ${last.error.slice(0, 200)}` : ''}` : 'never ran'}`);
    }
    for (const r of a.runs.filter(succeeded)) {
      const s = r.summary;
      if (!s) {
        v('12', `append ${a.n}: exit 0 without a JSON summary`);
        continue;
      }
      const problems = [
        s.rows !== a.rows.length && `${s.rows} rows for a file of ${a.rows.length}`,
        (s.added ?? -1) + (s.already ?? -1) !== s.rows && `added ${s.added} + already ${s.already} ≠ rows ${s.rows}`,
        s.accepted + s.rejected + s.duplicates + (s.screened ?? 0) !== s.added && `accepted ${s.accepted} + rejected ${s.rejected} + duplicates ${s.duplicates} + screened ${s.screened ?? 0} ≠ added ${s.added}`,
      ].filter(Boolean);
      if (problems.length) v('12', `append ${a.n}${r.settle ? ' (re-run in the settle)' : ''}: its summary does not add up: ${problems.join('; ')}`);
    }
  }
  if (!results) return;
  const specs = new Map(appends.flatMap((a) => a.rows.map((r) => [r.name, r] as const)));
  const seen = new Map<string, number[]>();
  for (const r of results) {
    const n = Number(r.row);
    if (r.upload !== undefined && n <= baseRows && r.upload !== '1') v('12', `row ${n} of the first list says upload ${r.upload}`);
    if (n <= baseRows) continue;
    const spec = specs.get(r.name ?? '');
    if (!spec) {
      v('12', `row ${n} is after the first list's ${baseRows} rows but is no row of an appended list`);
      continue;
    }
    seen.set(spec.id, [...(seen.get(spec.id) ?? []), n]);
    if (r.upload !== undefined && !(Number(r.upload) >= 2)) v('12', `row ${n} (appended ${spec.id}) says upload ${r.upload || 'nothing'}`);
    if (spec.ownerRow && r.outcome === 'duplicate' && r.error !== `duplicate of row ${spec.ownerRow}`) v('12', `row ${n} (appended ${spec.id}, the number of row ${spec.ownerRow}): ${r.error || 'no error'}`);
  }
  for (const [id, rows] of seen) if (rows.length > 1) v('12', `appended row ${id} is in the campaign ${rows.length} times: rows ${rows.join(', ')}`);
  for (const a of appends) {
    if (!a.runs.some(succeeded)) continue;
    const missing = a.rows.filter((r) => !seen.has(r.id)).map((r) => r.id);
    if (missing.length) v('12', `append ${a.n} succeeded but its rows ${missing.join(', ')} are not in the campaign`);
  }
  const landable = new Set(appends.filter((a) => a.runs.some(mayHaveWritten)).flatMap((a) => a.rows.map((r) => r.id)));
  const stray = [...seen.keys()].filter((id) => !landable.has(id));
  if (stray.length) v('12', `rows ${stray.join(', ')} are in the campaign but every append carrying them was refused before writing`);
  const runs = appends.flatMap((a) => a.runs);
  if (runs.every((r) => succeeded(r) || refusedBeforeWriting(r))) {
    const added = runs.filter(succeeded).reduce((s, r) => s + (r.summary?.added ?? 0), 0);
    const appended = results.filter((r) => Number(r.row) > baseRows).length;
    if (added !== appended) v('12', `the successful appends added ${added} rows in all, the campaign has ${appended} after its first list`);
  }
}
