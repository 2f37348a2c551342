import { describe, expect, it } from 'vitest';
import { classifyStatus, classifyTransportError } from '../src/api/classify.js';
import {
  extractAction,
  extractActions,
  extractCallId,
  extractCalls,
  findCall,
  normalizeStatus,
  parseBodyText,
  parseRetryAfter,
  serverMessage,
} from '../src/api/parse.js';
import { isLoopbackHost, maskPhones, safePath, scrubDeep, validateBaseUrl } from '../src/api/safety.js';

describe('extractCallId', () => {
  it.each<[string, unknown, string | undefined]>([
    ['id', { id: 'c1' }, 'c1'],
    ['call_id', { call_id: 'c2' }, 'c2'],
    ['callId', { callId: 'c3' }, 'c3'],
    ['numeric id', { id: 42 }, '42'],
    ['numeric call_id', { call_id: 7, status: 'queued' }, '7'],
    ['data object id', { data: { id: 'd1' } }, 'd1'],
    ['data object call_id', { data: { call_id: 'd2' } }, 'd2'],
    ['data object callId', { success: true, data: { callId: 'd3' } }, 'd3'],
    ['data as id string', { data: 'd4' }, 'd4'],
    ['data as id number', { data: 99 }, '99'],
    ['call object', { call: { id: 'k1' } }, 'k1'],
    ['one-element array', [{ id: 'a1' }], 'a1'],
    ['double-encoded JSON', '{"id":"s1"}', 's1'],
    ['top-level wins over data', { id: 'top', data: { id: 'inner' } }, 'top'],
    ['empty string id skipped', { id: '', call_id: 'c9' }, 'c9'],
    ['no id', { ok: true, message: 'queued' }, undefined],
    ['null', null, undefined],
    ['empty string body', '', undefined],
    ['plain text', 'accepted', undefined],
    ['boolean id ignored', { id: true }, undefined],
    ['NaN ignored', { id: Number.NaN }, undefined],
    ['object id ignored', { id: { nested: 1 } }, undefined],
  ])('%s', (_name, body, expected) => {
    expect(extractCallId(body)).toBe(expected);
  });
});

describe('normalizeStatus', () => {
  it.each([
    ['in_progress', 'in-progress'],
    ['IN_PROGRESS', 'in-progress'],
    ['no answer', 'no-answer'],
    ['No  Answer', 'no-answer'],
    ['completed', 'completed'],
    [' Ringing ', 'ringing'],
    ['in-progress', 'in-progress'],
    ['', 'unknown'],
    [undefined, 'unknown'],
    [null, 'unknown'],
  ])('%s → %s', (input, out) => {
    expect(normalizeStatus(input)).toBe(out);
  });
});

describe('extractCalls', () => {
  const call = {
    id: 'c1',
    status: 'in_progress',
    phone_number: '+61412345678',
    assistant_id: 'CE_1',
    created_at: '2025-01-01T00:00:00Z',
    started_at: '2025-01-01T00:00:05Z',
    ended_at: '2025-01-01T00:01:05Z',
    duration: 60,
    ended_reason: 'customer-ended-call',
    summary: 'Booked',
    transcript: 'AI: hi',
    recording_url: 'https://rec/1.mp3',
    cost: 0.12,
  };

  it('reads one object with snake_case aliases', () => {
    const [c] = extractCalls(call);
    expect(c).toEqual({
      id: 'c1',
      status: 'in-progress',
      phoneNumber: '+61412345678',
      assistantId: 'CE_1',
      createdAt: '2025-01-01T00:00:00Z',
      startedAt: '2025-01-01T00:00:05Z',
      endedAt: '2025-01-01T00:01:05Z',
      durationSeconds: 60,
      endedReason: 'customer-ended-call',
      summary: 'Booked',
      transcript: 'AI: hi',
      recordingUrl: 'https://rec/1.mp3',
      cost: 0.12,
      raw: call,
    });
  });

  it('reads camelCase and other aliases', () => {
    const [c] = extractCalls({
      callId: 'c2',
      call_status: 'No Answer',
      to: '+15550001111',
      assistantId: 'CE_2',
      createdAt: 1_735_689_600, // epoch seconds
      startedAt: 1_735_689_605_000, // epoch ms
      durationSeconds: '42',
      endedReason: 'no-answer',
      recordingUrl: 'https://r',
      cost: '0.5',
      transcript: [
        { role: 'assistant', content: 'Hello' },
        { role: 'user', message: 'Hi' },
      ],
    });
    expect(c).toMatchObject({
      id: 'c2',
      status: 'no-answer',
      phoneNumber: '+15550001111',
      assistantId: 'CE_2',
      createdAt: '2025-01-01T00:00:00.000Z',
      startedAt: '2025-01-01T00:00:05.000Z',
      durationSeconds: 42,
      endedReason: 'no-answer',
      recordingUrl: 'https://r',
      cost: 0.5,
      transcript: 'assistant: Hello\nuser: Hi',
    });
  });

  it('reads duration_seconds and end_reason; missing status → unknown; missing fields absent', () => {
    const [c] = extractCalls({ id: 'c3', duration_seconds: 3, end_reason: 'busy' });
    expect(c).toEqual({ id: 'c3', status: 'unknown', durationSeconds: 3, endedReason: 'busy', raw: { id: 'c3', duration_seconds: 3, end_reason: 'busy' } });
  });

  it.each<[string, unknown]>([
    ['array', [{ id: 'a' }, { id: 'b' }]],
    ['envelope data[]', { data: [{ id: 'a' }, { id: 'b' }], total: 2 }],
    ['envelope calls[]', { calls: [{ id: 'a' }, { id: 'b' }] }],
    ['envelope results[]', { results: [{ id: 'a' }, { id: 'b' }] }],
    ['data.calls[]', { data: { calls: [{ id: 'a' }, { id: 'b' }] } }],
    ['array with junk', [{ id: 'a' }, null, 3, 'x', { noid: true }, { id: 'b' }]],
  ])('%s', (_name, body) => {
    expect(extractCalls(body).map((c) => c.id)).toEqual(['a', 'b']);
  });

  it('envelope data{} (one object)', () => {
    expect(extractCalls({ data: { id: 'x', status: 'completed' } }).map((c) => [c.id, c.status])).toEqual([['x', 'completed']]);
  });

  it('nothing callable → []', () => {
    for (const body of [null, undefined, 'text', 42, {}, [], { data: [] }, { message: 'ok' }]) expect(extractCalls(body)).toEqual([]);
  });
});

describe('findCall', () => {
  it('finds by id in array/envelope; other ids → undefined', () => {
    const body = { data: [{ id: 'a', status: 'queued' }, { call_id: 'b', status: 'busy' }] };
    expect(findCall(body, 'b')?.status).toBe('busy');
    expect(findCall(body, 'zz')).toBeUndefined();
    expect(findCall([{ id: 1, status: 'completed' }], '1')?.status).toBe('completed');
  });

  it('a single id-less call object is taken as the one asked for', () => {
    expect(findCall({ status: 'ringing' }, 'q1')).toMatchObject({ id: 'q1', status: 'ringing' });
    expect(findCall({ data: { status: 'completed', duration: 5 } }, 'q2')).toMatchObject({ id: 'q2', status: 'completed', durationSeconds: 5 });
  });

  it('no call at all → undefined', () => {
    expect(findCall({ data: [] }, 'x')).toBeUndefined();
    expect(findCall({ message: 'nothing' }, 'x')).toBeUndefined();
  });
});

describe('actions', () => {
  it('reads SEND_SMS-nested and flat actions from arrays and envelopes', () => {
    const list = extractActions({
      data: [
        { id: 'a1', SEND_SMS: { content: 'Link', instructions: 'if asked' } },
        { action_id: 2, content: 'Flat', instructions: 'always' },
        { nothing: true },
      ],
    });
    expect(list.map(({ id, content, instructions }) => ({ id, content, instructions }))).toEqual([
      { id: 'a1', content: 'Link', instructions: 'if asked' },
      { id: '2', content: 'Flat', instructions: 'always' },
    ]);
  });

  it('extractAction falls back to known fields', () => {
    expect(extractAction({ data: { id: 'n1' } }, { content: 'c', instructions: 'i' })).toMatchObject({ id: 'n1', content: 'c', instructions: 'i' });
    expect(extractAction({ ok: true }, { id: 'k', content: 'c', instructions: 'i' })).toMatchObject({ id: 'k', content: 'c' });
    expect(extractAction({ ok: true }, { content: 'c', instructions: 'i' })).toBeUndefined();
  });
});

describe('parseBodyText', () => {
  it('empty, json, invalid', () => {
    expect(parseBodyText('')).toEqual({ kind: 'empty' });
    expect(parseBodyText('  \n')).toEqual({ kind: 'empty' });
    expect(parseBodyText('\uFEFF{"a":1}')).toEqual({ kind: 'json', value: { a: 1 } });
    expect(parseBodyText('<html>')).toEqual({ kind: 'invalid', text: '<html>' });
  });
});

describe('serverMessage', () => {
  it.each<[string, string, string | undefined]>([
    ['error string', '{"error":"phoneNumber must be E.164"}', 'phoneNumber must be E.164'],
    ['message', '{"message":"bad"}', 'bad'],
    ['error object', '{"error":{"message":"nested","code":1}}', 'nested'],
    ['errors array', '{"errors":[{"message":"a"},{"message":"b"}]}', 'a; b'],
    ['detail', '{"detail":"Not authenticated"}', 'Not authenticated'],
    ['plain text', 'Too many requests', 'Too many requests'],
    ['html ignored', '<html><body>502</body></html>', undefined],
    ['no message', '{"ok":false}', undefined],
  ])('%s', (_n, text, out) => {
    expect(serverMessage(parseBodyText(text))).toBe(out);
  });

  it('truncates to 200 chars', () => {
    const m = serverMessage(parseBodyText(JSON.stringify({ error: 'x'.repeat(500) })));
    expect(m!.length).toBe(200);
    expect(m!.endsWith('…')).toBe(true);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-06-01T12:00:00Z');
  it.each<[string | undefined, number | undefined]>([
    ['5', 5000],
    ['0', 0],
    ['1.5', 1500],
    [' 10 ', 10000],
    ['Sun, 01 Jun 2025 12:00:30 GMT', 30000],
    ['Sun, 01 Jun 2025 11:59:00 GMT', 0],
    ['-3', 0],
    ['soon', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%s → %s', (h, ms) => {
    expect(parseRetryAfter(h, now)).toBe(ms);
  });
});

describe('classifyStatus', () => {
  it.each<[number, string, boolean]>([
    [400, 'API_REJECTED', false],
    [422, 'API_REJECTED', false],
    [401, 'API_UNAUTHORIZED', false],
    [403, 'API_UNAUTHORIZED', false],
    [404, 'API_NOT_FOUND', false],
    [429, 'API_RATE_LIMITED', false],
    [500, 'API_SERVER_ERROR', true],
    [502, 'API_SERVER_ERROR', true],
    [503, 'API_SERVER_ERROR', true],
    [504, 'API_SERVER_ERROR', true],
    [302, 'API_HTTP_ERROR', false],
    [409, 'API_HTTP_ERROR', false],
    [418, 'API_HTTP_ERROR', false],
  ])('%i → %s (maybeSent %s)', (status, code, maybeSent) => {
    expect(classifyStatus(status)).toEqual({ code, maybeSent });
  });
});

describe('classifyTransportError', () => {
  const err = (props: Record<string, unknown>, message = 'x'): Error => Object.assign(new Error(message), props);
  it.each<[string, unknown, string, boolean]>([
    ['ENOTFOUND', err({ code: 'ENOTFOUND' }), 'API_UNREACHABLE', false],
    ['EAI_AGAIN', err({ code: 'EAI_AGAIN' }), 'API_UNREACHABLE', false],
    ['ECONNREFUSED', err({ code: 'ECONNREFUSED' }), 'API_UNREACHABLE', false],
    ['ENETUNREACH', err({ code: 'ENETUNREACH' }), 'API_UNREACHABLE', false],
    ['EHOSTUNREACH', err({ code: 'EHOSTUNREACH' }), 'API_UNREACHABLE', false],
    ['lookup timeout', err({ name: 'TimeoutError', code: 'ETIMEDOUT', event: 'lookup' }), 'API_UNREACHABLE', false],
    ['connect timeout', err({ name: 'TimeoutError', code: 'ETIMEDOUT', event: 'connect' }), 'API_UNREACHABLE', false],
    ['secureConnect timeout', err({ name: 'TimeoutError', code: 'ETIMEDOUT', event: 'secureConnect' }), 'API_UNREACHABLE', false],
    ['send timeout', err({ name: 'TimeoutError', code: 'ETIMEDOUT', event: 'send' }), 'API_TIMEOUT', true],
    ['response timeout', err({ name: 'TimeoutError', code: 'ETIMEDOUT', event: 'response' }), 'API_TIMEOUT', true],
    ['request timeout', err({ name: 'TimeoutError', code: 'ETIMEDOUT', event: 'request' }), 'API_TIMEOUT', true],
    ['read timeout', err({ name: 'TimeoutError', code: 'ETIMEDOUT', event: 'read' }), 'API_TIMEOUT', true],
    ['socket timeout', err({ name: 'TimeoutError', code: 'ETIMEDOUT', event: 'socket' }), 'API_TIMEOUT', true],
    ['bare ETIMEDOUT', err({ code: 'ETIMEDOUT' }), 'API_TIMEOUT', true],
    ['AbortSignal.timeout reason', err({ name: 'TimeoutError' }), 'API_TIMEOUT', true],
    ['ERR_TLS_CERT_ALTNAME_INVALID', err({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' }), 'API_UNREACHABLE', false],
    ['CERT_HAS_EXPIRED', err({ code: 'CERT_HAS_EXPIRED' }), 'API_UNREACHABLE', false],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', err({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), 'API_UNREACHABLE', false],
    ['SELF_SIGNED_CERT_IN_CHAIN', err({ code: 'SELF_SIGNED_CERT_IN_CHAIN' }), 'API_UNREACHABLE', false],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', err({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }), 'API_UNREACHABLE', false],
    ['EPROTO', err({ code: 'EPROTO' }), 'API_UNREACHABLE', false],
    ['ERR_SSL_*', err({ code: 'ERR_SSL_WRONG_VERSION_NUMBER' }), 'API_UNREACHABLE', false],
    ['ECONNRESET', err({ code: 'ECONNRESET' }), 'API_CONNECTION_LOST', true],
    ['EPIPE', err({ code: 'EPIPE' }), 'API_CONNECTION_LOST', true],
    ['premature close code', err({ code: 'ERR_STREAM_PREMATURE_CLOSE' }), 'API_CONNECTION_LOST', true],
    ['socket hang up message', err({}, 'socket hang up'), 'API_CONNECTION_LOST', true],
    ['got ReadError', err({ name: 'ReadError', code: 'ERR_GOT_REQUEST_ERROR' }), 'API_CONNECTION_LOST', true],
    ['got AbortError', err({ name: 'AbortError', code: 'ERR_ABORTED' }), 'API_ABORTED', true],
    ['DOM AbortError', err({ name: 'AbortError', code: 20 }), 'API_ABORTED', true],
    ['code in cause chain', err({ code: 'ERR_GOT_REQUEST_ERROR', cause: err({ code: 'ECONNREFUSED' }) }), 'API_UNREACHABLE', false],
    ['unknown error', new Error('weird'), 'API_CONNECTION_LOST', true],
    ['non-error', 'boom', 'API_CONNECTION_LOST', true],
    ['null', null, 'API_CONNECTION_LOST', true],
  ])('%s → %s', (_n, e, code, maybeSent) => {
    expect(classifyTransportError(e)).toEqual({ code, maybeSent });
  });
});

describe('safety helpers', () => {
  it('isLoopbackHost', () => {
    for (const h of ['localhost', 'LOCALHOST', 'localhost.', '127.0.0.1', '127.1.2.3', '[::1]', '::1', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).toBe(true);
    // A `*.localhost` name can be a container's network alias: plain http to it crosses a network.
    for (const h of ['example.com', '10.0.0.1', '128.0.0.1', '0.0.0.0', 'localhost.evil.com', '127.0.0.1.nip.io', 'api.localhost', 'simulator.localhost']) expect(isLoopbackHost(h), h).toBe(false);
  });

  it('validateBaseUrl', () => {
    expect(validateBaseUrl('https://api.callease.ai/api/v1/').toString()).toBe('https://api.callease.ai/api/v1');
    expect(validateBaseUrl('http://127.0.0.1:4010').host).toBe('127.0.0.1:4010');
    expect(validateBaseUrl('http://[::1]:4010').hostname).toBe('[::1]');
    expect(() => validateBaseUrl('http://api.callease.ai/api/v1')).toThrow(/https/);
    expect(() => validateBaseUrl('http://simulator.localhost:4010')).toThrow(/only for loopback addresses .*CALLEASE_ALLOW_INSECURE_HTTP=1/);
    expect(validateBaseUrl('http://simulator:4010', { allowInsecureHttp: true }).host).toBe('simulator:4010');
    // The opt-in is about plain http only: the other rules stay.
    expect(() => validateBaseUrl('ftp://simulator', { allowInsecureHttp: true })).toThrow(/https/);
    expect(() => validateBaseUrl('http://u:p@simulator:4010', { allowInsecureHttp: true })).toThrow(/credentials/);
    expect(() => validateBaseUrl('not a url')).toThrow(/not a valid URL/);
    expect(() => validateBaseUrl('ftp://127.0.0.1')).toThrow();
    expect(() => validateBaseUrl('https://user:pw@api.callease.ai')).toThrow(/credentials/);
  });

  it('safePath masks phone query values only', () => {
    expect(safePath('/calls?phoneNumber=%2B61412345678&assistant_id=CE_1')).toBe('/calls?phoneNumber=+614•••••678&assistant_id=CE_1');
    expect(safePath('/calls?id=abc')).toBe('/calls?id=abc');
    expect(safePath('/actions')).toBe('/actions');
  });

  it('maskPhones masks the request number in any spelling and +numbers', () => {
    const out = maskPhones('number +61412345678 / 61412345678 / +1 (555) 000-1111 invalid', ['+61412345678']);
    expect(out).not.toMatch(/412345/);
    expect(out).not.toMatch(/000-1111/);
  });

  it('scrubDeep removes secrets from keys and values', () => {
    expect(scrubDeep({ a: 'Bearer sk_1234', sk_1234: ['x sk_1234'] }, ['sk_1234'])).toEqual({
      a: 'Bearer [redacted]',
      '[redacted]': ['x [redacted]'],
    });
  });
});
