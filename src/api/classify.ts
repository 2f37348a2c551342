/**
 * Pure mapping of HTTP statuses and transport failures onto ApiError codes.
 * The key question for a dialer is `maybeSent`: could the server have placed
 * the call? Only failures that provably happen before the request leaves
 * (DNS, refused, connect/TLS) say no.
 */
import type { ApiErrorCode } from '../errors.js';

export interface Classification {
  code: ApiErrorCode;
  maybeSent: boolean;
}

/** Non-2xx status → code; maybeSent only when the server answered 5xx. */
export function classifyStatus(status: number): Classification {
  let code: ApiErrorCode;
  if (status === 400 || status === 422) code = 'API_REJECTED';
  else if (status === 401 || status === 403) code = 'API_UNAUTHORIZED';
  else if (status === 404) code = 'API_NOT_FOUND';
  else if (status === 429) code = 'API_RATE_LIMITED';
  else if (status >= 500 && status <= 599) code = 'API_SERVER_ERROR';
  else code = 'API_HTTP_ERROR';
  return { code, maybeSent: status >= 500 };
}

/** Timeouts in these phases end before a byte of the request was written. */
const PRE_SEND_TIMEOUT_EVENTS = new Set(['lookup', 'connect', 'secureConnect']);

const UNREACHABLE_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NONAME',
  'ECONNREFUSED',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'EPROTO',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'HOSTNAME_MISMATCH',
]);

const LOST_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_HTTP_PARSER',
  'HPE_INVALID_CONSTANT',
  'HPE_INVALID_CHUNK_SIZE',
  'ERR_GOT_REQUEST_ERROR',
]);

interface ErrLike {
  name?: unknown;
  code?: unknown;
  event?: unknown;
  message?: unknown;
  cause?: unknown;
}

function asErrLike(v: unknown): ErrLike | undefined {
  return typeof v === 'object' && v !== null ? v : undefined;
}

/** The codes along an error's `cause` chain, outermost first (got copies the inner code up). */
function codesOf(err: ErrLike | undefined): string[] {
  const out: string[] = [];
  let e = err;
  for (let i = 0; e && i < 5; i++) {
    if (typeof e.code === 'string') out.push(e.code);
    e = asErrLike(e.cause);
  }
  return out;
}

function isTlsCode(code: string): boolean {
  return code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code.startsWith('CERT_') || code.startsWith('ERR_OSSL_');
}

/**
 * A thrown transport error (got RequestError/TimeoutError/ReadError/AbortError,
 * or a bare Node error) → code + whether the request may have been sent.
 */
export function classifyTransportError(err: unknown): Classification {
  const e = asErrLike(err);
  const name = typeof e?.name === 'string' ? e.name : '';
  const codes = codesOf(e);
  const message = typeof e?.message === 'string' ? e.message : '';

  if (name === 'AbortError' || codes.includes('ERR_ABORTED') || codes.includes('ABORT_ERR') || name === 'CancelError') {
    return { code: 'API_ABORTED', maybeSent: true };
  }
  if (name === 'TimeoutError' || typeof e?.event === 'string') {
    const event = typeof e?.event === 'string' ? e.event : '';
    if (PRE_SEND_TIMEOUT_EVENTS.has(event)) return { code: 'API_UNREACHABLE', maybeSent: false };
    return { code: 'API_TIMEOUT', maybeSent: true };
  }
  for (const c of codes) {
    if (UNREACHABLE_CODES.has(c) || isTlsCode(c)) return { code: 'API_UNREACHABLE', maybeSent: false };
  }
  if (codes.includes('ETIMEDOUT')) return { code: 'API_TIMEOUT', maybeSent: true };
  for (const c of codes) {
    if (LOST_CODES.has(c)) return { code: 'API_CONNECTION_LOST', maybeSent: true };
  }
  if (/socket hang up|premature close|aborted|ECONNRESET|EPIPE/i.test(message) || name === 'ReadError') {
    return { code: 'API_CONNECTION_LOST', maybeSent: true };
  }
  // Unknown: assume the worst for a dialer (the call may exist).
  return { code: 'API_CONNECTION_LOST', maybeSent: true };
}

/** A short human phrase for a transport failure, without hosts, keys or numbers. */
export function describeTransport(c: Classification, err: unknown, timeouts: { timeoutMs: number; connectTimeoutMs: number }): string {
  const e = asErrLike(err);
  const code = codesOf(e)[0];
  const event = typeof e?.event === 'string' ? e.event : undefined;
  switch (c.code) {
    case 'API_ABORTED':
      return 'aborted by caller';
    case 'API_TIMEOUT':
      return `no response within ${timeouts.timeoutMs}ms${event ? ` (${event})` : ''}`;
    case 'API_UNREACHABLE':
      if (event) return `could not connect within ${timeouts.connectTimeoutMs}ms (${event})`;
      if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL' || code === 'EAI_NONAME') return `DNS lookup failed (${code})`;
      if (code === 'ECONNREFUSED') return 'connection refused (ECONNREFUSED)';
      if (code && (isTlsCode(code) || UNREACHABLE_CODES.has(code)) && code !== 'ENETUNREACH' && code !== 'EHOSTUNREACH')
        return `TLS/network failure (${code})`;
      return `unreachable${code ? ` (${code})` : ''}`;
    case 'API_CONNECTION_LOST':
      return `connection lost before a complete response${code && code !== 'ERR_GOT_REQUEST_ERROR' ? ` (${code})` : ''}`;
    default:
      return code ?? 'request failed';
  }
}
