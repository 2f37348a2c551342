/**
 * The Callease API client (got 14).
 *
 * - Bearer auth on every request; the key never reaches an error, a cause or a log.
 * - POST /calls is never retried here (no idempotency key: a repeat is a second
 *   real phone call); retries belong to the queue, guided by `maybeSent`.
 * - Reads and idempotent action requests get a small got retry on network errors/5xx.
 * - Every failure is an ApiError with status, parsed body, method, path, maybeSent.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { performance } from 'node:perf_hooks';
import got, { type Got, type Response, type RetryOptions } from 'got';
import { ApiError, DialerError, type ApiErrorCode } from '../errors.js';
import { classifyStatus, classifyTransportError, describeTransport, type Classification } from './classify.js';
import {
  extractAction,
  extractActions,
  extractCallId,
  extractCalls,
  findCall,
  isObject,
  parseBodyText,
  parseRetryAfter,
  serverMessage,
  type ParsedBody,
} from './parse.js';
import { maskPhones, safePath, scrubDeep, scrubSecrets, truncate, validateBaseUrl } from './safety.js';
import type {
  CallDetails,
  CalleaseClientOptions,
  CreateCallRequest,
  CreateCallResult,
  ListCallsFilter,
  RequestInfo,
  RequestOptions,
  SmsAction,
} from './types.js';
import { packageVersion } from './version.js';
import { batchPath, resolveCallsBatch, type CallsBatch } from './batch.js';

export type {
  CallDetails,
  CalleaseClientOptions,
  CreateCallRequest,
  CreateCallResult,
  CustomVariable,
  ListCallsFilter,
  RequestInfo,
  RequestOptions,
  SmsAction,
} from './types.js';
export { extractCallId, extractCalls, findCall, extractActions, normalizeStatus, parseRetryAfter } from './parse.js';
export { classifyTransportError, classifyStatus } from './classify.js';
export { isLoopbackHost } from './safety.js';

export const DEFAULT_TIMEOUT_MS = 15_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_GET_CALL_PATH = '/calls?id={id}';
const MAX_BODY_IN_ERROR = 2_000;
const RETRY_STATUS_CODES = [500, 502, 503, 504, 521, 522, 524];
const NETWORK_ERROR_CODES = ['ETIMEDOUT', 'ECONNRESET', 'EADDRINUSE', 'ECONNREFUSED', 'EPIPE', 'ENOTFOUND', 'ENETUNREACH', 'EAI_AGAIN'];

/**
 * - `none`: never retried (POST /calls).
 * - `not-sent`: retried only when the request provably never left (POST /actions:
 *   a repeat would create a duplicate action).
 * - `idempotent`: network errors and 5xx (GET, PUT, DELETE, attach/detach).
 */
type RetryPolicy = 'none' | 'not-sent' | 'idempotent';
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

interface Op {
  method: Method;
  /** Path and query relative to the base URL, as sent. */
  path: string;
  route: string;
  json?: unknown;
  retry: RetryPolicy;
  signal?: AbortSignal;
  /** Phone numbers of this request, masked out of messages. */
  phones?: string[];
  /** Hand a 404 to `interpret` instead of throwing. */
  notFoundOk?: boolean;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  statusMessage?: string;
  text: string;
  parsed: ParsedBody;
  retries: number;
}

export class CalleaseClient {
  /** Called after every client request (once, after got's retries) — for metrics/logs. Never sees the key. */
  onRequest?: (info: RequestInfo) => void;

  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly getCallPath: string;
  /** Batched lookups as configured (mode 'off' when not). */
  readonly callsBatch: CallsBatch;

  readonly #apiKey: string;
  readonly #got: Got;
  readonly #ownAgent?: http.Agent;
  readonly #retries: number;
  readonly #retryBaseDelayMs: number;

  constructor(opts: CalleaseClientOptions) {
    const url = validateBaseUrl(opts.baseUrl, { allowInsecureHttp: opts.allowInsecureHttp });
    if (typeof opts.apiKey !== 'string' || opts.apiKey.trim() === '') {
      throw new DialerError('CONFIG_INVALID', 'Callease API key is missing');
    }
    if (/[\r\n\0]/.test(opts.apiKey)) {
      throw new DialerError('CONFIG_INVALID', 'Callease API key contains control characters');
    }
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    for (const [name, v] of [
      ['timeoutMs', timeoutMs],
      ['connectTimeoutMs', connectTimeoutMs],
    ] as const) {
      if (!Number.isFinite(v) || v <= 0) throw new DialerError('CONFIG_INVALID', `${name} must be a positive number of milliseconds`);
    }
    const getCallPath = opts.getCallPath ?? DEFAULT_GET_CALL_PATH;
    if (!getCallPath.startsWith('/') || !getCallPath.includes('{id}')) {
      throw new DialerError('CONFIG_INVALID', `getCallPath must start with '/' and contain '{id}' (got ${JSON.stringify(getCallPath)})`);
    }
    const retries = opts.retries ?? 2;
    if (!Number.isInteger(retries) || retries < 0 || retries > 10) {
      throw new DialerError('CONFIG_INVALID', 'retries must be an integer from 0 to 10');
    }

    this.baseUrl = url.toString().replace(/\/+$/, '');
    this.timeoutMs = timeoutMs;
    this.connectTimeoutMs = connectTimeoutMs;
    this.getCallPath = getCallPath;
    this.callsBatch = resolveCallsBatch(opts.callsBatch);
    this.#apiKey = opts.apiKey;
    this.#retries = retries;
    this.#retryBaseDelayMs = Math.max(0, opts.retryBaseDelayMs ?? 250);
    this.onRequest = opts.onRequest;

    const isHttps = url.protocol === 'https:';
    let agent = opts.agent;
    if (!agent) {
      agent = isHttps ? new https.Agent({ minVersion: 'TLSv1.2', keepAlive: true }) : new http.Agent({ keepAlive: true });
      this.#ownAgent = agent;
    }

    this.#got = got.extend({
      headers: {
        authorization: `Bearer ${opts.apiKey}`,
        'user-agent': opts.userAgent ?? `callease-dialer/${packageVersion()}`,
        accept: 'application/json',
      },
      agent: isHttps ? { https: agent as https.Agent } : { http: agent },
      timeout: {
        lookup: connectTimeoutMs,
        connect: connectTimeoutMs,
        secureConnect: connectTimeoutMs,
        send: timeoutMs,
        response: timeoutMs,
        read: timeoutMs,
      },
      http2: false,
      followRedirect: false,
      throwHttpErrors: false,
      responseType: 'text',
      retry: { limit: 0 },
    });
  }

  /** Destroys the keep-alive agent this client created (not one passed in). */
  close(): void {
    this.#ownAgent?.destroy();
  }

  // ------------------------------------------------------------------ calls

  /** POST /calls. Never retried. A 2xx without an id resolves with `id: undefined`. */
  async createCall(req: CreateCallRequest, opts: RequestOptions = {}): Promise<CreateCallResult> {
    // Data minimisation: exactly the documented fields, nothing the caller's object happens to carry.
    const body = {
      assistant_id: req.assistant_id,
      name: req.name,
      phoneNumber: req.phoneNumber,
      customVariables: (req.customVariables ?? []).map((v) => ({ key: String(v.key), value: String(v.value) })),
    };
    return this.#request(
      { method: 'POST', path: '/calls', route: 'POST /calls', json: body, retry: 'none', signal: opts.signal, phones: [req.phoneNumber] },
      (a, op): CreateCallResult => {
        if (a.parsed.kind === 'empty') return { id: undefined, body: '' };
        if (a.parsed.kind === 'invalid') throw this.#badResponse(op, a, 'response body is not JSON');
        return { id: extractCallId(a.parsed.value), body: a.parsed.value };
      },
    );
  }

  /** GET one call via `getCallPath`. 404, an empty body, or a body without that call → undefined. */
  async getCall(id: string, opts: RequestOptions = {}): Promise<CallDetails | undefined> {
    const path = this.getCallPath.split('{id}').join(encodeURIComponent(id));
    return this.#request(
      { method: 'GET', path, route: `GET ${this.getCallPath}`, retry: 'idempotent', signal: opts.signal, notFoundOk: true },
      (a, op) => {
        if (a.status === 404 || a.parsed.kind === 'empty') return undefined;
        if (a.parsed.kind === 'invalid') throw this.#badResponse(op, a, 'response body is not JSON');
        return findCall(a.parsed.value, id);
      },
    );
  }

  /**
   * One batched lookup (`callsBatch`): the calls the answer carries, whichever
   * they are (the caller matches them by id). 404 or an empty body → none.
   * `earliestMs`: when the earliest of these calls was placed (list mode).
   */
  async getCalls(ids: readonly string[], earliestMs: number, opts: RequestOptions = {}): Promise<CallDetails[]> {
    const b = this.callsBatch;
    if (b.mode === 'off') throw new DialerError('CONFIG_INVALID', 'batched call lookups are not configured (CALLEASE_CALLS_BATCH)');
    return this.#request(
      { method: 'GET', path: batchPath(b, ids, earliestMs), route: `GET ${b.path}`, retry: 'idempotent', signal: opts.signal, notFoundOk: true },
      (a, op) => {
        if (a.status === 404 || a.parsed.kind === 'empty') return [];
        if (a.parsed.kind === 'invalid') throw this.#badResponse(op, a, 'response body is not JSON');
        return extractCalls(a.parsed.value);
      },
    );
  }

  /**
   * GET /calls?phoneNumber=..&assistant_id=..&created_after=.. and the same
   * filter applied client-side (the API may ignore the query). A call lacking
   * a filtered field is kept: better a false "maybe placed" than a second call.
   */
  async listCalls(filter: ListCallsFilter = {}, opts: RequestOptions = {}): Promise<CallDetails[]> {
    const q = new URLSearchParams();
    if (filter.phoneNumber) q.set('phoneNumber', filter.phoneNumber);
    if (filter.assistantId) q.set('assistant_id', filter.assistantId);
    const after = createdAfterMs(filter.createdAfter);
    if (filter.createdAfter !== undefined && filter.createdAfter !== '') {
      q.set('created_after', typeof filter.createdAfter === 'number' ? new Date(filter.createdAfter).toISOString() : filter.createdAfter);
    }
    const qs = q.toString();
    return this.#request(
      {
        method: 'GET',
        path: qs ? `/calls?${qs}` : '/calls',
        route: 'GET /calls',
        retry: 'idempotent',
        signal: opts.signal,
        phones: filter.phoneNumber ? [filter.phoneNumber] : [],
      },
      (a, op) => {
        if (a.parsed.kind === 'empty') return [];
        if (a.parsed.kind === 'invalid') throw this.#badResponse(op, a, 'response body is not JSON');
        return extractCalls(a.parsed.value).filter((c) => matchesFilter(c, filter, after));
      },
    );
  }

  // ---------------------------------------------------------------- actions

  async listActions(opts: RequestOptions = {}): Promise<SmsAction[]> {
    return this.#request({ method: 'GET', path: '/actions', route: 'GET /actions', retry: 'idempotent', signal: opts.signal }, (a, op) => {
      if (a.parsed.kind === 'empty') return [];
      if (a.parsed.kind === 'invalid') throw this.#badResponse(op, a, 'response body is not JSON');
      return extractActions(a.parsed.value);
    });
  }

  /** GET /actions/{id}; 404 → undefined. */
  async getAction(id: string, opts: RequestOptions = {}): Promise<SmsAction | undefined> {
    return this.#request(
      {
        method: 'GET',
        path: `/actions/${encodeURIComponent(id)}`,
        route: 'GET /actions/{id}',
        retry: 'idempotent',
        signal: opts.signal,
        notFoundOk: true,
      },
      (a, op) => {
        if (a.status === 404 || a.parsed.kind === 'empty') return undefined;
        if (a.parsed.kind === 'invalid') throw this.#badResponse(op, a, 'response body is not JSON');
        return extractAction(a.parsed.value, { id });
      },
    );
  }

  /** POST /actions {SEND_SMS:{content, instructions}}. Retried only when it provably never left. */
  async createAction(action: { content: string; instructions: string }, opts: RequestOptions = {}): Promise<SmsAction> {
    const fields = { content: action.content, instructions: action.instructions };
    return this.#request(
      { method: 'POST', path: '/actions', route: 'POST /actions', json: { SEND_SMS: fields }, retry: 'not-sent', signal: opts.signal },
      (a, op) => {
        if (a.parsed.kind === 'invalid') throw this.#badResponse(op, a, 'response body is not JSON');
        const found = a.parsed.kind === 'json' ? extractAction(a.parsed.value, fields) : undefined;
        if (!found) throw this.#badResponse(op, a, 'the action was created but the response carries no action id');
        return found;
      },
    );
  }

  /** PUT /actions/{id} {SEND_SMS:{content, instructions}}. An empty 2xx echoes the request. */
  async updateAction(id: string, action: { content: string; instructions: string }, opts: RequestOptions = {}): Promise<SmsAction> {
    const fields = { content: action.content, instructions: action.instructions };
    return this.#request(
      {
        method: 'PUT',
        path: `/actions/${encodeURIComponent(id)}`,
        route: 'PUT /actions/{id}',
        json: { SEND_SMS: fields },
        retry: 'idempotent',
        signal: opts.signal,
      },
      (a, op) => {
        if (a.parsed.kind === 'invalid') throw this.#badResponse(op, a, 'response body is not JSON');
        const found = a.parsed.kind === 'json' ? extractAction(a.parsed.value, { id, ...fields }) : undefined;
        return found ?? { id, ...fields, raw: a.parsed.kind === 'json' && isObject(a.parsed.value) ? a.parsed.value : {} };
      },
    );
  }

  /** DELETE /actions/{id}. A 404 after a got retry counts as done (the first attempt deleted it). */
  async deleteAction(id: string, opts: RequestOptions = {}): Promise<void> {
    await this.#request(
      {
        method: 'DELETE',
        path: `/actions/${encodeURIComponent(id)}`,
        route: 'DELETE /actions/{id}',
        retry: 'idempotent',
        signal: opts.signal,
        notFoundOk: true,
      },
      (a, op) => {
        if (a.status === 404 && a.retries === 0) throw this.#httpError(op, a);
      },
    );
  }

  /** POST /actions/attach {assistant_id, actions:[...]}; resolves with the parsed body ('' when empty). */
  async attachActions(assistantId: string, actionIds: string[], opts: RequestOptions = {}): Promise<unknown> {
    return this.#assign('attach', assistantId, actionIds, opts);
  }

  /** POST /actions/detach {assistant_id, actions:[...]}. */
  async detachActions(assistantId: string, actionIds: string[], opts: RequestOptions = {}): Promise<unknown> {
    return this.#assign('detach', assistantId, actionIds, opts);
  }

  async #assign(kind: 'attach' | 'detach', assistantId: string, actionIds: string[], opts: RequestOptions): Promise<unknown> {
    return this.#request(
      {
        method: 'POST',
        path: `/actions/${kind}`,
        route: `POST /actions/${kind}`,
        json: { assistant_id: assistantId, actions: [...actionIds] },
        retry: 'idempotent',
        signal: opts.signal,
      },
      (a) => (a.parsed.kind === 'json' ? a.parsed.value : a.parsed.kind === 'invalid' ? truncate(a.text, MAX_BODY_IN_ERROR) : ''),
    );
  }

  // ------------------------------------------------------------------ core

  async #request<T>(op: Op, interpret: (a: Answer, op: Op) => T): Promise<T> {
    const started = performance.now();
    const displayPath = safePath(op.path);
    let status: number | undefined;
    let errorCode: ApiErrorCode | undefined;
    let retries = 0;
    try {
      let res: Response<string>;
      try {
        res = await this.#got<string>(this.baseUrl + op.path, {
          method: op.method,
          ...(op.json !== undefined ? { json: op.json } : {}),
          ...(op.signal ? { signal: op.signal } : {}),
          retry: this.#retryOptions(op),
        });
      } catch (err) {
        retries = retryCountOf(err);
        throw this.#transportError(op, err);
      }
      status = res.statusCode;
      retries = res.retryCount ?? 0;
      const text = scrubSecrets(typeof res.body === 'string' ? res.body : '', [this.#apiKey]);
      const a: Answer = {
        status,
        headers: res.headers,
        statusMessage: res.statusMessage,
        text,
        parsed: parseBodyText(text),
        retries,
      };
      if (!(status >= 200 && status < 300) && !(status === 404 && op.notFoundOk)) throw this.#httpError(op, a);
      return interpret(a, op);
    } catch (err) {
      if (err instanceof ApiError) errorCode = err.code;
      throw err;
    } finally {
      const hook = this.onRequest;
      if (hook) {
        const info: RequestInfo = {
          method: op.method,
          path: displayPath,
          route: op.route,
          durationMs: Math.round((performance.now() - started) * 10) / 10,
          retries,
          ...(status !== undefined ? { status } : {}),
          ...(errorCode !== undefined ? { errorCode } : {}),
        };
        try {
          hook(info);
        } catch {
          // A metrics hook must never break a request.
        }
      }
    }
  }

  #retryOptions(op: Op): Partial<RetryOptions> {
    if (op.retry === 'none' || this.#retries === 0) return { limit: 0 };
    const policy = op.retry;
    const base = this.#retryBaseDelayMs;
    return {
      limit: this.#retries,
      methods: [op.method],
      statusCodes: policy === 'idempotent' ? RETRY_STATUS_CODES : [],
      errorCodes: NETWORK_ERROR_CODES,
      maxRetryAfter: 5_000,
      enforceRetryRules: true,
      noise: 0,
      calculateDelay: ({ attemptCount, error, retryAfter, computedValue }) => {
        if (!computedValue) return 0;
        if (op.signal?.aborted) return 0;
        if (policy === 'not-sent' && (error.response || classifyTransportError(error).maybeSent)) return 0;
        if (error.response && retryAfter) return computedValue;
        return Math.min(2_000, base * 2 ** (attemptCount - 1)) + Math.random() * Math.min(50, base);
      },
    };
  }

  #messagePath(op: Op): string {
    return `${op.method} ${safePath(op.path)}`;
  }

  #bodyForError(a: Answer): unknown {
    if (a.parsed.kind === 'json') return scrubDeep(a.parsed.value, [this.#apiKey]);
    if (a.parsed.kind === 'invalid') return truncate(a.text, MAX_BODY_IN_ERROR);
    return a.text === '' ? undefined : a.text;
  }

  #httpError(op: Op, a: Answer): ApiError {
    const c = classifyStatus(a.status);
    const retryAfterMs = a.status === 429 || a.status >= 500 ? parseRetryAfter(a.headers['retry-after']) : undefined;
    const why = serverMessage(a.parsed) ?? (a.statusMessage || undefined);
    let message = `${this.#messagePath(op)} → ${a.status}`;
    if (why) message += `: ${maskPhones(scrubSecrets(why, [this.#apiKey]), op.phones)}`;
    if (retryAfterMs !== undefined) message += ` (retry after ${Math.ceil(retryAfterMs / 1000)}s)`;
    return new ApiError(c.code, message, {
      method: op.method,
      path: safePath(op.path),
      status: a.status,
      body: this.#bodyForError(a),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      maybeSent: c.maybeSent,
    });
  }

  #badResponse(op: Op, a: Answer, what: string): ApiError {
    return new ApiError('API_BAD_RESPONSE', `${this.#messagePath(op)} → ${a.status}: ${what}`, {
      method: op.method,
      path: safePath(op.path),
      status: a.status,
      body: this.#bodyForError(a),
      maybeSent: true,
    });
  }

  #transportError(op: Op, err: unknown): ApiError {
    const c: Classification = op.signal?.aborted ? { code: 'API_ABORTED', maybeSent: true } : classifyTransportError(err);
    const what = describeTransport(c, err, { timeoutMs: this.timeoutMs, connectTimeoutMs: this.connectTimeoutMs });
    return new ApiError(c.code, `${this.#messagePath(op)}: ${what}`, {
      method: op.method,
      path: safePath(op.path),
      maybeSent: c.maybeSent,
      cause: this.#safeCause(err, op),
    });
  }

  /**
   * A stand-in for got's error: only its code (and timeout event) and a scrubbed
   * message. got's own error objects carry `options.headers` (the key) and are
   * never attached.
   */
  #safeCause(err: unknown, op: Op): Error {
    const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; message?: unknown; event?: unknown; name?: unknown };
    let msg = typeof e.message === 'string' ? e.message : String(err);
    msg = scrubSecrets(msg, [this.#apiKey]).replace(/\?[^\s'"]*/g, '?…');
    msg = maskPhones(truncate(msg, 300), op.phones);
    const cause = new Error(msg) as Error & { code?: string; event?: string };
    if (typeof e.name === 'string') cause.name = e.name;
    if (typeof e.code === 'string') cause.code = e.code;
    if (typeof e.event === 'string') cause.event = e.event;
    return cause;
  }
}

function retryCountOf(err: unknown): number {
  const req = (err as { request?: { retryCount?: unknown } } | null)?.request;
  return typeof req?.retryCount === 'number' ? req.retryCount : 0;
}

function createdAfterMs(v: string | number | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const ms = typeof v === 'number' ? v : Date.parse(v);
  return Number.isFinite(ms) ? ms : undefined;
}

function phoneDigits(p: string): string {
  return p.replace(/\D/g, '');
}

function matchesFilter(c: CallDetails, f: ListCallsFilter, afterMs: number | undefined): boolean {
  if (f.phoneNumber && c.phoneNumber !== undefined && phoneDigits(c.phoneNumber) !== phoneDigits(f.phoneNumber)) return false;
  if (f.assistantId && c.assistantId !== undefined && c.assistantId !== f.assistantId) return false;
  if (afterMs !== undefined && c.createdAt !== undefined) {
    const created = Date.parse(c.createdAt);
    if (Number.isFinite(created) && created < afterMs) return false;
  }
  return true;
}
