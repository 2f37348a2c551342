import { describe, expect, it } from 'vitest';
import { parseOutcomeWeights, parseRange, startSimulator, type FinalStatus } from '../src/simulator/index.js';
import { callBody, numbers, simRequest as req, sleep, useSimulators } from './helpers/sim-http.js';

const sim = useSimulators();

describe('auth', () => {
  it('answers 401 JSON without a key or with a wrong one, on any route', async () => {
    const s = await sim({ apiKey: 'k-123' });
    for (const key of [null, 'wrong', '']) {
      const r = await req(s, 'POST', '/calls', { body: callBody('+61412345678'), key });
      expect(r.status).toBe(401);
      expect(typeof r.body.error).toBe('string');
    }
    expect((await req(s, 'GET', '/nope', { key: null })).status).toBe(401);
    expect(s.calls.size).toBe(0);
    expect((await req(s, 'GET', '/calls')).status).toBe(200);
  });
});

describe('POST /calls validation', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['missing assistant_id', { phoneNumber: '+61412345678' }, /assistant_id/],
    ['empty assistant_id', { assistant_id: '', phoneNumber: '+61412345678' }, /assistant_id/],
    ['missing phoneNumber', { assistant_id: 'a' }, /phoneNumber/],
    ['phoneNumber without +', { assistant_id: 'a', phoneNumber: '61412345678' }, /phoneNumber.*E\.164/],
    ['phoneNumber too short', { assistant_id: 'a', phoneNumber: '+12345' }, /phoneNumber/],
    ['phoneNumber not a string', { assistant_id: 'a', phoneNumber: 61412345678 }, /phoneNumber/],
    ['name not a string', { assistant_id: 'a', phoneNumber: '+61412345678', name: 5 }, /name/],
    ['customVariables not an array', { assistant_id: 'a', phoneNumber: '+61412345678', customVariables: { key: 'a', value: 'b' } }, /customVariables/],
    ['customVariables item without key', { assistant_id: 'a', phoneNumber: '+61412345678', customVariables: [{ value: 'b' }] }, /customVariables\[0\]\.key/],
    ['customVariables value not a string', { assistant_id: 'a', phoneNumber: '+61412345678', customVariables: [{ key: 'a', value: 'b' }, { key: 'n', value: 3 }] }, /customVariables\[1\]\.value/],
    ['body an array', [1, 2], /body/],
  ];
  it.each(cases)('422 for %s', async (_name, body, message) => {
    const s = await sim();
    const r = await req(s, 'POST', '/calls', { body });
    expect(r.status).toBe(422);
    expect(r.body.error).toMatch(message);
    expect(s.calls.size).toBe(0);
  });

  it('400 for malformed JSON; missing customVariables is fine', async () => {
    const s = await sim();
    expect((await req(s, 'POST', '/calls', { raw: '{"assistant_id":' })).status).toBe(400);
    const ok = await req(s, 'POST', '/calls', { body: { assistant_id: 'a', phoneNumber: '+61412345678' } });
    expect(ok.status).toBe(201);
    expect(ok.body.id).toMatch(/^call_[0-9a-f]+$/);
    expect(ok.body.status).toBe('queued');
    expect(Number.isNaN(Date.parse(ok.body.created_at))).toBe(false);
  });

  it('404 for an unknown assistant when assistants are configured', async () => {
    const s = await sim({ assistants: ['CE_1', 'CE_2'] });
    expect((await req(s, 'POST', '/calls', { body: callBody('+61412345678', { assistant_id: 'CE_9' }) })).status).toBe(404);
    expect((await req(s, 'POST', '/calls', { body: callBody('+61412345678', { assistant_id: 'CE_2' }) })).status).toBe(201);
    expect(s.calls.size).toBe(1);
  });

  it('404 for unknown routes and unknown call ids', async () => {
    const s = await sim();
    expect((await req(s, 'GET', '/nothing')).status).toBe(404);
    expect((await req(s, 'DELETE', '/calls')).status).toBe(404);
    expect((await req(s, 'GET', '/calls?id=call_missing')).status).toBe(404);
  });
});

describe('call lifecycle', () => {
  it('moves through queued/ringing/in-progress to the final status after the planned duration', async () => {
    const s = await sim({ callDurationMs: { min: 300, max: 300 }, outcomeFor: { '+61400000001': 'completed', '+61400000002': 'no-answer' } });
    const a = (await req(s, 'POST', '/calls', { body: callBody('+61400000001', { name: 'Alice' }) })).body.id as string;
    const b = (await req(s, 'POST', '/calls', { body: callBody('+61400000002') })).body.id as string;
    const first = (await req(s, 'GET', `/calls?id=${a}`)).body;
    expect(['queued', 'ringing', 'in-progress']).toContain(first.status);
    for (const f of ['ended_at', 'duration', 'ended_reason', 'summary', 'transcript', 'recording_url', 'cost']) expect(first[f]).toBeNull();

    // The timeline, read at exact instants so a slow machine can't skip a phase.
    const created = s.calls.get(a)!.createdAt;
    const statusAt = (id: string, dt: number): unknown => s.view(id, created + dt)!.status;
    expect([0, 29, 30, 89, 90, 299, 300].map((dt) => statusAt(a, dt))).toEqual(
      ['queued', 'queued', 'ringing', 'ringing', 'in-progress', 'in-progress', 'completed'],
    );
    expect([0, 90, 299, 300].map((dt) => statusAt(b, dt + (s.calls.get(b)!.createdAt - created)))).toEqual(['queued', 'ringing', 'ringing', 'no-answer']);

    await sleep(350);
    const done = (await req(s, 'GET', `/calls?id=${a}`)).body;
    expect(done).toMatchObject({ id: a, assistant_id: 'CE_1', name: 'Alice', phoneNumber: '+61400000001', status: 'completed' });
    expect(done.duration).toBeGreaterThan(0);
    expect(['customer-ended-call', 'assistant-ended-call']).toContain(done.ended_reason);
    expect(done.transcript).toContain('Alice');
    expect(done.summary).toContain('Alice');
    expect(typeof done.recording_url).toBe('string');
    expect(typeof done.cost).toBe('number');
    expect(Date.parse(done.ended_at) - Date.parse(done.created_at)).toBe(300);

    const missed = (await req(s, 'GET', `/calls?id=${b}`)).body;
    expect(missed.status).toBe('no-answer');
    expect(missed.ended_reason).toBe('customer-did-not-answer');
    expect(missed.transcript).toBeNull();
    expect(missed.duration).toBe(0);
  });

  it('gives the same outcomes for the same seed, whatever the order, and different ones for another seed', async () => {
    const nums = numbers(40);
    const outcomes = async (seed: number, order: string[]): Promise<Record<string, FinalStatus[]>> => {
      const s = await sim({ seed, callDurationMs: { min: 1, max: 1 } });
      // Two calls per number, fired concurrently, so "nth call" matters too.
      await Promise.all([...order, ...order].map((n) => req(s, 'POST', '/calls', { body: callBody(n) })));
      const out: Record<string, FinalStatus[]> = {};
      for (const n of nums) out[n] = [...s.calls.values()].filter((c) => c.phoneNumber === n).sort((x, y) => x.nth - y.nth).map((c) => c.outcome);
      return out;
    };
    const a = await outcomes(7, nums);
    const b = await outcomes(7, [...nums].reverse());
    const c = await outcomes(8, nums);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    const all = Object.values(a).flat();
    expect(new Set(all).size).toBeGreaterThan(1);
  });
});

describe('GET /calls shapes and filters', () => {
  it.each([
    ['object', (b: any) => b],
    ['array', (b: any) => b[0]],
    ['envelope', (b: any) => b.data[0]],
  ] as const)('getShape %s', async (shape, pick) => {
    const s = await sim({ getShape: shape });
    const id = (await req(s, 'POST', '/calls', { body: callBody('+61412345678') })).body.id;
    const r = await req(s, 'GET', `/calls?id=${id}`);
    expect(r.status).toBe(200);
    expect(pick(r.body).id).toBe(id);
    expect(pick((await req(s, 'GET', `/calls/${id}`)).body).id).toBe(id);
  });

  it.each([
    ['id', (b: any) => b.id],
    ['call_id', (b: any) => b.call_id],
    ['callId', (b: any) => b.callId],
    ['data', (b: any) => b.data.id],
  ] as const)('createShape %s', async (shape, pick) => {
    const s = await sim({ createShape: shape });
    const r = await req(s, 'POST', '/calls', { body: callBody('+61412345678') });
    expect(r.status).toBe(201);
    expect(s.calls.has(pick(r.body))).toBe(true);
  });

  it('lists calls filtered by phoneNumber, assistant_id and created_after', async () => {
    const s = await sim();
    await req(s, 'POST', '/calls', { body: callBody('+61411111111') });
    await req(s, 'POST', '/calls', { body: callBody('+61422222222', { assistant_id: 'CE_2' }) });
    await sleep(20);
    const cut = Date.now();
    await req(s, 'POST', '/calls', { body: callBody('+61411111111') });
    expect((await req(s, 'GET', '/calls')).body.data).toHaveLength(3);
    expect((await req(s, 'GET', '/calls?phoneNumber=%2B61411111111')).body.data).toHaveLength(2);
    // An unencoded "+" decodes to a space; the simulator takes it as meant.
    expect((await req(s, 'GET', '/calls?phoneNumber=+61411111111')).body.data).toHaveLength(2);
    expect((await req(s, 'GET', '/calls?assistant_id=CE_2')).body.data).toHaveLength(1);
    expect((await req(s, 'GET', `/calls?phoneNumber=%2B61411111111&created_after=${cut}`)).body.data).toHaveLength(1);
    expect((await req(s, 'GET', `/calls?created_after=${encodeURIComponent(new Date(cut).toISOString())}`)).body.data).toHaveLength(1);
    expect((await req(s, 'GET', '/calls?created_after=yesterday')).status).toBe(400);
  });
});

describe('/actions', () => {
  it('supports create, list, get, update, delete, attach and detach', async () => {
    const s = await sim({ assistants: ['CE_1'] });
    const sms = { content: 'Book here: https://cal.example/x', instructions: 'send if the caller asks for the booking link' };
    expect((await req(s, 'POST', '/actions', { body: { SEND_SMS: { content: 'x' } } })).body.error).toMatch(/instructions/);
    expect((await req(s, 'POST', '/actions', { body: { SEND_SMS: { instructions: 'x' } } })).status).toBe(422);
    expect((await req(s, 'POST', '/actions', { body: {} })).status).toBe(422);

    const created = await req(s, 'POST', '/actions', { body: { SEND_SMS: sms } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ type: 'SEND_SMS', SEND_SMS: sms });
    const id = created.body.id as string;
    expect(id).toMatch(/^act_/);

    expect((await req(s, 'GET', '/actions')).body.data.map((a: any) => a.id)).toEqual([id]);
    expect((await req(s, 'GET', `/actions/${id}`)).body.SEND_SMS).toEqual(sms);
    expect((await req(s, 'GET', '/actions/act_nope')).status).toBe(404);

    const updated = await req(s, 'PUT', `/actions/${id}`, { body: { SEND_SMS: { ...sms, content: 'new text' } } });
    expect(updated.status).toBe(200);
    expect((await req(s, 'GET', `/actions/${id}`)).body.SEND_SMS.content).toBe('new text');
    expect((await req(s, 'PUT', `/actions/${id}`, { body: { SEND_SMS: {} } })).status).toBe(422);
    expect((await req(s, 'PUT', '/actions/act_nope', { body: { SEND_SMS: sms } })).status).toBe(404);

    expect((await req(s, 'POST', '/actions/attach', { body: { assistant_id: 'CE_1', actions: [id, 'act_nope'] } })).status).toBe(404);
    expect(s.actions.get(id)!.attached_to).toEqual([]);
    expect((await req(s, 'POST', '/actions/attach', { body: { assistant_id: 'CE_X', actions: [id] } })).status).toBe(404);
    expect((await req(s, 'POST', '/actions/attach', { body: { assistant_id: 'CE_1' } })).status).toBe(422);
    const attached = await req(s, 'POST', '/actions/attach', { body: { assistant_id: 'CE_1', actions: [id] } });
    expect(attached.status).toBe(200);
    expect(attached.body.actions).toEqual([id]);
    expect((await req(s, 'GET', `/actions/${id}`)).body.attached_to).toEqual(['CE_1']);
    const detached = await req(s, 'POST', '/actions/detach', { body: { assistant_id: 'CE_1', actions: [id] } });
    expect(detached.status).toBe(200);
    expect((await req(s, 'GET', `/actions/${id}`)).body.attached_to).toEqual([]);

    expect((await req(s, 'DELETE', `/actions/${id}`)).status).toBe(200);
    expect((await req(s, 'GET', `/actions/${id}`)).status).toBe(404);
    expect((await req(s, 'DELETE', `/actions/${id}`)).status).toBe(404);
  });
});

describe('flag helpers', () => {
  it('parseOutcomeWeights', () => {
    expect(parseOutcomeWeights('completed=60,no-answer=20')).toEqual({ completed: 60, 'no-answer': 20 });
    expect(parseOutcomeWeights(' busy=1 , failed=0.5 ')).toEqual({ busy: 1, failed: 0.5 });
    expect(() => parseOutcomeWeights('done=1')).toThrow(/unknown outcome/);
    expect(() => parseOutcomeWeights('completed')).toThrow();
    expect(() => parseOutcomeWeights('completed=0')).toThrow(/positive/);
  });

  it('parseRange', () => {
    expect(parseRange('2000-8000')).toEqual({ min: 2000, max: 8000 });
    expect(parseRange('20')).toEqual({ min: 20, max: 20 });
    expect(() => parseRange('8000-2000')).toThrow();
    expect(() => parseRange('abc')).toThrow();
  });

  it('startSimulator rejects invalid options', async () => {
    await expect(startSimulator({ faults: { hangRate: 2 } })).rejects.toThrow(/hangRate/);
    await expect(startSimulator({ outcomes: { completed: 0 } })).rejects.toThrow(/outcome/);
  });
});

describe('robustness', () => {
  it('answers a malformed %-escape with 400 and keeps serving', async () => {
    const s = await sim();
    expect((await req(s, 'GET', '/calls/%E0%A4%A')).status).toBe(400);
    expect((await req(s, 'GET', '/actions/%zz')).status).toBe(400);
    expect((await req(s, 'GET', '/calls')).status).toBe(200);
  });
});
