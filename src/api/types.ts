import type * as http from 'node:http';
import type * as https from 'node:https';
import type { ApiErrorCode } from '../errors.js';

export interface CalleaseClientOptions {
  /** e.g. 'https://api.callease.ai/api/v1' or 'http://127.0.0.1:4010' (plain http only for loopback). */
  baseUrl: string;
  apiKey: string;
  /** Plain http:// to a host that is not loopback (CALLEASE_ALLOW_INSECURE_HTTP=1: the demo's simulator container). */
  allowInsecureHttp?: boolean;
  /** Response timeout for one request (also used for send/read phases). Default 15000. */
  timeoutMs?: number;
  /** DNS + TCP connect + TLS handshake timeout. Default 5000. */
  connectTimeoutMs?: number;
  /** Template for one call, default '/calls?id={id}' ({id} is URL-encoded). */
  getCallPath?: string;
  /** Batched lookups of many calls in one GET (api/batch.ts); default off. */
  callsBatch?: import('./batch.js').CallsBatchOptions;
  /** Default 'callease-dialer/<version>'. */
  userAgent?: string;
  /**
   * Agent for the base URL's protocol. Default: https.Agent({minVersion:'TLSv1.2', keepAlive:true})
   * for https, http.Agent({keepAlive:true}) for http. A caller-supplied agent is not destroyed by close().
   */
  agent?: http.Agent | https.Agent;
  /** got retries for idempotent requests (GETs, PUT, DELETE, attach/detach) on network errors/5xx. Default 2. */
  retries?: number;
  /** Base backoff between those retries (doubles each time, capped at 2s). Default 250. */
  retryBaseDelayMs?: number;
  /** Same as setting `client.onRequest`. */
  onRequest?: (info: RequestInfo) => void;
}

export interface CustomVariable {
  key: string;
  value: string;
}

export interface CreateCallRequest {
  assistant_id: string;
  name: string;
  phoneNumber: string;
  customVariables: CustomVariable[];
}

/** A 2xx without any id is a success whose id is unknown. */
export interface CreateCallResult {
  id?: string;
  body: unknown;
}

export interface CallDetails {
  id: string;
  /** Lower-cased, '_' and ' ' → '-' ('in_progress' → 'in-progress'). 'unknown' when the API gave none. */
  status: string;
  phoneNumber?: string;
  assistantId?: string;
  createdAt?: string;
  startedAt?: string;
  endedAt?: string;
  durationSeconds?: number;
  endedReason?: string;
  summary?: string;
  transcript?: string;
  recordingUrl?: string;
  cost?: number;
  raw: Record<string, unknown>;
}

export interface SmsAction {
  id: string;
  content: string;
  instructions: string;
  raw: Record<string, unknown>;
}

export interface ListCallsFilter {
  phoneNumber?: string;
  assistantId?: string;
  /** ISO string (sent as is) or epoch milliseconds (sent as ISO). */
  createdAfter?: string | number;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

/** Reported to `onRequest` once per client method call (after got's own retries). */
export interface RequestInfo {
  method: string;
  /** Path and query relative to the base URL; a phone number in the query is masked. */
  path: string;
  /** Low-cardinality route for metrics, e.g. 'GET /calls/{id}', 'PUT /actions/{id}'. */
  route: string;
  /** HTTP status of the final answer, when there was one. */
  status?: number;
  durationMs: number;
  errorCode?: ApiErrorCode;
  /** How many got retries happened before the final answer. */
  retries: number;
}
