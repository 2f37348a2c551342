/** The history checks themselves (pure): each must pass on good evidence and fail on bad. */
import { describe, expect, it } from 'vitest';
import { OUTCOMES } from '../src/campaign/row.js';
import type { RequestLogEntry } from '../src/simulator/index.js';
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
