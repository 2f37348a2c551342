/** Every outcome a results row can end with. */
export const OUTCOMES = [
  'completed', 'no-answer', 'busy', 'voicemail', 'failed',
  'canceled', 'unknown', 'rejected', 'duplicate', 'dead-letter',
  'suppressed', 'no-consent', 'expired',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Results columns, in file order. The first 16 are a public contract. */
export const RESULT_COLUMNS = [
  'row', 'name', 'phone', 'outcome', 'call_id', 'attempts', 'duration_seconds',
  'ended_reason', 'started_at', 'ended_at', 'summary', 'error',
  'timezone', 'consent', 'status', 'http_status', 'transcript', 'recording_url',
] as const;
export type ResultColumn = (typeof RESULT_COLUMNS)[number];

/**
 * What Redis keeps for one data row of the uploaded CSV. Personal data lives
 * here and nowhere else (jobs carry only the row number).
 */
export interface RowRecord {
  /** 1 = first data row. */
  row: number;
  name: string;
  /** E.164 when valid, else the raw value. */
  phone: string;
  /** customVariables to send. */
  vars?: Record<string, string>;
  /** Where the row stands in its lifecycle (campaign/lifecycle.ts); kept by the store's scripts. */
  state?: import('../campaign/lifecycle.js').RowState;
  /** Id of the dial job that owns the row while it is queued, waiting or due a redial. */
  job?: string;
  /** Times the reaper gave the row a new dial job because its own was gone. */
  reaped?: number;
  /** Final outcome; absent while the row is still in progress. */
  outcome?: Outcome;
  /** Last known call status while not final. */
  status?: string;
  call_id?: string;
  attempts?: number;
  duration_seconds?: number;
  ended_reason?: string;
  started_at?: string;
  ended_at?: string;
  summary?: string;
  transcript?: string;
  recording_url?: string;
  error?: string;
  /** HTTP status of the last failed request. */
  http_status?: number;
  /** Zone(s) used for the calling window, "a|b" when several. */
  timezone?: string;
  consent?: string;
  /** While waiting for a calling window or a redial: when the next try is due (ISO). */
  next_at?: string;
  /** When the row was placed (ms), for the poll timeout. */
  placed_at?: number;
  /** Redials made so far after each outcome (per-outcome redial plans). */
  redials?: Partial<Record<string, number>>;
  /** Set once `dlq retry` sent the row back to the queue: it never goes back a second time. */
  dlq_retried?: boolean;
}
