/** The history checks themselves (pure): each must pass on good evidence and fail on bad. */
import { describe, expect, it } from 'vitest';
import { OUTCOMES } from '../src/campaign/row.js';
import type { RequestLogEntry } from '../src/simulator/index.js';
import { checkInvariants, mostLive, type Evidence, type SimCallFacts } from './histories/invariants.js';

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
