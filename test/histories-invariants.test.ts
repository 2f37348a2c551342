/** The history checks themselves (pure): each must pass on good evidence and fail on bad. */
import { describe, expect, it } from 'vitest';
import { OUTCOMES } from '../src/campaign/row.js';
import type { RequestLogEntry } from '../src/simulator/index.js';
import type { AppendedRow, AppendRun } from './histories/append-checks.js';
import { decodeBlock } from './histories/archived.js';
import { checkInvariants, mostLive, type ArchiveCheckEvidence, type Evidence, type SimCallFacts } from './histories/invariants.js';

const T0 = Date.parse('2026-12-02T10:00:00.000Z');
const phones = ['+61412000001', '+61412000002', '+61412000003'];
const call = (i: number, start: number, end: number): SimCallFacts => ({ id: `c${i}`, phone: phones[i]!, createdAt: T0 + start, endsAt: T0 + end, outcome: 'completed', lookupFails: false });
const post = (i: number, at: number): RequestLogEntry => ({ time: new Date(T0 + at).toISOString(), t: T0 + at, method: 'POST', path: '/calls', body: { phoneNumber: phones[i] }, status: 201, call_id: `c${i}` });

function evidence(calls: SimCallFacts[], extra: Partial<Evidence> = {}, deadline: string | null = null): Evidence {
  const outcomes = Object.fromEntries(OUTCOMES.map((o) => [o, 0]));
  outcomes.completed = calls.length;
  return {
    rows: calls.map((c, i) => ({ row: i + 1, phone: c.phone, expect: 'accepted' })),
    requests: calls.map((c, i) => post(i, c.createdAt - T0)),
    calls,
    status: { state: 'done', total: calls.length, pending: 0, finished: calls.length, in_flight: 0, queued: 0, waiting_for_window: 0, outcomes, deadline },
    results: calls.map((c, i) => ({ row: String(i + 1), phone: c.phone, outcome: 'completed', call_id: c.id })),
    cancels: [], forgets: [], redial: null, crashes: [],
    ...extra,
  };
}

describe('history invariants 7 (live-call cap) and 8 (deadline)', () => {
  it('counts calls live at once, an end and a start in the same ms not overlapping', () => {
    expect(mostLive([])).toEqual({ max: 0, at: 0 });
    expect(mostLive([call(0, 0, 100), call(1, 100, 200)]).max).toBe(1);
    expect(mostLive([call(0, 0, 100), call(1, 50, 200), call(2, 60, 70)])).toEqual({ max: 3, at: T0 + 60 });
  });

  it('7 holds at the cap and fails above it', () => {
    const calls = [call(0, 0, 1000), call(1, 500, 1500), call(2, 1000, 2000)];
    expect(checkInvariants(evidence(calls, { maxLiveCalls: 2 }))).toEqual([]);
    expect(checkInvariants(evidence(calls, { maxLiveCalls: 1 })).map((v) => v.invariant)).toEqual(['7']);
    expect(checkInvariants(evidence(calls))).toEqual([]);
  });

  it('8 fails for a POST past the deadline (beyond the slack), and for expired rows without a deadline', () => {
    const calls = [call(0, 0, 100), call(1, 2000, 2100)];
    expect(checkInvariants(evidence(calls, {}, new Date(T0 + 1900).toISOString()))).toEqual([]);
    const late = checkInvariants(evidence(calls, {}, new Date(T0 + 1000).toISOString()));
    expect(late.map((v) => v.invariant)).toEqual(['8']);
    expect(late[0]!.message).toMatch(/1 POST \/calls after the deadline .* row 2 at .* \(\+1000 ms\)/);
    const ev = evidence(calls);
    ev.status!.outcomes.expired = 1;
    expect(checkInvariants(ev).map((v) => v.invariant)).toContain('8');
  });
});

describe('history invariants 10 and 11 (the archive) and 6 (a forgotten number is nowhere)', () => {
  const calls = [call(0, 0, 100), call(1, 200, 300), call(2, 400, 500)];
  const check = (a: Partial<ArchiveCheckEvidence> = {}): ArchiveCheckEvidence => {
    const before = evidence(calls).results!;
    return {
      state: 'done', archive: { code: 0, result: 'archived' }, before, after: before.map((r) => ({ ...r })),
      reload: { at: T0 + 10_000, code: 0, until: T0 + 12_000 }, afterReload: before.map((r) => ({ ...r })), ...a,
    };
  };
  const broken = (ev: Evidence) => checkInvariants(ev).map((v) => v.invariant);

  it('hold on good evidence, also when the archive waited out a warm (then A and B are not compared)', () => {
    expect(checkInvariants(evidence(calls, { archiveCheck: check() }))).toEqual([]);
    const held = check({ archive: { code: 2, error: 'error: hist was not archived: the campaign was written to in the last minutes (it stays warm 10 minutes after)' } });
    expect(checkInvariants(evidence(calls, { archiveCheck: held }))).toEqual([]);
    const canceled = check({ state: 'canceled', reload: { at: T0 + 10_000, code: 2, error: 'error: campaign "hist" was canceled; load the list under a new name', until: T0 + 12_000 } });
    expect(checkInvariants(evidence(calls, { archiveCheck: canceled }))).toEqual([]);
  });

  it('10 fails when the export changes across the archive, when it fails after it, and when a finished campaign is refused', () => {
    const a = check();
    a.after![1] = { ...a.after![1]!, outcome: 'no-answer' };
    const ev = evidence(calls, { archiveCheck: a });
    expect(broken(ev)).toEqual(['10', '11']);
    expect(checkInvariants(ev)[0]!.message).toMatch(/row 2: outcome "completed" → "no-answer"/);
    expect(broken(evidence(calls, { archiveCheck: check({ after: check().after!.slice(1) }) }))).toContain('10');
    expect(broken(evidence(calls, { archiveCheck: check({ after: null, afterError: 'exit 1' }) }))).toEqual(['10']);
    expect(broken(evidence(calls, { archiveCheck: check({ archive: { code: 2, error: 'error: hist was not archived: a row changed while it was read' } }) }))).toEqual(['10']);
    expect(broken(evidence(calls, { archiveCheck: check({ archive: { code: 'SIGSEGV', error: '' } }) }))).toEqual(['10']);
    const lifted = checkInvariants(evidence(calls, { archiveCheck: check({ archive: { code: 2, error: 'error: hist was not archived: a row changed while it was read', holdLifted: true } }) }));
    expect(lifted).toEqual([{ invariant: '10', message: expect.stringMatching(/^dialer archive of the done campaign \(its hold lifted\): exit 2/) }]);
  });

  it('11 fails for a POST after the re-load, a failed re-load, a row twice or missing, a row changed', () => {
    const ev = evidence(calls, { archiveCheck: check() });
    ev.requests = [...ev.requests, { ...post(0, 10_500), call_id: undefined, status: 500 }];
    expect(broken(ev)).toContain('11');
    expect(checkInvariants(ev).find((v) => v.invariant === '11')!.message).toMatch(/1 POST \/calls after a re-load of the done campaign: row 1 .* \(\+500 ms\)/);
    expect(broken(evidence(calls, { archiveCheck: check({ reload: { at: T0 + 10_000, code: 1, error: 'error: boom', until: T0 + 12_000 } }) }))).toEqual(['11']);
    const twice = check();
    twice.afterReload = [...twice.afterReload!, { ...twice.afterReload![0]! }];
    expect(broken(evidence(calls, { archiveCheck: twice }))).toEqual(['11']);
    expect(broken(evidence(calls, { archiveCheck: check({ afterReload: check().afterReload!.slice(0, 2) }) }))).toEqual(['11']);
    const changed = check();
    changed.afterReload![2] = { ...changed.afterReload![2]!, call_id: 'c9' };
    expect(broken(evidence(calls, { archiveCheck: changed }))).toEqual(['11']);
    expect(broken(evidence(calls, { archiveCheck: check({ afterReload: null }) }))).toEqual(['11']);
    // A deferred erasure the worker's retention round finished meanwhile blanks the row's number and texts, nothing else.
    const erasedLater = check();
    erasedLater.afterReload![1] = { ...erasedLater.afterReload![1]!, phone: '' };
    const forgot = { forgets: [{ row: 2, phone: phones[1]!, at: T0 + 150 }], forgetReports: [{ row: 2, phone: phones[1]!, leftovers: [], deferred: 1 }] };
    expect(checkInvariants(evidence(calls, { archiveCheck: erasedLater, ...forgot }))).toEqual([]);
    expect(broken(evidence(calls, { archiveCheck: erasedLater }))).toEqual(['11']);
    erasedLater.afterReload![1] = { ...erasedLater.afterReload![1], outcome: 'suppressed' };
    expect(broken(evidence(calls, { archiveCheck: erasedLater, ...forgot }))).toEqual(['11']);
  });

  it('6 fails when forget reported leftovers, or an export or an archive block still holds the number (unless its erasure was deferred)', () => {
    const erased = (r: Record<string, string>) => (r.row === '2' ? { ...r, phone: '', name: '' } : r);
    const a = check();
    const clean = (): Partial<Evidence> => ({
      results: a.before.map(erased), archiveCheck: { ...a, before: a.before.map(erased), after: a.after!.map(erased), afterReload: a.afterReload!.map(erased) },
      forgets: [{ row: 2, phone: phones[1]!, at: T0 + 5000 }],
      forgetReports: [{ row: 2, phone: phones[1]!, leftovers: [], deferred: 0 }],
      archiveBlocks: [{ name: 'r0', text: '{"n":[2,0,0],"f":["1","3"]}\0{"phone":"+61412000001"}\0{"phone":"+61412000003"}' }],
    });
    expect(checkInvariants(evidence(calls, clean()))).toEqual([]);
    expect(broken(evidence(calls, { ...clean(), forgetReports: [{ row: 2, phone: phones[1]!, leftovers: ['hist:c:hist:rows (hash value)'], deferred: 0 }] }))).toEqual(['6']);
    const inExport = clean();
    inExport.archiveCheck!.after = a.after;
    expect(checkInvariants(evidence(calls, inExport))).toContainEqual({ invariant: '6', message: expect.stringMatching(/row 2 was forgotten .* the export after dialer archive still holds its number/) });
    const inBlock = clean();
    inBlock.archiveBlocks = [{ name: 'r0', text: '{"n":[1,1,0],"f":["2","61412000002"]}\0{"phone":"+61412000002"}\0{"s":"done","r":2}' }];
    expect(checkInvariants(evidence(calls, inBlock)).map((v) => v.message)).toEqual([expect.stringMatching(/archive block r0 still holds its number/)]);
    // Another number that merely contains the digits is not the number.
    inBlock.archiveBlocks = [{ name: 'r0', text: '{"t":1614120000021}' }];
    expect(checkInvariants(evidence(calls, inBlock))).toEqual([]);
    // Deferred (a call in flight): the number stays until the worker's retention round.
    const deferred = { ...clean(), results: a.before, forgetReports: [{ row: 2, phone: phones[1]!, leftovers: [], deferred: 1 }] };
    expect(checkInvariants(evidence(calls, deferred))).toEqual([]);
  });

  it('decodes both block layouts the archive has written', () => {
    expect(decodeBlock('r0', '{"n":[1,1,1],"f":["1","+61412000001","k1"]}\0{"a":1}\0{"s":"done","r":1}\x001')).toEqual({
      rows: [['1', '{"a":1}']], ledger: [['+61412000001', '{"s":"done","r":1}']], rowKeys: [['k1', '1']],
    });
    expect(decodeBlock('l5-0', '[["+61412000001","{}"]]')).toEqual({ ledger: [['+61412000001', '{}']] });
    expect(() => decodeBlock('r0', '{"n":[2,0,0],"f":["1","2"]}\0{}')).toThrow(/2 fields, 1 values/);
  });
});

describe('history invariant 12 (appends) and the other checks over appended rows', () => {
  // The first list: rows 1-3 (calls c0-c2). One appended list: 1.1 a new number (call c3), 1.2 an impossible
  // number, 1.3 the number of row 1 (a duplicate of it); in the campaign as rows 4-6.
  const fresh = '+61412200101';
  const base = [call(0, 0, 100), call(1, 200, 300), call(2, 400, 500)];
  const c3: SimCallFacts = { id: 'c3', phone: fresh, createdAt: T0 + 600, endsAt: T0 + 700, outcome: 'completed', lookupFails: false };
  const rows: AppendedRow[] = [
    { id: '1.1', name: 'Appended 1.1', phone: fresh, expect: 'accepted' },
    { id: '1.2', name: 'Appended 1.2', phone: '12345', expect: 'rejected' },
    { id: '1.3', name: 'Appended 1.3', phone: phones[0]!, expect: 'duplicate', ownerRow: 1 },
  ];
  const summary = { upload: 2, rows: 3, added: 3, already: 0, accepted: 1, rejected: 1, duplicates: 1, screened: 0 };
  const ok: AppendRun = { code: 0, killed: false, settle: false, summary };
  const appended = [
    { row: '4', name: 'Appended 1.1', phone: fresh, outcome: 'completed', call_id: 'c3', upload: '2' },
    { row: '5', name: 'Appended 1.2', phone: '12345', outcome: 'rejected', call_id: '', upload: '2' },
    { row: '6', name: 'Appended 1.3', phone: phones[0]!, outcome: 'duplicate', error: 'duplicate of row 1', call_id: '', upload: '2' },
  ];
  /** Evidence of the first list and the appended rows `landed` of `appended` (status counts from them), the append's `runs`. */
  const withAppend = (runs: AppendRun[], landed = appended, more: (ev: Evidence) => void = () => undefined): Evidence => {
    const ev = evidence(base);
    ev.results = [...ev.results!.map((r) => ({ ...r, name: `Contact ${r.row}`, upload: '1' })), ...landed.map((r) => ({ ...r }))];
    for (const r of landed) ev.status!.outcomes[r.outcome] = (ev.status!.outcomes[r.outcome] ?? 0) + 1;
    ev.status!.total = ev.status!.finished = 3 + landed.length;
    if (landed.some((r) => r.call_id === 'c3')) {
      ev.calls = [...ev.calls, c3];
      ev.requests = [...ev.requests, { ...post(0, 600), body: { phoneNumber: fresh }, call_id: 'c3' }];
    }
    ev.appends = [{ n: 1, rows, runs }];
    more(ev);
    return ev;
  };
  const broken = (ev: Evidence) => [...new Set(checkInvariants(ev).map((v) => v.invariant))];
  const canceled: AppendRun = { code: 1, killed: false, settle: false, error: 'campaign "hist" was canceled; contacts cannot be appended to it (load them under a new name)' };

  it('holds on good evidence: an append that landed, one killed then re-run (every row already in), one refused as canceled', () => {
    expect(checkInvariants(withAppend([ok]))).toEqual([]);
    const killed: AppendRun = { code: 'SIGKILL', killed: true, settle: false };
    expect(checkInvariants(withAppend([killed, { ...ok, settle: true, summary: { ...summary, added: 0, already: 3, accepted: 0, rejected: 0, duplicates: 0 } }]))).toEqual([]);
    expect(checkInvariants(withAppend([canceled], []))).toEqual([]);
    // Still loading, then run again in the settle.
    expect(checkInvariants(withAppend([{ code: 1, killed: false, settle: false, error: 'campaign "hist" is still loading its first list; append once that load has finished' }, { ...ok, settle: true }]))).toEqual([]);
  });

  it('12 fails when an append is left killed or failed, or its summary does not add up', () => {
    expect(broken(withAppend([{ code: 'SIGKILL', killed: true, settle: false }]))).toEqual(['12']);
    expect(checkInvariants(withAppend([ok, { code: 1, killed: false, settle: true, error: 'campaign "hist" was taken over by another load; this one stops' }]))[0]!.message).toMatch(/append 1 neither succeeded .* taken over/);
    expect(broken(withAppend([{ ...ok, summary: { ...summary, already: 1 } }]))).toEqual(['12']);
    expect(broken(withAppend([{ ...ok, summary: { ...summary, accepted: 2 } }]))).toEqual(['12']);
    expect(broken(withAppend([{ ...ok, summary: { ...summary, rows: 4, added: 4 } }]))).toEqual(['12']);
    expect(broken(withAppend([{ ...ok, summary: undefined }]))).toEqual(['12']);
  });

  it('12 fails for an appended row missing, in twice, refused yet there, unknown, or a duplicate of the wrong row', () => {
    // A row of a successful append is not in the campaign (status still counts it: 2 too).
    expect(broken(withAppend([ok], appended.slice(0, 2), (ev) => (ev.status!.total = 6)))).toEqual(['2', '12']);
    expect(checkInvariants(withAppend([ok], appended.slice(0, 2))).map((v) => v.message)).toEqual([expect.stringMatching(/append 1 succeeded but its rows 1\.3 are not in the campaign/), expect.stringMatching(/added 3 rows in all, the campaign has 2/)]);
    // The same row twice (a re-run added it again).
    const twice = [...appended, { ...appended[1]!, row: '7' }];
    expect(checkInvariants(withAppend([ok, { ...ok, settle: true }], twice)).map((v) => v.message)).toContainEqual(expect.stringMatching(/appended row 1\.2 is in the campaign 2 times: rows 5, 7/));
    // Refused (canceled) before writing, yet its rows are there.
    expect(checkInvariants(withAppend([canceled])).map((v) => v.message)).toEqual([
      expect.stringMatching(/rows 1\.1, 1\.2, 1\.3 are in the campaign but every append carrying them was refused before writing/),
      expect.stringMatching(/added 0 rows in all, the campaign has 3/),
    ]);
    // A row after the first list that no appended list has; and a first-list row with another upload number.
    expect(checkInvariants(withAppend([ok], [...appended, { ...appended[1]!, row: '7', name: 'Someone' }])).map((v) => v.message)).toContainEqual(expect.stringMatching(/row 7 is after the first list's 3 rows but is no row of an appended list/));
    expect(broken(withAppend([ok], appended, (ev) => (ev.results![0]!.upload = '2')))).toEqual(['12']);
    expect(broken(withAppend([ok], [appended[0]!, appended[1]!, { ...appended[2]!, upload: '1' }]))).toEqual(['12']);
    expect(broken(withAppend([ok], [appended[0]!, appended[1]!, { ...appended[2]!, error: 'duplicate of row 2' }]))).toEqual(['12']);
  });

  it('2, 3 and 11 cover the appended rows', () => {
    // 2: an appended number of the first list dialed instead of reported a duplicate; an invalid one not rejected.
    expect(broken(withAppend([ok], [appended[0]!, appended[1]!, { ...appended[2]!, outcome: 'completed', error: '' }]))).toEqual(['2']);
    expect(broken(withAppend([ok], [appended[0]!, { ...appended[1]!, outcome: 'failed' }, appended[2]!]))).toEqual(['2']);
    // 2: status counts one appended row fewer than the export.
    expect(broken(withAppend([ok], appended, (ev) => (ev.status!.outcomes.rejected = 0)))).toEqual(['2']);
    // 3: the appended number got a second POST while its call existed.
    expect(broken(withAppend([ok], appended, (ev) => ev.requests.push({ ...post(0, 650), body: { phoneNumber: fresh }, call_id: undefined, status: 201 })))).toEqual(['3']);
    // 11: the export after the re-load must hold the appended rows too; appending a list again adds nothing.
    const archive = (ev: Evidence, a: Partial<ArchiveCheckEvidence> = {}): Evidence => {
      ev.archiveCheck = {
        state: 'done', archive: { code: 0, result: 'archived' }, before: ev.results!, after: ev.results!.map((r) => ({ ...r })),
        reload: { at: T0 + 10_000, code: 0, until: T0 + 12_000 }, afterReload: ev.results!.map((r) => ({ ...r })),
        reappends: [{ file: 'append1.csv', code: 0, added: 0 }], ...a,
      };
      return ev;
    };
    expect(checkInvariants(archive(withAppend([ok])))).toEqual([]);
    expect(broken(archive(withAppend([ok]), { reappends: [{ file: 'append1.csv', code: 0, added: 1 }] }))).toEqual(['11']);
    expect(broken(archive(withAppend([ok]), { reappends: [{ file: 'append1.csv', code: 1, error: 'error: boom' }] }))).toEqual(['11']);
    const lost = archive(withAppend([ok]));
    lost.archiveCheck!.afterReload = lost.archiveCheck!.afterReload!.slice(0, 5);
    expect(broken(lost)).toEqual(['11']);
    const refused = archive(withAppend([canceled], []), { state: 'canceled', reload: { at: T0 + 10_000, code: 2, error: 'error: campaign "hist" was canceled; load the list under a new name', until: T0 + 12_000 }, reappends: [{ file: 'append1.csv', ...canceled, error: `error: ${canceled.error}` }] });
    expect(checkInvariants(refused)).toEqual([]);
  });
});
