/**
 * Tolerant readers for what the Callease reference leaves unsaid: where the id
 * of a new call is, how GET /calls wraps its answer, and what the detail
 * fields are called. Nothing here throws on a surprising shape.
 */
import type { CallDetails, SmsAction } from './types.js';

type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Result of reading a response body as JSON. `empty` for '' or whitespace only. */
export type ParsedBody =
  | { kind: 'empty' }
  | { kind: 'json'; value: unknown }
  | { kind: 'invalid'; text: string };

export function parseBodyText(text: string | undefined): ParsedBody {
  if (text === undefined) return { kind: 'empty' };
  // Strip a UTF-8 BOM some servers prepend.
  const t = text.replace(/^\uFEFF/, '').trim();
  if (t === '') return { kind: 'empty' };
  try {
    return { kind: 'json', value: JSON.parse(t) as unknown };
  } catch {
    return { kind: 'invalid', text };
  }
}

/** A string or finite number as a non-empty string; anything else undefined. */
export function idString(v: unknown): string | undefined {
  if (typeof v === 'string') {
    const s = v.trim();
    return s === '' ? undefined : s;
  }
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'bigint') return v.toString();
  return undefined;
}

const CALL_ID_KEYS = ['id', 'call_id', 'callId'] as const;

function ownId(o: Obj): string | undefined {
  for (const k of CALL_ID_KEYS) {
    const id = idString(o[k]);
    if (id !== undefined) return id;
  }
  return undefined;
}

/**
 * The id of a new call from a POST /calls body: `id` | `call_id` | `callId`,
 * or nested under `data` (`data` itself a string/number, or data.id /
 * data.call_id / data.callId), or under `call`. Strings or numbers → string.
 */
export function extractCallId(body: unknown): string | undefined {
  return callIdIn(body, 0);
}

function callIdIn(body: unknown, depth: number): string | undefined {
  if (depth > 3) return undefined;
  if (typeof body === 'string') {
    // A body that is a JSON document in a string (double-encoded) or a bare id.
    const parsed = parseBodyText(body);
    if (parsed.kind === 'json' && parsed.value !== body) return callIdIn(parsed.value, depth + 1);
    return undefined;
  }
  if (Array.isArray(body)) return body.length === 1 ? callIdIn(body[0], depth + 1) : undefined;
  if (!isObject(body)) return undefined;
  const own = ownId(body);
  if (own !== undefined) return own;
  for (const k of ['data', 'call', 'result']) {
    const inner = body[k];
    const direct = depth === 0 ? idString(inner) : undefined;
    if (direct !== undefined) return direct;
    const nested = callIdIn(inner, depth + 1);
    if (nested !== undefined) return nested;
  }
  return undefined;
}

/** 'in_progress' → 'in-progress', 'No Answer' → 'no-answer'; missing → 'unknown'. */
export function normalizeStatus(v: unknown): string {
  const s = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
  const out = s.trim().toLowerCase().replace(/[_\s]+/g, '-');
  return out === '' ? 'unknown' : out;
}

function pick(o: Obj, keys: readonly string[]): unknown {
  for (const k of keys) {
    const v = o[k];
    if (v !== undefined && v !== null && v !== '') return v;
  }
  return undefined;
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v.trim().replace(/^\$/, ''));
    return Number.isFinite(n) ? n : undefined;
  }
  if (isObject(v)) return num(pick(v, ['total', 'amount', 'value']));
  return undefined;
}

/** ISO strings kept as they are; epoch numbers (seconds or milliseconds) → ISO. */
function time(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) {
    const ms = v < 1e12 ? v * 1000 : v;
    const d = new Date(ms);
    return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
  }
  return undefined;
}

/** A transcript as text: a string, or an array of turns {role, content|message|text}. */
function transcript(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (Array.isArray(v)) {
    const lines = v
      .map((turn) => {
        if (typeof turn === 'string') return turn;
        if (!isObject(turn)) return undefined;
        const text = str(pick(turn, ['content', 'message', 'text']));
        if (text === undefined) return undefined;
        const role = str(pick(turn, ['role', 'speaker']));
        return role ? `${role}: ${text}` : text;
      })
      .filter((l): l is string => l !== undefined);
    return lines.length ? lines.join('\n') : undefined;
  }
  return undefined;
}

/** One call object → CallDetails; undefined when it has no id (and none is supplied). */
export function toCallDetails(o: Obj, fallbackId?: string): CallDetails | undefined {
  const id = ownId(o) ?? fallbackId;
  if (id === undefined) return undefined;
  const d: CallDetails = { id, status: normalizeStatus(pick(o, ['status', 'call_status', 'callStatus', 'state'])), raw: o };
  const set = <K extends keyof CallDetails>(k: K, v: CallDetails[K] | undefined): void => {
    if (v !== undefined) d[k] = v;
  };
  set('phoneNumber', str(pick(o, ['phoneNumber', 'phone_number', 'to'])));
  set('assistantId', str(pick(o, ['assistant_id', 'assistantId'])));
  set('createdAt', time(pick(o, ['created_at', 'createdAt'])));
  set('startedAt', time(pick(o, ['started_at', 'startedAt'])));
  set('endedAt', time(pick(o, ['ended_at', 'endedAt'])));
  set('durationSeconds', num(pick(o, ['duration', 'duration_seconds', 'durationSeconds'])));
  set('endedReason', str(pick(o, ['ended_reason', 'endedReason', 'end_reason'])));
  set('summary', str(pick(o, ['summary'])));
  set('transcript', transcript(pick(o, ['transcript'])));
  set('recordingUrl', str(pick(o, ['recording_url', 'recordingUrl'])));
  set('cost', num(pick(o, ['cost'])));
  return d;
}

const LIST_KEYS = ['data', 'calls', 'results', 'items'] as const;
const ONE_KEYS = ['data', 'call', 'result'] as const;

/**
 * Every call in a GET /calls body: one object, an array, or an envelope
 * ({data:[...]}, {calls:[...]}, {data:{...}}, {data:{calls:[...]}}). Entries
 * without an id are skipped.
 */
export function extractCalls(body: unknown): CallDetails[] {
  const out: CallDetails[] = [];
  collectCalls(body, out, 0);
  return out;
}

function collectCalls(node: unknown, out: CallDetails[], depth: number): void {
  if (depth > 4) return;
  if (typeof node === 'string' && depth === 0) {
    const parsed = parseBodyText(node);
    if (parsed.kind === 'json' && typeof parsed.value !== 'string') collectCalls(parsed.value, out, depth + 1);
    return;
  }
  if (Array.isArray(node)) {
    for (const item of node) if (isObject(item)) collectCalls(item, out, depth + 1);
    return;
  }
  if (!isObject(node)) return;
  // An envelope holding a list wins over anything else at this level.
  for (const k of LIST_KEYS) {
    if (Array.isArray(node[k])) {
      collectCalls(node[k], out, depth + 1);
      return;
    }
  }
  const call = toCallDetails(node);
  if (call) {
    out.push(call);
    return;
  }
  for (const k of ONE_KEYS) {
    if (isObject(node[k])) {
      collectCalls(node[k], out, depth + 1);
      return;
    }
  }
}

/**
 * The call with this id in a GET /calls body. When the body is a single call
 * object that carries no id at all (the server answered "the" call it was
 * asked for), it is taken as that call.
 */
export function findCall(body: unknown, id: string): CallDetails | undefined {
  const calls = extractCalls(body);
  const hit = calls.find((c) => c.id === id);
  if (hit) return hit;
  if (calls.length > 0) return undefined;
  const single = singleIdlessCall(body);
  return single ? toCallDetails(single, id) : undefined;
}

function singleIdlessCall(body: unknown): Obj | undefined {
  let node: unknown = body;
  if (typeof node === 'string') {
    const parsed = parseBodyText(node);
    node = parsed.kind === 'json' ? parsed.value : undefined;
  }
  for (let i = 0; i < 3 && isObject(node); i++) {
    if (pick(node, ['status', 'call_status', 'callStatus', 'state']) !== undefined) return node;
    const inner = ONE_KEYS.map((k) => (node as Obj)[k]).find(isObject);
    node = inner;
  }
  return undefined;
}

// ---------------------------------------------------------------- actions

const ACTION_ID_KEYS = ['id', 'action_id', 'actionId', '_id'] as const;
const ACTION_LIST_KEYS = ['data', 'actions', 'results', 'items'] as const;

/** One action object → SmsAction; content/instructions at top level or under SEND_SMS. */
export function toSmsAction(o: Obj, fallback?: { id?: string; content?: string; instructions?: string }): SmsAction | undefined {
  let id: string | undefined;
  for (const k of ACTION_ID_KEYS) {
    id = idString(o[k]);
    if (id !== undefined) break;
  }
  id ??= fallback?.id;
  if (id === undefined) return undefined;
  const sms = [o['SEND_SMS'], o['send_sms'], o['sendSms'], o['sms'], o['params'], o['config']].find(isObject);
  const from = (k: string): string | undefined => str(o[k]) ?? (sms ? str(sms[k]) : undefined);
  return {
    id,
    content: from('content') ?? from('message') ?? fallback?.content ?? '',
    instructions: from('instructions') ?? from('instruction') ?? fallback?.instructions ?? '',
    raw: o,
  };
}

/** Every action in a GET /actions body (array, or envelope {data|actions:[...]}); id-less entries skipped. */
export function extractActions(body: unknown): SmsAction[] {
  const out: SmsAction[] = [];
  const visit = (node: unknown, depth: number): void => {
    if (depth > 4) return;
    if (Array.isArray(node)) {
      for (const item of node) if (isObject(item)) visit(item, depth + 1);
      return;
    }
    if (!isObject(node)) return;
    for (const k of ACTION_LIST_KEYS) {
      if (Array.isArray(node[k])) return visit(node[k], depth + 1);
    }
    const a = toSmsAction(node);
    if (a) {
      out.push(a);
      return;
    }
    for (const k of ['data', 'action', 'result']) {
      if (isObject(node[k])) return visit(node[k], depth + 1);
    }
  };
  visit(body, 0);
  return out;
}

/** The single action in a body answering GET/POST/PUT /actions[/{id}]. */
export function extractAction(
  body: unknown,
  fallback?: { id?: string; content?: string; instructions?: string },
): SmsAction | undefined {
  const all = extractActions(body);
  if (fallback?.id !== undefined) {
    const hit = all.find((a) => a.id === fallback.id);
    if (hit) {
      return {
        ...hit,
        content: hit.content || (fallback.content ?? ''),
        instructions: hit.instructions || (fallback.instructions ?? ''),
      };
    }
  }
  if (all.length === 1) {
    const one = all[0]!;
    return {
      ...one,
      content: one.content || (fallback?.content ?? ''),
      instructions: one.instructions || (fallback?.instructions ?? ''),
    };
  }
  if (all.length > 1) return undefined;
  // No id anywhere: the caller may know it (PUT/GET by id).
  let node: unknown = body;
  for (let i = 0; i < 3 && isObject(node); i++) {
    const a = toSmsAction(node, fallback);
    if (a && fallback?.id !== undefined) return a;
    node = ['data', 'action', 'result'].map((k) => (node as Obj)[k]).find(isObject);
  }
  return undefined;
}

// ---------------------------------------------------------------- errors

/**
 * The server's own explanation in an error body: `error` (string or
 * {message}), `message`, `detail`, `error_description`, `errors[0]`.
 * Plain-text bodies are used when short and not HTML. Truncated to `max`.
 */
export function serverMessage(parsed: ParsedBody, max = 200): string | undefined {
  let msg: string | undefined;
  if (parsed.kind === 'json') msg = messageIn(parsed.value, 0);
  else if (parsed.kind === 'invalid') {
    const t = parsed.text.trim();
    if (t !== '' && !t.startsWith('<')) msg = t;
  }
  if (msg === undefined) return undefined;
  msg = msg.replace(/\s+/g, ' ').trim();
  if (msg === '') return undefined;
  return msg.length > max ? `${msg.slice(0, max - 1)}…` : msg;
}

function messageIn(v: unknown, depth: number): string | undefined {
  if (depth > 3) return undefined;
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const parts = v.map((x) => messageIn(x, depth + 1)).filter((x): x is string => !!x);
    return parts.length ? parts.join('; ') : undefined;
  }
  if (!isObject(v)) return undefined;
  for (const k of ['error', 'message', 'detail', 'error_description', 'errors', 'msg', 'description']) {
    const m = messageIn(v[k], depth + 1);
    if (m) return m;
  }
  return undefined;
}

/**
 * `Retry-After` → milliseconds: delta-seconds, or an HTTP date (difference
 * from `now`, at least 0). Undefined when absent or unreadable.
 */
export function parseRetryAfter(header: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const h = Array.isArray(header) ? header[0] : header;
  if (h === undefined) return undefined;
  const t = h.trim();
  if (t === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  if (/^-\d/.test(t)) return 0;
  const at = Date.parse(t);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
