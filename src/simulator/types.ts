/**
 * Public types of the Callease API simulator. The simulator answers the
 * endpoints of /work/shared/callease-api.md, including the parts the
 * reference leaves open (response shapes), so the dialer can be tested
 * against each plausible variant.
 */

export const FINAL_STATUSES = ['completed', 'no-answer', 'busy', 'voicemail', 'failed'] as const;
export type FinalStatus = (typeof FINAL_STATUSES)[number];
export type CallStatus = 'queued' | 'ringing' | 'in-progress' | FinalStatus;

export interface Range {
  min: number;
  max: number;
}

export interface SimulatorFaults {
  /** Fraction of POST /calls and GET /calls answered 500/502/503 without doing anything. */
  error5xxRate?: number;
  /** Delay before every response: fixed ms or a uniform range. */
  latencyMs?: number | Range;
  /** Fraction of POST /calls never answered (no call is created). */
  hangRate?: number;
  /** Fraction of POST /calls that create the call and then cut the socket without a response. */
  dropAfterCreateRate?: number;
  /** Fraction of POST /calls that create the call and then answer 500/502/503 (a gateway that lost the reply). */
  error5xxAfterCreateRate?: number;
  /** Fraction of POST /calls answered 422 (a definite refusal: no call created, never worth a retry). */
  rejectRate?: number;
  /**
   * Fraction of created calls the API can never show: every GET of such a call
   * (by id, or a list that would include it) answers 503, for the rest of the
   * simulator's life. Drawn once per call, keyed by (seed, number, nth call);
   * changing the rate later leaves existing calls as they are.
   */
  lookupFailRate?: number;
  /** Extra delay before answering GET /calls (lookups only), on top of `latencyMs`: fixed ms or a uniform range. */
  lookupLatencyMs?: number | Range;
  /** Fraction of batched lookups (GET /calls?ids=...) answered 200 with a body that is not JSON. */
  batchBadBodyRate?: number;
  /** Fraction of batched lookups (GET /calls?ids=...) answered 429 with Retry-After: 1. */
  batch429Rate?: number;
  /** Batched lookups (GET /calls?ids=...) leave out this fraction of the calls asked for (keyed by call id: always the same calls). */
  batchOmitRate?: number;
}

export interface SimulatorOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Default 'sim-key'. */
  apiKey?: string;
  /** Default 1. */
  seed?: number;
  /** Known assistant ids; empty or absent accepts any. */
  assistants?: string[];
  /** Creation to final status; default {min: 2000, max: 8000}. */
  callDurationMs?: Range;
  /** Outcome weights. When given they replace the defaults: unlisted outcomes get weight 0. */
  outcomes?: Partial<Record<FinalStatus, number>>;
  /** Forced outcome by E.164 number; a list scripts the 1st, 2nd, ... call to that number (the last one repeats). */
  outcomeFor?: Record<string, FinalStatus | FinalStatus[]>;
  /** E.164 numbers POST /calls rejects with 422 "phoneNumber is not a valid number" (as for a number out of service). */
  invalidNumbers?: string[];
  /** Admitted requests in any rolling second; more answer 429. 0 or absent: no limit. */
  rateLimitPerSecond?: number;
  /** Which requests the rate limit counts; default 'calls' (POST /calls only). */
  rateLimitScope?: 'calls' | 'all';
  faults?: SimulatorFaults;
  /** JSONL request log; appended to. */
  logPath?: string;
  /** GET /calls?id= answers with the call, [call] or {data:[call]}; default 'object'. */
  getShape?: 'object' | 'array' | 'envelope';
  /** Where POST /calls puts the new id; default 'id'. */
  createShape?: 'id' | 'call_id' | 'callId' | 'data';
}

export interface CustomVariable {
  key: string;
  value: string;
}

/** A call as stored. Its status is derived from `createdAt`, `plannedMs` and the time asked. */
export interface SimCall {
  id: string;
  assistant_id: string;
  name: string | null;
  phoneNumber: string;
  customVariables: CustomVariable[];
  /** Epoch ms. */
  createdAt: number;
  /** Creation to final status, ms. */
  plannedMs: number;
  /** The final status the call will reach. */
  outcome: FinalStatus;
  /** 1 for the first call created to this number, 2 for the second, … */
  nth: number;
  /** ended_reason once final. */
  endedReason: string;
  /** Every lookup of this call answers 503 (faults.lookupFailRate). */
  lookupFails?: boolean;
}

export interface SimAction {
  id: string;
  type: 'SEND_SMS';
  SEND_SMS: { content: string; instructions: string };
  /** Assistant ids this action is attached to. */
  attached_to: string[];
  created_at: string;
  updated_at: string;
}

export interface RequestLogEntry {
  /** ISO time (ms) the request was received and decided on. */
  time: string;
  /** Same instant, epoch ms. */
  t: number;
  method: string;
  /** Path including the query string. */
  path: string;
  /** Parsed JSON body, or the raw text (cut to 1000 chars) when it was not JSON. */
  body?: unknown;
  /** HTTP status sent; 0 when none was (hang, drop). */
  status: number;
  call_id?: string;
  /** A batched lookup (GET /calls?ids=...): the ids it answered with. */
  call_ids?: string[];
  fault?: '5xx' | '5xx-after-create' | 'hang' | 'drop' | '429' | 'reject' | 'lookup' | 'bad-body';
}

export interface Simulator {
  /** API base URL, e.g. http://127.0.0.1:41234 ; endpoints at `${url}/calls`. */
  url: string;
  port: number;
  calls: Map<string, SimCall>;
  actions: Map<string, SimAction>;
  requests: RequestLogEntry[];
  /** The options in force, defaults filled in. */
  readonly options: Readonly<SimulatorOptions>;
  /** The call as GET /calls would show it now (or at `at`, epoch ms). */
  view(id: string, at?: number): Record<string, unknown> | undefined;
  /** Calls live now and the most live at once so far, by the simulator's clock (also `GET /simulator/stats`). */
  liveStats(): import('./live.js').LiveStats;
  /** Changes behaviour at run time. host, port and logPath can't change and are ignored. */
  setOptions(patch: Partial<SimulatorOptions>): void;
  flushLog(): Promise<void>;
  /** Idempotent; destroys open and hung sockets and flushes the log. */
  close(): Promise<void>;
}
