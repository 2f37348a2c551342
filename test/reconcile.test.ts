/**
 * The reconciliation matcher: given what GET /calls returned after an
 * ambiguous POST, which call (if any) is the one that POST created. A wrong
 * "no match" re-dials a person; a wrong match reports someone else's call.
 */
import { describe, expect, it } from 'vitest';
import { extractCalls } from '../src/api/client.js';
import { matchCall, type ReconcileTarget } from '../src/poller/reconcile.js';

const PHONE = '+61412000001';
const SENT = Date.parse('2026-03-02T10:00:00.000Z');
const target: ReconcileTarget = { phone: PHONE, assistantId: 'asst_1', sentAt: SENT };
const at = (offsetMs: number) => new Date(SENT + offsetMs).toISOString();

/** A call as the API's list shows it (snake_case, the documented shape). */
function call(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, phoneNumber: PHONE, assistant_id: 'asst_1', status: 'ringing', created_at: at(200), ...extra };
}

const match = (body: unknown, t: ReconcileTarget = target) => matchCall(extractCalls(body), t);

describe('extractCalls shapes feeding matchCall', () => {
  it('a quick redial: the earlier calls of the contact, within the clock tolerance, are never adopted for this POST', () => {
    const body = [call('first', { created_at: at(-3000) }), call('second', { created_at: at(-1500) })];
    expect(match(body).match?.id).toBe('first');
    expect(match(body, { ...target, known: ['first', 'second'] })).toEqual({ match: undefined, candidates: 0 });
    expect(match([...body, call('third', { created_at: at(300) })], { ...target, known: ['first', 'second'] }).match?.id).toBe('third');
  });

  it('a single call object', () => {
    const r = match(call('call_a'));
    expect(r.match?.id).toBe('call_a');
    expect(r.candidates).toBe(1);
  });

  it('a bare array', () => {
    const r = match([call('call_a'), call('call_b', { phoneNumber: '+61412999999' })]);
    expect(r.match?.id).toBe('call_a');
    expect(r.candidates).toBe(1);
  });

  it('envelopes: {data: [...]}, {calls: [...]}, {data: {calls: [...]}}, {data: {...}}', () => {
    for (const body of [{ data: [call('call_a')] }, { calls: [call('call_a')] }, { data: { calls: [call('call_a')] } }, { data: call('call_a') }]) {
      expect(match(body).match?.id, JSON.stringify(body)).toBe('call_a');
    }
  });

  it('a JSON text body and camelCase / alternative field names', () => {
    const body = JSON.stringify({ results: [{ call_id: 'call_a', phone_number: PHONE, assistantId: 'asst_1', createdAt: at(50), status: 'queued' }] });
    const r = match(body);
    expect(r.match?.id).toBe('call_a');
    expect(r.match?.createdAt).toBe(at(50));
  });

  it('epoch created_at (seconds or ms) is read as a time', () => {
    expect(match([call('call_ms', { created_at: SENT + 1000 })]).match?.id).toBe('call_ms');
    expect(match([call('call_s', { created_at: Math.floor(SENT / 1000) + 1 })]).match?.id).toBe('call_s');
    // Seconds long before the POST are not ours.
    expect(match([call('call_old', { created_at: Math.floor(SENT / 1000) - 3600 })]).match).toBeUndefined();
  });

  it('entries without an id are skipped, not matched', () => {
    const r = match({ data: [{ phoneNumber: PHONE, assistant_id: 'asst_1', created_at: at(10), status: 'queued' }] });
    expect(r).toEqual({ match: undefined, candidates: 0 });
  });

  it('empty answers: [], {data: []}, {}', () => {
    for (const body of [[], { data: [] }, {}]) expect(match(body)).toEqual({ match: undefined, candidates: 0 });
  });
});

describe('matchCall', () => {
  it('no call for the number is no match', () => {
    expect(match([call('call_x', { phoneNumber: '+61412000002' })])).toEqual({ match: undefined, candidates: 0 });
  });

  it('numbers are compared by digits, whatever the formatting', () => {
    expect(match([call('call_a', { phoneNumber: '61 412 000 001' })]).match?.id).toBe('call_a');
  });

  it('of two candidate calls the earliest after the POST is ours, and the count says there was a choice', () => {
    const r = match([call('call_late', { created_at: at(4000) }), call('call_early', { created_at: at(300) })]);
    expect(r.match?.id).toBe('call_early');
    expect(r.candidates).toBe(2);
  });

  it('a call of a different assistant is not ours; one that does not say its assistant may be', () => {
    expect(match([call('call_other', { assistant_id: 'asst_2' })]).match).toBeUndefined();
    const { assistant_id: _drop, ...noAssistant } = call('call_anon');
    expect(match([noAssistant]).match?.id).toBe('call_anon');
    expect(match([call('call_other', { assistant_id: 'asst_2' }), call('call_mine', { created_at: at(900) })]).match?.id).toBe('call_mine');
  });

  it('a call created before the POST, beyond the clock skew allowed, is an older call', () => {
    expect(match([call('call_old', { created_at: at(-5001) })]).match).toBeUndefined();
    // Within the skew (our clock may run ahead of the API's) it still counts.
    expect(match([call('call_skewed', { created_at: at(-4000) })]).match?.id).toBe('call_skewed');
    // The skew is configurable.
    expect(matchCall(extractCalls([call('call_skewed', { created_at: at(-4000) })]), { ...target, skewMs: 1000 }).match).toBeUndefined();
    // The old call is passed over for the new one.
    const r = match([call('call_old', { created_at: at(-60_000) }), call('call_new', { created_at: at(1500) })]);
    expect(r).toMatchObject({ match: { id: 'call_new' }, candidates: 1 });
  });

  it('a call without createdAt (or an unreadable one) may be ours: kept rather than re-dialing', () => {
    const { created_at: _drop, ...undated } = call('call_undated');
    expect(match([undated])).toMatchObject({ match: { id: 'call_undated' }, candidates: 1 });
    expect(match([call('call_garbled', { created_at: 'yesterday-ish' })]).match?.id).toBe('call_garbled');
  });

  it('a dated call after the POST is preferred to an undated one (which could be any older call)', () => {
    const { created_at: _drop, ...undated } = call('call_undated');
    const r = match([undated, call('call_dated', { created_at: at(700) })]);
    expect(r.match?.id).toBe('call_dated');
    expect(r.candidates).toBe(2);
  });

  it('a call without a phone number is not taken for ours', () => {
    const { phoneNumber: _drop, ...nameless } = call('call_nophone');
    expect(match([nameless]).match).toBeUndefined();
  });

  it('the match carries the status the poller follows next', () => {
    expect(match([call('call_a', { status: 'in_progress' })]).match?.status).toBe('in-progress');
  });
});
