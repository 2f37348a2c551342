/**
 * What must hold once a history's faults have stopped and it had time to
 * settle, checked from the outside: the simulator's request log and call
 * records, `dialer status --json`, the exported results file, and the
 * moments the operator's commands returned. Pure: no I/O.
 */
import type { RequestLogEntry } from '../../src/simulator/index.js';
import { OUTCOMES } from '../../src/campaign/row.js';
import type { HistoryRow } from './contacts.js';
import type { HistoryConfig } from './generator.js';
import { CANCELED_REFUSAL, checkAppends, landedRows, type AppendEvidence } from './append-checks.js';

/** A call as the simulator created it. */
export interface SimCallFacts {
  id: string;
  phone: string;
  createdAt: number;
  /** When it reached its final status (epoch ms). */
  endsAt: number;
  outcome: string;
  lookupFails: boolean;
}

/** The part of `dialer status --json` the checks read. */
export interface StatusJson {
  state: string;
  total: number;
  pending: number;
  finished: number;
  in_flight: number;
  queued: number;
  waiting_for_window: number;
  outcomes: Record<string, number>;
  /** The campaign's deadline (ISO); null without one. */
  deadline?: string | null;
}

export interface Evidence {
  rows: HistoryRow[];
  requests: RequestLogEntry[];
  calls: SimCallFacts[];
  status: StatusJson | null;
  statusError?: string;
  results: Record<string, string>[] | null;
  resultsError?: string;
  /** When each `dialer cancel` that succeeded exited (epoch ms). */
  cancels: number[];
  /** Numbers erased by a `dialer forget` that succeeded, and when it exited. */
  forgets: { row: number; phone: string; at: number }[];
  redial: HistoryConfig['redial'];
  /** The campaign's live-call cap, when it has one. */
  maxLiveCalls?: number;
  /** Long-running processes that died by themselves, one line each. */
  crashes: string[];
  /** Where the status indexes disagree with a scan of the rows and the ledger (test/helpers/index-drift.ts), read once settled. */
  indexDrift?: string[];
  /**
   * What each `dialer forget` that succeeded reported: keys still holding the number (its own final scan), and
   * rows whose erasure waits for their call to end (finished by the worker's retention round, every 10 minutes).
   */
  forgetReports?: { row: number; phone: string; leftovers: string[]; deferred: number }[];
  /** Every archive block at the end, unpacked (test/histories/archived.ts). */
  archiveBlocks?: { name: string; text: string }[];
  /** The settle's archive check, when the history has one (config.archiveCheck) and the campaign ended. */
  archiveCheck?: ArchiveCheckEvidence;
  /** The history's appended lists and every run of them (append-steps.ts); `rows` is the first list only. */
  appends?: AppendEvidence[];
}

/** The settle's archive check (runner.ts): export A, `dialer archive`, export B, a re-load of the list, a wait, export C. */
export interface ArchiveCheckEvidence {
  /** The campaign's state when the check began (done or canceled). */
  state: string;
  /** `dialer archive <campaign> --json`: exit code, result and reason from its JSON, else its error output. */
  archive: { code: number | string; result?: string; reason?: string; error?: string; holdLifted?: boolean };
  /** Export A, before the archive (the settle's export). */
  before: Record<string, string>[];
  /** Export B, after it (null when it failed). */
  after: Record<string, string>[] | null;
  afterError?: string;
  /** The re-load of the same list: when it started, its exit, its error output, when the wait after it ended (epoch ms). */
  reload: { at: number; code: number | string; error?: string; until: number };
  /** Each appended list appended again after the re-load: its exit, `added` from its summary, its error output. */
  reappends?: { file: string; code: number | string; added?: number; error?: string }[];
  /** Export C, after the re-load (and the re-appends) and the wait. */
  afterReload: Record<string, string>[] | null;
  afterReloadError?: string;
}

export interface Violation {
  /** 1-12 as in README of the histories test, or 'process'. */
  invariant: string;
  message: string;
}

/**
 * A request received this soon after a command returned may still have been
 * decided before it: the worker committed to the POST (ledger `sending`,
 * checked atomically against the row) and was then descheduled for a moment
 * on a busy machine. Anything later is a real violation.
 */
export const AFTER_COMMAND_SLACK_MS = 250;

const CALL_OUTCOMES = new Set(['completed', 'no-answer', 'busy', 'voicemail', 'failed']);
const isPost = (e: RequestLogEntry) => e.method === 'POST' && e.path.split('?')[0] === '/calls';
const phoneOf = (e: RequestLogEntry) => ((e.body ?? {}) as { phoneNumber?: string }).phoneNumber ?? '';
const iso = (t: number) => new Date(t).toISOString().slice(11, 23);

export function checkInvariants(evidence: Evidence): Violation[] {
  const out: Violation[] = [];
  const v = (invariant: string, message: string) => out.push({ invariant, message });
  // The input rows: the first list, then every appended row the campaign holds (12 checks that those are right).
  const appends = evidence.appends ?? [];
  const ev: Evidence = { ...evidence, rows: [...evidence.rows, ...landedRows(evidence.rows.length, appends, evidence.results)] };
  const rowOf = new Map<string, number>();
  for (const r of ev.rows) if (!rowOf.has(r.phone)) rowOf.set(r.phone, r.row);
  const who = (phone: string) => `row ${rowOf.get(phone) ?? '?'}`;
  const posts = ev.requests.filter(isPost).sort((a, b) => a.t - b.t);
  const forgotten = new Set(ev.forgets.map((f) => f.phone));

  // 1. Every row reaches a final outcome.
  if (!ev.status) v('1', `dialer status --json failed: ${ev.statusError ?? 'no output'}`);
  else if (ev.status.pending !== 0) {
    const s = ev.status;
    v('1', `${s.pending} of ${s.total} rows still pending after the settle time (state ${s.state}; in flight ${s.in_flight}, queued ${s.queued}, waiting for window ${s.waiting_for_window})`);
  }
  if (!ev.results) v('1', `dialer export failed: ${ev.resultsError ?? 'no file'}`);
  else {
    const open = ev.results.filter((r) => !(OUTCOMES as readonly string[]).includes(r.outcome ?? ''));
    if (open.length) v('1', `${open.length} results rows without a final outcome: ${open.slice(0, 6).map((r) => `row ${r.row} (${r.outcome || 'none'}, status ${r.status || '-'})`).join(', ')}`);
  }

  // 2. One results row per input row, agreeing with status and with the simulator.
  if (ev.results) checkResults(ev, forgotten, v);

  // 3. No second POST for a number unless a redial was due.
  const callsByPhone = new Map<string, SimCallFacts[]>();
  for (const c of [...ev.calls].sort((a, b) => a.createdAt - b.createdAt)) callsByPhone.set(c.phone, [...(callsByPhone.get(c.phone) ?? []), c]);
  const lookups = ev.requests.filter((e) => e.method === 'GET' && e.status === 200 && e.path.includes('phoneNumber='));
  const byPhone = new Map<string, RequestLogEntry[]>();
  for (const p of posts) byPhone.set(phoneOf(p), [...(byPhone.get(phoneOf(p)) ?? []), p]);
  for (const [phone, list] of byPhone) {
    const problem = secondPostProblem(phone, list, callsByPhone.get(phone) ?? [], lookups, ev.redial);
    if (problem) v('3', `${who(phone)}: ${problem}`);
  }

  // 4. Nothing starts after a cancel returned.
  if (ev.cancels.length) {
    const at = Math.min(...ev.cancels);
    const late = posts.filter((p) => p.t > at + AFTER_COMMAND_SLACK_MS);
    if (late.length) v('4', `${late.length} POST /calls after dialer cancel returned at ${iso(at)}: ${late.slice(0, 5).map((p) => `${who(phoneOf(p))} at ${iso(p.t)} (+${p.t - at} ms)`).join(', ')}`);
  }

  // 6. Nothing for suppressed numbers, nor for forgotten ones once forget returned.
  for (const r of ev.rows.filter((x) => x.expect === 'suppressed')) {
    const n = posts.filter((p) => phoneOf(p) === r.phone).length;
    if (n) v('6', `row ${r.row} is on the suppression list but got ${n} POST /calls`);
  }
  for (const f of ev.forgets) {
    const late = posts.filter((p) => phoneOf(p) === f.phone && p.t > f.at + AFTER_COMMAND_SLACK_MS);
    if (late.length) v('6', `row ${f.row} was forgotten at ${iso(f.at)} but got ${late.length} POST /calls after it (first at ${iso(late[0]!.t)})`);
  }

  // 7. Never more calls live at once (by the simulator's clock) than max_live_calls.
  if (ev.maxLiveCalls) {
    const { max, at } = mostLive(ev.calls);
    if (max > ev.maxLiveCalls) v('7', `${max} calls live at once at ${iso(at)}, max_live_calls is ${ev.maxLiveCalls}`);
  }

  // 8. No POST after the campaign's deadline; the rows not dialed by then end (invariant 1) as expired.
  const deadline = ev.status?.deadline ? Date.parse(ev.status.deadline) : NaN;
  if (Number.isFinite(deadline)) {
    const late = posts.filter((p) => p.t > deadline + AFTER_COMMAND_SLACK_MS);
    if (late.length) v('8', `${late.length} POST /calls after the deadline ${iso(deadline)}: ${late.slice(0, 5).map((p) => `${who(phoneOf(p))} at ${iso(p.t)} (+${p.t - deadline} ms)`).join(', ')}`);
  } else if (ev.status && (ev.status.outcomes.expired ?? 0) > 0) v('8', `${ev.status.outcomes.expired} rows expired without a deadline`);

  // 6 (cont.). A forgotten number is nowhere: forget's own scan found nothing; unless its erasure waited for a
  // call in flight (deferred: the number stays until the worker's next retention round), no export and no archive block holds it.
  for (const f of ev.forgetReports ?? []) {
    if (f.leftovers.length) v('6', `dialer forget of row ${f.row} reported leftovers: ${f.leftovers.slice(0, 3).join('; ')}`);
    if (f.deferred > 0) continue;
    const number = new RegExp(`(?<!\\d)${f.phone.replace(/\D/g, '')}(?!\\d)`);
    const exports: [string, Record<string, string>[] | null | undefined][] = [['the export', ev.results], ['the export after dialer archive', ev.archiveCheck?.after], ['the export after the re-load', ev.archiveCheck?.afterReload]];
    for (const [what, rows] of exports) {
      const hit = (rows ?? []).find((r) => Object.values(r).some((c) => number.test(c.replace(/[\s().-]/g, ''))));
      if (hit) v('6', `row ${f.row} was forgotten (nothing deferred) but ${what} still holds its number (row ${hit.row})`);
    }
    for (const b of ev.archiveBlocks ?? []) if (number.test(b.text)) v('6', `row ${f.row} was forgotten (nothing deferred) but archive block ${b.name} still holds its number`);
  }

  // 9. The indexes behind status, metrics and webhooks agree with a scan of the rows and the ledger.
  for (const d of ev.indexDrift ?? []) v('9', `index drift: ${d}`);

  // 10, 11. The archive changes no read; a re-load of the finished list calls nobody and changes no row.
  if (ev.archiveCheck) checkArchive(ev, ev.archiveCheck, posts, v);

  // 12. Appends: the rows of each list in the campaign once, as the runs of its command say.
  checkAppends(evidence.rows.length, appends, ev.results, v);

  for (const c of ev.crashes) v('process', c);
  return out;
}

/** Most calls live at once: a call is live from its creation until its planned end (end exclusive). */
export function mostLive(calls: Pick<SimCallFacts, 'createdAt' | 'endsAt'>[]): { max: number; at: number } {
  const edges = calls.flatMap((c) => [[c.createdAt, 1], [c.endsAt, -1]] as [number, number][]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let live = 0;
  let best = { max: 0, at: 0 };
  for (const [t, d] of edges) {
    live += d;
    if (live > best.max) best = { max: live, at: t };
  }
  return best;
}

/**
 * The POST rule, from the simulator's records only, erring towards allowing:
 * a POST for a number is allowed while no call exists for it (retries of
 * refused requests, 429s), except that after a POST whose fate the dialer
 * could not know (no answer, or 5xx) it needs a lookup by number answered in
 * between (the lookup then showed no call, else a call would exist). Once a
 * call exists, another POST is allowed only when a redial was due: the
 * number's last call had ended with an outcome the campaign redials, at
 * least `afterSeconds` before, and it has had at most `redial.max` calls.
 */
export function secondPostProblem(phone: string, posts: RequestLogEntry[], calls: SimCallFacts[], lookups: RequestLogEntry[], redial: HistoryConfig['redial']): string | undefined {
  let unsure: RequestLogEntry | undefined;
  for (let i = 0; i < posts.length; i++) {
    const p = posts[i]!;
    const before = calls.filter((c) => c.createdAt < p.t);
    const last = before[before.length - 1];
    if (last) {
      const due = redial && redial.outcomes.includes(last.outcome as never) && before.length <= redial.max && p.t >= last.endsAt + redial.afterSeconds * 1000;
      if (!due) {
        const why = !redial ? 'no redial is configured' : !redial.outcomes.includes(last.outcome as never) ? `its outcome ${last.outcome} is not redialed` : before.length > redial.max ? `it already had ${before.length} calls (redial.max ${redial.max})` : p.t < last.endsAt ? 'that call had not ended yet' : 'the redial delay had not passed';
        return `POST /calls #${i + 1} at ${iso(p.t)} while call ${last.id} (${before.length} so far, created ${iso(last.createdAt)}) existed and ${why}`;
      }
    }
    if (unsure && !lookups.some((g) => g.t > unsure!.t && g.t < p.t && g.path.includes(phone.slice(1)))) {
      return `POST /calls #${i + 1} at ${iso(p.t)} after an unanswered or 5xx POST at ${iso(unsure.t)} with no lookup of the number in between`;
    }
    const createdHere = Boolean(p.call_id);
    unsure = !createdHere && (p.status === 0 || p.status >= 500) ? p : undefined;
  }
  return undefined;
}

function checkResults(ev: Evidence, forgotten: Set<string>, v: (inv: string, msg: string) => void): void {
  const results = ev.results!;
  const byRow = new Map<number, Record<string, string>>();
  for (const r of results) {
    const n = Number(r.row);
    if (byRow.has(n)) v('2', `row ${n} appears twice in the results`);
    byRow.set(n, r);
  }
  if (results.length !== ev.rows.length) v('2', `results have ${results.length} rows for ${ev.rows.length} input rows`);
  const missing = ev.rows.filter((r) => !byRow.has(r.row)).map((r) => r.row);
  if (missing.length) v('2', `rows missing from the results: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? '…' : ''}`);

  if (ev.status) {
    if (ev.status.total !== ev.rows.length) v('2', `status total ${ev.status.total} for ${ev.rows.length} input rows`);
    const counted: Record<string, number> = {};
    for (const r of results) if (r.outcome) counted[r.outcome] = (counted[r.outcome] ?? 0) + 1;
    const diff = OUTCOMES.filter((o) => (counted[o] ?? 0) !== (ev.status!.outcomes[o] ?? 0)).map((o) => `${o} ${counted[o] ?? 0} in results vs ${ev.status!.outcomes[o] ?? 0} in status`);
    if (diff.length) v('2', `results and status --json disagree: ${diff.join('; ')}`);
  }

  const calls = new Map(ev.calls.map((c) => [c.id, c]));
  const lastCall = new Map<string, SimCallFacts>();
  for (const c of [...ev.calls].sort((a, b) => a.createdAt - b.createdAt)) lastCall.set(c.phone, c);
  for (const row of ev.rows) {
    const r = byRow.get(row.row);
    if (!r || forgotten.has(row.phone)) continue; // an erased row keeps no number to compare
    if (row.expect !== 'accepted') {
      if (r.outcome !== row.expect) v('2', `row ${row.row}: expected ${row.expect} at load, results say ${r.outcome || 'nothing'}`);
      continue;
    }
    const last = lastCall.get(row.phone);
    if (r.call_id) {
      const c = calls.get(r.call_id);
      if (!c) v('2', `row ${row.row}: call ${r.call_id} is unknown to the simulator`);
      else if (c.phone !== row.phone) v('2', `row ${row.row}: call ${r.call_id} went to another number`);
      else if (CALL_OUTCOMES.has(r.outcome ?? '') && c.outcome !== r.outcome) v('2', `row ${row.row}: outcome ${r.outcome}, the simulator's call ${c.id} ended ${c.outcome}`);
      if (last && last.id !== r.call_id) v('2', `row ${row.row}: reports call ${r.call_id} but the number's last call was ${last.id}`);
    } else if (last && r.outcome !== 'unknown') {
      v('2', `row ${row.row}: outcome ${r.outcome || 'none'} without a call id, but call ${last.id} was created for the number`);
    } else if (!last && CALL_OUTCOMES.has(r.outcome ?? '')) {
      v('2', `row ${row.row}: outcome ${r.outcome} but no call exists for the number`);
    }
  }
}

/** Of a row whose erasure may finish meanwhile (a deferred forget), only these columns must stay. */
const KEPT_THROUGH_ERASURE = ['row', 'outcome', 'call_id', 'status', 'attempts'];

/**
 * Rows of two exports that differ, by row number ('missing' when one lacks it), at most `max`.
 * Rows in `erasing` are compared on KEPT_THROUGH_ERASURE only.
 */
export function exportDiff(a: Record<string, string>[], b: Record<string, string>[], max = 5, erasing: Set<string> = new Set()): string[] {
  const out: string[] = [];
  if (a.length !== b.length) out.push(`${a.length} rows before, ${b.length} after`);
  const key = (r: Record<string, string>) => r.row ?? '';
  const bs = new Map(b.map((r) => [key(r), r]));
  for (const [i, r] of a.entries()) {
    const o = bs.get(key(r));
    if (!o) out.push(`row ${key(r)} missing after`);
    else if (erasing.has(key(r))) {
      const cols = KEPT_THROUGH_ERASURE.filter((c) => r[c] !== o[c]);
      if (cols.length) out.push(`row ${key(r)} (its erasure pending): ${cols.map((c) => `${c} ${JSON.stringify(r[c] ?? null)} → ${JSON.stringify(o[c] ?? null)}`).join(', ')}`);
    } else if (JSON.stringify(o) !== JSON.stringify(r)) {
      const cols = [...new Set([...Object.keys(r), ...Object.keys(o)])].filter((c) => r[c] !== o[c]);
      out.push(`row ${key(r)}: ${cols.map((c) => `${c} ${JSON.stringify(r[c] ?? null)} → ${JSON.stringify(o[c] ?? null)}`).join(', ') || 'column order'}`);
    }
    if (o && b[i] !== o && out.length < max) out.push(`row ${key(r)} at another place in the file`);
    if (out.length >= max) break;
  }
  const as = new Set(a.map(key));
  for (const r of b) if (!as.has(key(r)) && out.length < max) out.push(`row ${key(r)} only after`);
  return out;
}

/** A write warmed the campaign (or a forget held it): the archive waits 10 minutes; the runner lifts the hold once (see README). */
export const HELD = /written to in the last minutes/;

function checkArchive(ev: Evidence, a: ArchiveCheckEvidence, posts: RequestLogEntry[], v: (inv: string, msg: string) => void): void {
  // A forget whose erasure waited for a call: the worker's retention round (30 s after it starts, then every 10 minutes)
  // may finish it at any moment, blanking the row's number and texts. Those rows keep only their outcome and call.
  const deferred = new Set((ev.forgetReports ?? []).filter((f) => f.deferred > 0).map((f) => f.phone));
  const erasing = new Set(ev.rows.filter((r) => deferred.has(r.phone)).map((r) => String(r.row)));

  // 10. `dialer archive` of a finished campaign packs it, and the export after it is the export before it, row for row.
  const refusal = a.archive.reason ?? a.archive.error ?? '';
  if (a.archive.code === 0 && a.archive.result === 'archived') {
    if (!a.after) v('10', `dialer export after dialer archive failed: ${a.afterError ?? 'no file'}`);
    else {
      const d = exportDiff(a.before, a.after, 5, erasing);
      if (d.length) v('10', `the export changed across dialer archive${a.archive.holdLifted ? ' (its hold lifted)' : ''}: ${d.join('; ')}`);
    }
  } else if (!HELD.test(refusal)) {
    v('10', `dialer archive of the ${a.state} campaign${a.archive.holdLifted ? ' (its hold lifted)' : ''}: exit ${a.archive.code}, ${a.archive.result ?? 'no result'}${refusal ? `: ${refusal.slice(0, 200)}` : ''}`);
  }

  // 11. A re-load of the same list, archived or not: no POST /calls, one results row per input row, each as it was.
  const late = posts.filter((p) => p.t >= a.reload.at && p.t <= a.reload.until);
  if (late.length) {
    const rowOf = new Map(ev.rows.map((r) => [r.phone, r.row]));
    v('11', `${late.length} POST /calls after a re-load of the ${a.state} campaign: ${late.slice(0, 5).map((p) => `row ${rowOf.get(phoneOf(p)) ?? '?'} at ${iso(p.t)} (+${p.t - a.reload.at} ms)`).join(', ')}`);
  }
  if (a.reload.code !== 0 && !(a.state === 'canceled' && /was canceled/.test(a.reload.error ?? ''))) {
    v('11', `the re-load of the ${a.state} campaign failed: exit ${a.reload.code}: ${(a.reload.error ?? '').trim().slice(0, 200)}`);
  }
  for (const r of a.reappends ?? []) {
    if (r.code === 0 ? r.added !== 0 : !(a.state === 'canceled' && CANCELED_REFUSAL.test(r.error ?? ''))) {
      v('11', `${r.file} appended again to the ${a.state} campaign: exit ${r.code}${r.code === 0 ? `, added ${r.added ?? 'nothing said'} (every row was in)` : `: ${(r.error ?? '').slice(0, 200)}`}`);
    }
  }
  if (!a.afterReload) v('11', `dialer export after the re-load failed: ${a.afterReloadError ?? 'no file'}`);
  else {
    const rows = new Map<string, number>();
    for (const r of a.afterReload) rows.set(r.row ?? '', (rows.get(r.row ?? '') ?? 0) + 1);
    const twice = [...rows].filter(([, n]) => n > 1).map(([r]) => r);
    const missing = ev.rows.filter((r) => !rows.has(String(r.row))).map((r) => r.row);
    if (twice.length || missing.length || a.afterReload.length !== ev.rows.length) {
      v('11', `after the re-load the export has ${a.afterReload.length} rows for ${ev.rows.length} input rows${twice.length ? `, twice: ${twice.slice(0, 8).join(', ')}` : ''}${missing.length ? `, missing: ${missing.slice(0, 8).join(', ')}` : ''}`);
    } else {
      const d = exportDiff(a.after ?? a.before, a.afterReload, 5, erasing);
      if (d.length) v('11', `the export changed across the re-load: ${d.join('; ')}`);
    }
  }
}
