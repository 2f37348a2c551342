/**
 * The Callease client against real HTTP on 127.0.0.1: a tiny node:http stub
 * that answers canned responses per route and records every request.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CalleaseClient, type CalleaseClientOptions, type RequestInfo } from '../src/api/client.js';
import { ApiError, DialerError } from '../src/errors.js';

const API_KEY = 'sk_live_TOPSECRET_9f8e7d6c5b4a';
const PHONE = '+61412345678';

// ------------------------------------------------------------------ stub server

interface Recorded {
  method: string;
  url: string;
  pathname: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  text: string;
  json?: unknown;
}

interface Canned {
  status?: number;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
}

type Handler = Canned | ((req: Recorded, res: http.ServerResponse, raw: http.IncomingMessage) => void);

class Stub {
  readonly requests: Recorded[] = [];
  readonly routes = new Map<string, Handler | Handler[]>();
  server!: http.Server | https.Server;
  url = '';

  /** A list of handlers is used in turn (the last one repeats). */
  on(method: string, pathname: string, h: Handler | Handler[]): this {
    this.routes.set(`${method} ${pathname}`, h);
    return this;
  }

  count(method: string, pathname: string): number {
    return this.requests.filter((r) => r.method === method && r.pathname === pathname).length;
  }

  async start(tls?: { key: Buffer; cert: Buffer }): Promise<this> {
    const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const u = new URL(req.url ?? '/', 'http://x');
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        const rec: Recorded = { method: req.method ?? '', url: req.url ?? '', pathname: u.pathname, query: u.searchParams, headers: req.headers, text, json };
        const nth = this.requests.filter((r) => r.method === rec.method && r.pathname === rec.pathname).length;
        this.requests.push(rec);
        const route = this.routes.get(`${rec.method} ${rec.pathname}`);
        const h = Array.isArray(route) ? route[Math.min(nth, route.length - 1)] : route;
        if (!h) {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'no such route' }));
          return;
        }
        if (typeof h === 'function') return h(rec, res, req);
        const body = h.body === undefined ? '' : typeof h.body === 'string' ? h.body : JSON.stringify(h.body);
        res.writeHead(h.status ?? 200, { 'content-type': 'application/json', ...h.headers }).end(body);
      });
    };
    this.server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, listener) : http.createServer(listener);
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function stub(tls?: { key: Buffer; cert: Buffer }): Promise<Stub> {
  const s = await new Stub().start(tls);
  cleanups.push(() => s.close());
  return s;
}

function client(s: Stub | string, opts: Partial<CalleaseClientOptions> = {}): CalleaseClient {
  const c = new CalleaseClient({ baseUrl: typeof s === 'string' ? s : s.url, apiKey: API_KEY, retryBaseDelayMs: 5, ...opts });
  cleanups.push(() => c.close());
  return c;
}

// ------------------------------------------------------------------ leak checks

/** Every error the client produced in this file, checked for the key (and the full phone number). */
const seenErrors: unknown[] = [];

function assertNoSecrets(err: unknown): void {
  const e = err as Error & { cause?: unknown; body?: unknown };
  const views = [
    JSON.stringify(err),
    e.message,
    String(e.cause),
    inspect(err, { depth: 10 }),
    e.stack ?? '',
    JSON.stringify(e.body ?? null),
    inspect(e.cause, { depth: 10 }),
  ];
  for (const v of views) {
    expect(v).not.toContain(API_KEY);
    expect(v).not.toContain('TOPSECRET');
  }
  expect(e.message).not.toContain(PHONE);
  expect(e.message).not.toContain(PHONE.slice(1));
}

async function apiError(p: Promise<unknown>, code: string): Promise<ApiError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a rejection').toBeInstanceOf(ApiError);
  seenErrors.push(caught);
  assertNoSecrets(caught);
  const err = caught as ApiError;
  expect(err.code, err.message).toBe(code);
  return err;
}

const callReq = {
  assistant_id: 'CE_3228070481',
  name: 'John',
  phoneNumber: PHONE,
  customVariables: [
    { key: 'name', value: 'John' },
    { key: 'cal_email', value: 'abc@email.com' },
  ],
};

// ------------------------------------------------------------------ tests

describe('constructor', () => {
  it('refuses plain http:// to a non-loopback host, and non-URLs', () => {
    for (const baseUrl of ['http://api.callease.ai/api/v1', 'http://10.0.0.5:4010', 'not a url', '', 'ftp://127.0.0.1']) {
      let err: unknown;
      try {
        new CalleaseClient({ baseUrl, apiKey: API_KEY });
      } catch (e) {
        err = e;
      }
      expect(err, baseUrl).toBeInstanceOf(DialerError);
      expect((err as DialerError).code).toBe('CONFIG_INVALID');
      assertNoSecrets(err);
    }
  });

  it('accepts https anywhere and http on loopback', () => {
    for (const baseUrl of ['https://api.callease.ai/api/v1', 'http://127.0.0.1:4010', 'http://localhost:4010/', 'http://[::1]:4010']) {
      const c = new CalleaseClient({ baseUrl, apiKey: API_KEY });
      c.close();
    }
  });

  it('refuses a missing key and a getCallPath without {id}; never echoes the key', () => {
    expect(() => new CalleaseClient({ baseUrl: 'https://api.callease.ai', apiKey: '' })).toThrow(DialerError);
    expect(() => new CalleaseClient({ baseUrl: 'https://api.callease.ai', apiKey: API_KEY, getCallPath: '/calls' })).toThrow(/\{id\}/);
  });

  it('does not show the key when the client itself is inspected', () => {
    const c = new CalleaseClient({ baseUrl: 'https://api.callease.ai', apiKey: API_KEY });
    expect(inspect(c, { depth: 10 })).not.toContain(API_KEY);
    expect(JSON.stringify(c)).not.toContain(API_KEY);
    c.close();
  });
});

describe('createCall', () => {
  it('POSTs exactly the documented body with Bearer auth, JSON and a user agent', async () => {
    const s = await stub();
    s.on('POST', '/api/v1/calls', { status: 201, body: { id: 'call_1', status: 'queued' } });
    const c = client(`${s.url}/api/v1/`);
    const res = await c.createCall({ ...callReq, extra: 'not sent' } as typeof callReq);
    expect(res).toEqual({ id: 'call_1', body: { id: 'call_1', status: 'queued' } });
    expect(s.requests).toHaveLength(1);
    const r = s.requests[0]!;
    expect(r.method).toBe('POST');
    expect(r.url).toBe('/api/v1/calls');
    expect(r.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.headers.accept).toBe('application/json');
    expect(r.headers['user-agent']).toMatch(/^callease-dialer\/\d+\.\d+\.\d+/);
    expect(r.json).toEqual(callReq);
  });

  it.each<[string, unknown, string | undefined]>([
    ['id', { id: 'a1' }, 'a1'],
    ['call_id', { call_id: 'a2' }, 'a2'],
    ['callId', { callId: 'a3' }, 'a3'],
    ['numeric id', { id: 12345 }, '12345'],
    ['data object', { data: { id: 'a4', status: 'queued' } }, 'a4'],
    ['data.call_id', { data: { call_id: 'a5' } }, 'a5'],
    ['data.callId', { data: { callId: 'a6' } }, 'a6'],
    ['no id at all', { success: true }, undefined],
  ])('id shape: %s', async (_n, body, id) => {
    const s = await stub();
    s.on('POST', '/calls', { status: 200, body });
    const res = await client(s).createCall(callReq);
    expect(res.id).toBe(id);
    expect(res.body).toEqual(body);
  });

  it('a 2xx with an empty body is a success with unknown id', async () => {
    const s = await stub();
    s.on('POST', '/calls', { status: 204 });
    expect(await client(s).createCall(callReq)).toEqual({ id: undefined, body: '' });
    s.on('POST', '/calls', { status: 200, body: '' });
    expect(await client(s).createCall(callReq)).toEqual({ id: undefined, body: '' });
  });

  it('a 2xx with an unparsable body → API_BAD_RESPONSE, maybeSent', async () => {
    const s = await stub();
    s.on('POST', '/calls', { status: 200, body: '<html>ok</html>', headers: { 'content-type': 'text/html' } });
    const err = await apiError(client(s).createCall(callReq), 'API_BAD_RESPONSE');
    expect(err.maybeSent).toBe(true);
    expect(err.status).toBe(200);
    expect(err.body).toBe('<html>ok</html>');
    expect(err.method).toBe('POST');
    expect(err.path).toBe('/calls');
  });

  it('is never retried by got: 503, 500 and a dropped socket each reach the server once', async () => {
    const s = await stub();
    const c = client(s, { retries: 2 });
    s.on('POST', '/calls', { status: 503, body: { error: 'busy' } });
    await apiError(c.createCall(callReq), 'API_SERVER_ERROR');
    expect(s.count('POST', '/calls')).toBe(1);
    s.on('POST', '/calls', { status: 500 });
    await apiError(c.createCall(callReq), 'API_SERVER_ERROR');
    expect(s.count('POST', '/calls')).toBe(2);
    s.on('POST', '/calls', (_r, _res, raw) => raw.socket.destroy());
    await apiError(c.createCall(callReq), 'API_CONNECTION_LOST');
    expect(s.count('POST', '/calls')).toBe(3);
    s.on('POST', '/calls', { status: 429, headers: { 'retry-after': '0' } });
    await apiError(c.createCall(callReq), 'API_RATE_LIMITED');
    expect(s.count('POST', '/calls')).toBe(4);
  });
});

describe('status → error mapping', () => {
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
    [302, 'API_HTTP_ERROR', false],
    [409, 'API_HTTP_ERROR', false],
  ])('POST /calls %i → %s (maybeSent %s)', async (status, code, maybeSent) => {
    const s = await stub();
    const body = { error: `problem ${status}`, detail: { x: 1 } };
    s.on('POST', '/calls', { status, body, headers: status === 302 ? { location: 'http://127.0.0.1:1/elsewhere' } : {} });
    const err = await apiError(client(s).createCall(callReq), code);
    expect(err).toMatchObject({ status, maybeSent, method: 'POST', path: '/calls', body });
    expect(err.message).toBe(`POST /calls → ${status}: problem ${status}`);
    expect(s.requests).toHaveLength(1); // redirects are not followed
  });

  it('takes the server message (error / message), truncated to 200 chars', async () => {
    const s = await stub();
    s.on('POST', '/calls', { status: 422, body: { message: 'phoneNumber must be E.164' } });
    const c = client(s);
    expect((await apiError(c.createCall(callReq), 'API_REJECTED')).message).toBe('POST /calls → 422: phoneNumber must be E.164');
    s.on('POST', '/calls', { status: 400, body: { error: 'y'.repeat(1000) } });
    const long = await apiError(c.createCall(callReq), 'API_REJECTED');
    expect(long.message.length).toBeLessThan(240);
    s.on('POST', '/calls', { status: 500, body: '<html>Internal</html>', headers: { 'content-type': 'text/html' } });
    const html = await apiError(c.createCall(callReq), 'API_SERVER_ERROR');
    expect(html.message).toBe('POST /calls → 500: Internal Server Error');
    expect(html.body).toBe('<html>Internal</html>');
  });

  it('never puts the phone number (or the echoed key) into messages, body or cause', async () => {
    const s = await stub();
    s.on('POST', '/calls', (r, res) => {
      res.writeHead(422, { 'content-type': 'application/json' }).end(
        JSON.stringify({ error: `phoneNumber ${PHONE} (61412345678) invalid for key ${String(r.headers.authorization)}` }),
      );
    });
    const err = await apiError(client(s).createCall(callReq), 'API_REJECTED');
    expect(err.message).toMatch(/^POST \/calls → 422: phoneNumber \+614•+678 \(6141•+678\) invalid for key Bearer \[redacted\]$/);
    expect(JSON.stringify(err.body)).toContain('[redacted]');
    s.on('POST', '/calls', (r, res) => {
      res.writeHead(401, { 'content-type': 'text/plain' }).end(`bad key: ${String(r.headers.authorization)}`);
    });
    const err401 = await apiError(client(s).createCall(callReq), 'API_UNAUTHORIZED');
    expect(err401.message).toBe('POST /calls → 401: bad key: Bearer [redacted]');
  });

  it('429 Retry-After in seconds', async () => {
    const s = await stub();
    s.on('POST', '/calls', { status: 429, headers: { 'retry-after': '7' }, body: { error: 'slow down' } });
    const err = await apiError(client(s).createCall(callReq), 'API_RATE_LIMITED');
    expect(err.retryAfterMs).toBe(7000);
    expect(err.maybeSent).toBe(false);
    expect(err.message).toBe('POST /calls → 429: slow down (retry after 7s)');
  });

  it('429 Retry-After as an HTTP date', async () => {
    const s = await stub();
    const at = new Date(Date.now() + 30_000).toUTCString();
    s.on('POST', '/calls', { status: 429, headers: { 'retry-after': at } });
    const err = await apiError(client(s).createCall(callReq), 'API_RATE_LIMITED');
    expect(err.retryAfterMs).toBeGreaterThan(27_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(30_000);
    s.on('POST', '/calls', { status: 429, headers: { 'retry-after': new Date(Date.now() - 60_000).toUTCString() } });
    expect((await apiError(client(s).createCall(callReq), 'API_RATE_LIMITED')).retryAfterMs).toBe(0);
    s.on('POST', '/calls', { status: 429 });
    expect((await apiError(client(s).createCall(callReq), 'API_RATE_LIMITED')).retryAfterMs).toBeUndefined();
  });

  it('5xx carries Retry-After too', async () => {
    const s = await stub();
    s.on('POST', '/calls', { status: 503, headers: { 'retry-after': '120' } });
    const err = await apiError(client(s).createCall(callReq), 'API_SERVER_ERROR');
    expect(err.retryAfterMs).toBe(120_000);
    expect(err.maybeSent).toBe(true);
  });
});

describe('transport failures', () => {
  it('server destroys the socket before answering → API_CONNECTION_LOST, maybeSent', async () => {
    const s = await stub();
    s.on('POST', '/calls', (_r, _res, raw) => raw.socket.destroy());
    const err = await apiError(client(s).createCall(callReq), 'API_CONNECTION_LOST');
    expect(err.maybeSent).toBe(true);
    expect(err.status).toBeUndefined();
    expect(err.message).toMatch(/^POST \/calls: connection lost/);
    expect(String(err.cause)).toMatch(/socket hang up|ECONNRESET/);
  });

  it('server dies halfway through the body → API_CONNECTION_LOST', async () => {
    const s = await stub();
    s.on('POST', '/calls', (_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"id":"par');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const err = await apiError(client(s).createCall(callReq), 'API_CONNECTION_LOST');
    expect(err.maybeSent).toBe(true);
  });

  it('server never answers, timeoutMs 200 → API_TIMEOUT, maybeSent', async () => {
    const s = await stub();
    s.on('POST', '/calls', () => undefined);
    const t0 = Date.now();
    const err = await apiError(client(s, { timeoutMs: 200 }).createCall(callReq), 'API_TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(err.maybeSent).toBe(true);
    expect(err.message).toBe('POST /calls: no response within 200ms (response)');
    expect((err.cause as { event?: string }).event).toBe('response');
  });

  it('headers then a stalled body → API_TIMEOUT (read)', async () => {
    const s = await stub();
    s.on('GET', '/actions', (_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
    });
    const err = await apiError(client(s, { timeoutMs: 200, retries: 0 }).listActions(), 'API_TIMEOUT');
    expect(err.maybeSent).toBe(true);
  });

  it('connection refused (closed port) → API_UNREACHABLE, maybeSent false', async () => {
    const srv = http.createServer();
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const { port } = srv.address() as AddressInfo;
    await new Promise<void>((resolve) => srv.close(() => resolve()));
    const c = client(`http://127.0.0.1:${port}`);
    const err = await apiError(c.createCall(callReq), 'API_UNREACHABLE');
    expect(err.maybeSent).toBe(false);
    expect(err.message).toBe('POST /calls: connection refused (ECONNREFUSED)');
    expect((err.cause as { code?: string }).code).toBe('ECONNREFUSED');
    const getErr = await apiError(c.getCall('x'), 'API_UNREACHABLE');
    expect(getErr.maybeSent).toBe(false);
  });

  it('abort signal mid-request → API_ABORTED, maybeSent', async () => {
    const s = await stub();
    s.on('POST', '/calls', () => undefined);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const err = await apiError(client(s).createCall(callReq, { signal: ac.signal }), 'API_ABORTED');
    expect(err.maybeSent).toBe(true);
    expect(err.message).toBe('POST /calls: aborted by caller');
  });

  it('an already-aborted signal → API_ABORTED; GETs too, with no retry', async () => {
    const s = await stub();
    s.on('GET', '/calls', { status: 200, body: [] });
    const ac = new AbortController();
    ac.abort();
    await apiError(client(s).createCall(callReq, { signal: ac.signal }), 'API_ABORTED');
    await apiError(client(s).listCalls({}, { signal: ac.signal }), 'API_ABORTED');
    const timeoutSignal = AbortSignal.timeout(30);
    s.on('GET', '/actions', () => undefined);
    await apiError(client(s).listActions({ signal: timeoutSignal }), 'API_ABORTED');
  });
});

describe('getCall and listCalls', () => {
  const call = { id: 'c/1', status: 'in_progress', phone_number: PHONE, assistant_id: 'CE_1', duration: 12, created_at: '2025-01-02T00:00:00Z' };

  it.each<[string, unknown]>([
    ['object', call],
    ['array', [{ id: 'other', status: 'completed' }, call]],
    ['envelope data[]', { data: [call] }],
    ['envelope calls[]', { calls: [{ id: 'other' }, call] }],
    ['envelope data{}', { data: call }],
  ])('GET /calls?id= with a %s answer', async (_n, body) => {
    const s = await stub();
    s.on('GET', '/calls', { body });
    const got = await client(s).getCall('c/1');
    expect(s.requests[0]!.url).toBe('/calls?id=c%2F1');
    expect(s.requests[0]!.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(got).toMatchObject({ id: 'c/1', status: 'in-progress', phoneNumber: PHONE, assistantId: 'CE_1', durationSeconds: 12 });
    expect(got!.raw).toEqual(call);
  });

  it('404, an empty body, or a list without the call → undefined', async () => {
    const s = await stub();
    const c = client(s);
    s.on('GET', '/calls', { status: 404, body: { error: 'not found' } });
    expect(await c.getCall('nope')).toBeUndefined();
    s.on('GET', '/calls', { status: 200, body: '' });
    expect(await c.getCall('nope')).toBeUndefined();
    s.on('GET', '/calls', { status: 200, body: { data: [{ id: 'other' }] } });
    expect(await c.getCall('nope')).toBeUndefined();
  });

  it('a configurable getCallPath', async () => {
    const s = await stub();
    s.on('GET', '/calls/abc%20d', { body: { status: 'no answer' } });
    const got = await client(s, { getCallPath: '/calls/{id}' }).getCall('abc d');
    expect(got).toMatchObject({ id: 'abc d', status: 'no-answer' });
  });

  it('GETs retry on 5xx and network errors (got retry), 4xx not', async () => {
    const s = await stub();
    const c = client(s, { retries: 2 });
    s.on('GET', '/calls', [{ status: 503 }, { status: 502 }, { body: call }]);
    expect((await c.getCall('c/1'))?.status).toBe('in-progress');
    expect(s.count('GET', '/calls')).toBe(3);

    const s2 = await stub();
    s2.on('GET', '/calls', { status: 500, body: { error: 'down' } });
    const err = await apiError(client(s2, { retries: 2 }).getCall('c/1'), 'API_SERVER_ERROR');
    expect(s2.count('GET', '/calls')).toBe(3);
    expect(err.message).toBe('GET /calls?id=c%2F1 → 500: down');

    const s3 = await stub();
    s3.on('GET', '/calls', [(_r, _res, raw) => raw.socket.destroy(), { body: call }]);
    expect((await client(s3, { retries: 2 }).getCall('c/1'))?.id).toBe('c/1');
    expect(s3.count('GET', '/calls')).toBe(2);

    const s4 = await stub();
    s4.on('GET', '/calls', { status: 429, headers: { 'retry-after': '1' } });
    await apiError(client(s4, { retries: 2 }).getCall('c/1'), 'API_RATE_LIMITED');
    expect(s4.count('GET', '/calls')).toBe(1);
  });

  it('a 2xx GET with garbage → API_BAD_RESPONSE', async () => {
    const s = await stub();
    s.on('GET', '/calls', { body: 'not json' });
    await apiError(client(s).getCall('x'), 'API_BAD_RESPONSE');
  });

  it('listCalls sends the filter as a query and masks the phone in errors', async () => {
    const s = await stub();
    s.on('GET', '/calls', { body: [] });
    const c = client(s);
    await c.listCalls({ phoneNumber: PHONE, assistantId: 'CE_1', createdAfter: Date.parse('2025-01-01T00:00:00Z') });
    const q = s.requests[0]!.query;
    expect(q.get('phoneNumber')).toBe(PHONE);
    expect(q.get('assistant_id')).toBe('CE_1');
    expect(q.get('created_after')).toBe('2025-01-01T00:00:00.000Z');
    await c.listCalls({ createdAfter: '2025-02-01T00:00:00Z' });
    expect(s.requests[1]!.query.get('created_after')).toBe('2025-02-01T00:00:00Z');
    await c.listCalls();
    expect(s.requests[2]!.url).toBe('/calls');

    s.on('GET', '/calls', { status: 400, body: { error: `bad filter ${PHONE}` } });
    const err = await apiError(c.listCalls({ phoneNumber: PHONE }), 'API_REJECTED');
    expect(err.path).toBe('/calls?phoneNumber=+614•••••678');
    expect(err.path).not.toContain('412345');
  });

  it('listCalls also filters client-side (the API may ignore the query)', async () => {
    const s = await stub();
    s.on('GET', '/calls', {
      body: {
        data: [
          { id: 'match', phoneNumber: PHONE, assistant_id: 'CE_1', created_at: '2025-01-02T00:00:00Z', status: 'completed' },
          { id: 'other-phone', phoneNumber: '+61499999999', assistant_id: 'CE_1', created_at: '2025-01-02T00:00:00Z' },
          { id: 'other-assistant', phoneNumber: PHONE, assistant_id: 'CE_2', created_at: '2025-01-02T00:00:00Z' },
          { id: 'too-old', phoneNumber: PHONE, assistant_id: 'CE_1', created_at: '2024-12-31T00:00:00Z' },
          { id: 'spaced', to: '+61 412 345 678', assistantId: 'CE_1', createdAt: '2025-01-03T00:00:00Z' },
          { id: 'unknown-fields', status: 'queued' },
        ],
      },
    });
    const calls = await client(s).listCalls({ phoneNumber: PHONE, assistantId: 'CE_1', createdAfter: '2025-01-01T00:00:00Z' });
    expect(calls.map((c) => c.id)).toEqual(['match', 'spaced', 'unknown-fields']);
    expect(await client(s).listCalls()).toHaveLength(6);
  });
});

describe('actions', () => {
  it('every endpoint: method, path, body, auth', async () => {
    const s = await stub();
    s.on('GET', '/actions', { body: { data: [{ id: 'a1', SEND_SMS: { content: 'Link: x', instructions: 'if asked' } }] } })
      .on('GET', '/actions/a1', { body: { id: 'a1', SEND_SMS: { content: 'Link: x', instructions: 'if asked' } } })
      .on('GET', '/actions/missing', { status: 404, body: { error: 'no action' } })
      .on('POST', '/actions', { status: 201, body: { id: 'a2' } })
      .on('PUT', '/actions/a2', { status: 200, body: { id: 'a2', SEND_SMS: { content: 'new', instructions: 'always' } } })
      .on('DELETE', '/actions/a2', { status: 204 })
      .on('POST', '/actions/attach', { body: { ok: true } })
      .on('POST', '/actions/detach', { status: 204 });
    const c = client(s);

    expect(await c.listActions()).toEqual([
      { id: 'a1', content: 'Link: x', instructions: 'if asked', raw: { id: 'a1', SEND_SMS: { content: 'Link: x', instructions: 'if asked' } } },
    ]);
    expect(await c.getAction('a1')).toMatchObject({ id: 'a1', content: 'Link: x', instructions: 'if asked' });
    expect(await c.getAction('missing')).toBeUndefined();
    expect(await c.createAction({ content: 'Book here', instructions: 'when asked' })).toMatchObject({
      id: 'a2',
      content: 'Book here',
      instructions: 'when asked',
    });
    expect(await c.updateAction('a2', { content: 'new', instructions: 'always' })).toMatchObject({ id: 'a2', content: 'new' });
    await expect(c.deleteAction('a2')).resolves.toBeUndefined();
    expect(await c.attachActions('CE_1', ['a1', 'a2'])).toEqual({ ok: true });
    expect(await c.detachActions('CE_1', ['a1'])).toBe('');

    const seen = s.requests.map((r) => [r.method, r.url, r.json]);
    expect(seen).toEqual([
      ['GET', '/actions', undefined],
      ['GET', '/actions/a1', undefined],
      ['GET', '/actions/missing', undefined],
      ['POST', '/actions', { SEND_SMS: { content: 'Book here', instructions: 'when asked' } }],
      ['PUT', '/actions/a2', { SEND_SMS: { content: 'new', instructions: 'always' } }],
      ['DELETE', '/actions/a2', undefined],
      ['POST', '/actions/attach', { assistant_id: 'CE_1', actions: ['a1', 'a2'] }],
      ['POST', '/actions/detach', { assistant_id: 'CE_1', actions: ['a1'] }],
    ]);
    for (const r of s.requests) expect(r.headers.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it('createAction without an id in the answer → API_BAD_RESPONSE; not retried on 5xx', async () => {
    const s = await stub();
    s.on('POST', '/actions', { status: 201, body: { ok: true } });
    const c = client(s, { retries: 2 });
    const err = await apiError(c.createAction({ content: 'c', instructions: 'i' }), 'API_BAD_RESPONSE');
    expect(err.maybeSent).toBe(true);
    s.on('POST', '/actions', { status: 502 });
    await apiError(c.createAction({ content: 'c', instructions: 'i' }), 'API_SERVER_ERROR');
    expect(s.count('POST', '/actions')).toBe(2);
  });

  it('updateAction with an empty 2xx echoes the request; unknown id → API_NOT_FOUND', async () => {
    const s = await stub();
    s.on('PUT', '/actions/a9', { status: 204 }).on('PUT', '/actions/zz', { status: 404, body: { message: 'unknown action' } });
    const c = client(s);
    expect(await c.updateAction('a9', { content: 'c', instructions: 'i' })).toEqual({ id: 'a9', content: 'c', instructions: 'i', raw: {} });
    const err = await apiError(c.updateAction('zz', { content: 'c', instructions: 'i' }), 'API_NOT_FOUND');
    expect(err.message).toBe('PUT /actions/zz → 404: unknown action');
    expect(err.maybeSent).toBe(false);
  });

  it('deleteAction: 404 → API_NOT_FOUND, but a 404 after a retry means the first attempt deleted it', async () => {
    const s = await stub();
    s.on('DELETE', '/actions/gone', { status: 404 });
    const c = client(s, { retries: 2 });
    await apiError(c.deleteAction('gone'), 'API_NOT_FOUND');
    s.on('DELETE', '/actions/flaky', [(_r, _res, raw) => raw.socket.destroy(), { status: 404 }]);
    await expect(c.deleteAction('flaky')).resolves.toBeUndefined();
    expect(s.count('DELETE', '/actions/flaky')).toBe(2);
  });

  it('attach to an unknown assistant → API_NOT_FOUND', async () => {
    const s = await stub();
    s.on('POST', '/actions/attach', { status: 404, body: { error: 'unknown assistant' } });
    const err = await apiError(client(s).attachActions('CE_X', ['a1']), 'API_NOT_FOUND');
    expect(err.message).toBe('POST /actions/attach → 404: unknown assistant');
  });
});

describe('onRequest hook', () => {
  it('reports method, masked path, route, status, duration, errorCode', async () => {
    const s = await stub();
    s.on('POST', '/calls', { status: 201, body: { id: 'x' } }).on('GET', '/calls', { status: 422, body: { error: 'bad' } });
    const infos: RequestInfo[] = [];
    const c = client(s, { onRequest: (i) => infos.push(i) });
    await c.createCall(callReq);
    await apiError(c.listCalls({ phoneNumber: PHONE }), 'API_REJECTED');
    c.onRequest = () => {
      throw new Error('broken hook');
    };
    await c.createCall(callReq); // a throwing hook does not break the request
    expect(infos).toHaveLength(2);
    expect(infos[0]).toMatchObject({ method: 'POST', path: '/calls', route: 'POST /calls', status: 201, retries: 0 });
    expect(infos[0]!.errorCode).toBeUndefined();
    expect(infos[0]!.durationMs).toBeGreaterThanOrEqual(0);
    expect(infos[1]).toMatchObject({ method: 'GET', route: 'GET /calls', status: 422, errorCode: 'API_REJECTED' });
    expect(infos[1]!.path).not.toContain('412345');
    expect(JSON.stringify(infos)).not.toContain(API_KEY);
  });
});

describe('https', () => {
  let dir = '';
  let tls: { key: Buffer; cert: Buffer } | undefined;
  beforeAll(() => {
    try {
      dir = mkdtempSync(join(tmpdir(), 'api-tls-'));
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
        { stdio: 'ignore' },
      );
      tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
    } catch {
      tls = undefined;
    }
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('an untrusted certificate → API_UNREACHABLE, maybeSent false, nothing reaches the server', async (ctx) => {
    if (!tls) return ctx.skip();
    const s = await stub(tls);
    s.on('POST', '/calls', { body: { id: 'x' } });
    const err = await apiError(client(s).createCall(callReq), 'API_UNREACHABLE');
    expect(err.maybeSent).toBe(false);
    expect(s.requests).toHaveLength(0);
  });

  it('a caller-supplied agent (trusting the cert) works over https', async (ctx) => {
    if (!tls) return ctx.skip();
    const s = await stub(tls);
    s.on('POST', '/calls', { body: { id: 'tls-1' } });
    const agent = new https.Agent({ ca: tls.cert, minVersion: 'TLSv1.2' });
    cleanups.push(() => agent.destroy());
    expect((await client(s, { agent }).createCall(callReq)).id).toBe('tls-1');
  });
});

// ------------------------------------------------------------------ simulator (src/simulator)

interface SimLike {
  url: string;
  requests: { method: string; path: string; status: number }[];
  setOptions(patch: Record<string, unknown>): void;
  close(): Promise<void>;
}
type StartSimulator = (opts: Record<string, unknown>) => Promise<SimLike>;

/** Loaded by a computed specifier so this file neither type-checks against nor requires the simulator. */
async function loadSimulator(): Promise<StartSimulator | undefined> {
  const spec = ['..', 'src', 'simulator', 'index.js'].join('/');
  try {
    const mod = (await import(/* @vite-ignore */ spec)) as { startSimulator?: unknown };
    return typeof mod.startSimulator === 'function' ? (mod.startSimulator as StartSimulator) : undefined;
  } catch {
    return undefined;
  }
}

describe('against the Callease simulator', () => {
  let start: StartSimulator | undefined;
  beforeAll(async () => {
    start = await loadSimulator();
  });

  async function sim(opts: Record<string, unknown>): Promise<SimLike> {
    const s = await start!({ apiKey: API_KEY, seed: 7, callDurationMs: { min: 60_000, max: 60_000 }, ...opts });
    cleanups.push(() => s.close());
    return s;
  }

  it.for<[string, string]>([
    ['object', 'id'],
    ['array', 'call_id'],
    ['envelope', 'callId'],
    ['envelope', 'data'],
  ])('getShape %s / createShape %s: create, get, list filtered', async ([getShape, createShape], ctx) => {
    if (!start) return ctx.skip();
    const s = await sim({ getShape, createShape });
    const c = client(s.url);
    const before = Date.now() - 1;
    const created = await c.createCall(callReq);
    expect(created.id).toMatch(/.+/);
    const got = await c.getCall(created.id!);
    expect(got).toMatchObject({ id: created.id, phoneNumber: PHONE });
    expect(['queued', 'ringing', 'in-progress']).toContain(got!.status);
    await c.createCall({ ...callReq, phoneNumber: '+61499999999' });
    const listed = await c.listCalls({ phoneNumber: PHONE, assistantId: callReq.assistant_id, createdAfter: before });
    expect(listed.map((x) => x.id)).toEqual([created.id]);
    expect(await c.getCall('no-such-call')).toBeUndefined();
  });

  it('wrong key → API_UNAUTHORIZED; a dropped create is found again by listCalls', async (ctx) => {
    if (!start) return ctx.skip();
    const s = await sim({});
    const bad = new CalleaseClient({ baseUrl: s.url, apiKey: 'sk_wrong_key_0000' });
    cleanups.push(() => bad.close());
    await apiError(bad.createCall(callReq), 'API_UNAUTHORIZED');

    s.setOptions({ faults: { dropAfterCreateRate: 1 } });
    const c = client(s.url);
    const before = Date.now() - 1;
    const err = await apiError(c.createCall(callReq), 'API_CONNECTION_LOST');
    expect(err.maybeSent).toBe(true);
    s.setOptions({ faults: {} });
    const found = await c.listCalls({ phoneNumber: PHONE, createdAfter: before });
    expect(found).toHaveLength(1);
    expect(s.requests.filter((r) => r.method === 'POST').length).toBe(2);
  });

  it('actions round trip', async (ctx) => {
    if (!start) return ctx.skip();
    const s = await sim({});
    const c = client(s.url);
    const a = await c.createAction({ content: 'Book: https://cal/x', instructions: 'if the caller asks' });
    expect(a).toMatchObject({ content: 'Book: https://cal/x', instructions: 'if the caller asks' });
    expect((await c.listActions()).map((x) => x.id)).toContain(a.id);
    expect(await c.getAction(a.id)).toMatchObject({ id: a.id, content: 'Book: https://cal/x' });
    expect(await c.updateAction(a.id, { content: 'new', instructions: 'always' })).toMatchObject({ id: a.id, content: 'new' });
    await c.attachActions(callReq.assistant_id, [a.id]);
    await c.detachActions(callReq.assistant_id, [a.id]);
    await c.deleteAction(a.id);
    expect(await c.getAction(a.id)).toBeUndefined();
  });
});

describe('no secrets anywhere', () => {
  it('every error produced above was checked', () => {
    expect(seenErrors.length).toBeGreaterThan(30);
    for (const e of seenErrors) assertNoSecrets(e);
  });
});
