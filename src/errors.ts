/**
 * The dialer's error vocabulary. Every error the dialer raises on purpose is a
 * DialerError with a stable `code`; messages never carry the API key or a full
 * phone number.
 */
export type ErrorCode =
  | 'USAGE'
  | 'CONFIG_INVALID'
  | 'CAMPAIGN_INVALID'
  | 'CAMPAIGN_NOT_FOUND'
  | 'CSV_INVALID'
  | 'REDIS_UNAVAILABLE'
  | ApiErrorCode;

/** Codes of errors raised by the Callease client (src/api). */
export type ApiErrorCode =
  /** 400/422: the API refused the body. */
  | 'API_REJECTED'
  /** 401/403: bad or missing key. */
  | 'API_UNAUTHORIZED'
  /** 404: unknown assistant, action or call. */
  | 'API_NOT_FOUND'
  /** 429. `retryAfterMs` is set when the server said how long to wait. */
  | 'API_RATE_LIMITED'
  /** 5xx. */
  | 'API_SERVER_ERROR'
  /** Any other non-2xx status. */
  | 'API_HTTP_ERROR'
  /** The request never left: DNS failure, connection refused, connect timeout, TLS failure. */
  | 'API_UNREACHABLE'
  /** The request went out but no (complete) response came back in time. */
  | 'API_TIMEOUT'
  /** The connection broke after the request may have been sent. */
  | 'API_CONNECTION_LOST'
  /** A 2xx whose body could not be read or parsed. */
  | 'API_BAD_RESPONSE'
  /** The caller aborted the request (AbortSignal). */
  | 'API_ABORTED';

export class DialerError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DialerError';
    this.code = code;
  }
}

export interface ApiErrorInit {
  method: string;
  /** Path (and query) relative to the base URL; never the key. */
  path: string;
  status?: number;
  body?: unknown;
  retryAfterMs?: number;
  /**
   * Whether the request may have reached the server. `false` only when it
   * provably did not (DNS, refused, connect timeout, TLS): then a retry can't
   * place a second call.
   */
  maybeSent: boolean;
  cause?: unknown;
}

export class ApiError extends DialerError {
  declare readonly code: ApiErrorCode;
  readonly method: string;
  readonly path: string;
  readonly status?: number;
  readonly body?: unknown;
  readonly retryAfterMs?: number;
  readonly maybeSent: boolean;
  constructor(code: ApiErrorCode, message: string, init: ApiErrorInit) {
    super(code, message, { cause: init.cause });
    this.name = 'ApiError';
    this.method = init.method;
    this.path = init.path;
    this.status = init.status;
    this.body = init.body;
    this.retryAfterMs = init.retryAfterMs;
    this.maybeSent = init.maybeSent;
  }
}

/** Turns anything thrown into an Error (for `catch (e: unknown)`). */
export function coerceError(e: unknown): Error {
  if (e instanceof Error) return e;
  return new Error(typeof e === 'string' ? e : JSON.stringify(e));
}

/** Short, safe one-line description of an error for results rows and logs. */
export function describeError(e: unknown): string {
  const err = coerceError(e);
  if (err instanceof ApiError) return err.status ? `${err.code} ${err.status}: ${err.message}` : `${err.code}: ${err.message}`;
  if (err instanceof DialerError) return `${err.code}: ${err.message}`;
  return err.message;
}
