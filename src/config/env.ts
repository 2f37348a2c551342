import { MAX_WINDOW } from '../dialer/feeder.js';
import { DialerError } from '../errors.js';
import type { DurableDials } from '../store/durability.js';
import { readEventsEnv, type EventsEnv } from './events.js';
import { CALLS_BATCH_MODES, resolveCallsBatch, type CallsBatch, type CallsBatchMode } from '../api/batch.js';

/** The production API. */
export const DEFAULT_BASE_URL = 'https://api.callease.ai/api/v1';

/** Process-wide settings, read from the environment once at the edge. */
export interface Env {
  apiKey?: string;
  baseUrl: string;
  redisUrl: string;
  /** REDIS_PASSWORD: AUTH for every connection (a password in REDIS_URL wins). Never logged. */
  redisPassword?: string;
  /** CALLEASE_ALLOW_INSECURE_HTTP=1: plain http:// to a base URL that is not loopback (the demo's simulator container only). */
  allowInsecureHttp: boolean;
  /** Comma-separated host:port list; selects Redis Cluster when set. */
  redisClusterNodes?: string[];
  /** Prefix of every Redis key (ours and BullMQ's). */
  prefix: string;
  logLevel: string;
  debug: boolean;
  /** ISO time the process pretends it started at (tests, dry runs). */
  now?: string;
  /** Account-wide cap on POST /calls per second, across all campaigns and workers. */
  maxCallsPerSecond?: number;
  /** Account-wide cap on POST /calls in flight at once. */
  maxConcurrentCalls?: number;
  /** Account-wide cap on calls placed and not yet ended (live calls), across all campaigns and workers. */
  maxLiveCalls?: number;
  /** Lease of a live-call slot (ms): how soon the slot of a crashed process comes back. Renewed while its owner lives. */
  liveLeaseMs: number;
  /** Bearer token of `dialer serve`. */
  apiToken?: string;
  /** Secret for keyed hashes of erased numbers. */
  hashKey?: string;
  /** Default days after a campaign finishes before its personal data is purged (campaign `retention_days` wins); unset: no automatic purge. */
  retentionDays?: number;
  /** DIALER_ARCHIVE_AFTER_MINUTES (default 60; 0 or `off`: never): how long after it finished `dialer worker` packs a campaign into the archive (store/archive.ts). */
  archiveAfterMs?: number;
  tlsRejectUnauthorized: boolean;
  /** Response timeout of one API request (ms). */
  httpTimeoutMs: number;
  /** BullMQ lock on a dial job (ms); kept well above the HTTP timeout so a live request is never taken for stalled. */
  lockMs: number;
  /**
   * BullMQ's lock on a dial job (ms): how long the jobs of a killed worker wait
   * before another worker takes them (up to this plus half of it). Renewed every
   * half of it while the job runs; the ledger (not this lock) keeps a re-run from
   * dialing again. Default: `lockMs`, at most 15 s.
   */
  jobLockMs: number;
  /** Template for fetching one call, `{id}` replaced. */
  getCallPath: string;
  /**
   * CALLEASE_CALLS_BATCH (`off` default, `ids`, `list`), CALLEASE_CALLS_BATCH_PATH,
   * CALLEASE_CALLS_BATCH_MAX: due calls looked up many per GET (api/batch.ts).
   * Off unless set: the Callease reference does not document a batched form.
   */
  callsBatch: CallsBatch;
  /** How long an open row's owner is trusted before the reaper checks it (ms). */
  rowLeaseMs: number;
  /** How often a worker looks for open rows whose owner is gone (ms). */
  reapEveryMs: number;
  /** Most first-attempt dial jobs a campaign keeps queued (dialer/feeder.ts). */
  feedWindowMax: number;
  /**
   * DIALER_DURABLE_DIALS: confirm the ledger's `sending` on disk or a replica
   * before each POST. `auto` (default) uses what the server offers, `off`
   * never waits, `required` refuses to dial when the server cannot confirm.
   */
  durableDials: DurableDials;
  /** Outbound events: DIALER_EVENTS_* (config/events.ts). */
  events: EventsEnv;
}

const DURABLE_DIALS: readonly DurableDials[] = ['auto', 'off', 'required'];

function durableDials(raw: string | undefined): DurableDials {
  if (raw === undefined || raw === '') return 'auto';
  if ((DURABLE_DIALS as readonly string[]).includes(raw)) return raw as DurableDials;
  throw new DialerError('CONFIG_INVALID', `DIALER_DURABLE_DIALS must be one of ${DURABLE_DIALS.join(', ')}, got "${raw}"`);
}

function positive(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new DialerError('CONFIG_INVALID', `${name} must be a positive number, got "${raw}"`);
  return n;
}

/** `1`/`true`/`yes` or `0`/`false`/`no`/empty; anything else is a mistake worth naming. */
function flag(name: string, raw: string | undefined): boolean {
  const v = (raw ?? '').trim().toLowerCase();
  if (v === '' || v === '0' || v === 'false' || v === 'no') return false;
  if (v === '1' || v === 'true' || v === 'yes') return true;
  throw new DialerError('CONFIG_INVALID', `${name} must be 1 or 0, got "${raw}"`);
}

/** A killed worker's dial jobs wait at most this plus half of it (BullMQ's stalled check) for another worker. */
const DEFAULT_JOB_LOCK_MS = 15_000;

function positiveInt(name: string, raw: string | undefined): number | undefined {
  const n = positive(name, raw);
  if (n !== undefined && !Number.isInteger(n)) throw new DialerError('CONFIG_INVALID', `${name} must be a whole number, got "${raw}"`);
  return n;
}

/** Minutes as ms; unset: an hour; `0` or `off`: undefined (no archive on its own). */
function archiveAfter(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return 60 * 60_000;
  if (raw === '0' || raw.toLowerCase() === 'off') return undefined;
  return positive('DIALER_ARCHIVE_AFTER_MINUTES', raw)! * 60_000;
}

/** Renewals run about every second, so a lease must be a few seconds long. */
function liveLease(raw: string | undefined): number {
  const n = positive('DIALER_LIVE_LEASE_MS', raw) ?? 30_000;
  if (n < 3000) throw new DialerError('CONFIG_INVALID', `DIALER_LIVE_LEASE_MS must be at least 3000 (slots are renewed about every second), got "${raw}"`);
  return n;
}

function callsBatch(env: NodeJS.ProcessEnv): CallsBatch {
  const raw = (env.CALLEASE_CALLS_BATCH ?? '').trim().toLowerCase();
  const mode = raw === '' || raw === '0' || raw === 'false' || raw === 'no' ? 'off' : raw;
  if (!(CALLS_BATCH_MODES as readonly string[]).includes(mode)) {
    throw new DialerError('CONFIG_INVALID', `CALLEASE_CALLS_BATCH must be one of ${CALLS_BATCH_MODES.join(', ')}, got "${env.CALLEASE_CALLS_BATCH}"`);
  }
  return resolveCallsBatch(
    { mode: mode as CallsBatchMode, path: env.CALLEASE_CALLS_BATCH_PATH || undefined, max: positiveInt('CALLEASE_CALLS_BATCH_MAX', env.CALLEASE_CALLS_BATCH_MAX) },
    'CALLEASE_CALLS_BATCH',
  );
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): Env {
  const lockMs = positive('DIALER_LOCK_MS', env.DIALER_LOCK_MS) ?? 60_000;
  return {
    apiKey: env.CALLEASE_API_KEY || undefined,
    baseUrl: env.CALLEASE_BASE_URL || DEFAULT_BASE_URL,
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    redisPassword: env.REDIS_PASSWORD || undefined,
    allowInsecureHttp: flag('CALLEASE_ALLOW_INSECURE_HTTP', env.CALLEASE_ALLOW_INSECURE_HTTP),
    redisClusterNodes: env.REDIS_CLUSTER_NODES ? env.REDIS_CLUSTER_NODES.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
    prefix: env.DIALER_PREFIX || 'dialer',
    logLevel: env.LOG_LEVEL || 'info',
    debug: Boolean(env.DEBUG),
    now: env.DIALER_NOW || undefined,
    maxCallsPerSecond: positive('CALLEASE_MAX_CALLS_PER_SECOND', env.CALLEASE_MAX_CALLS_PER_SECOND),
    maxConcurrentCalls: positive('CALLEASE_MAX_CONCURRENT_CALLS', env.CALLEASE_MAX_CONCURRENT_CALLS),
    maxLiveCalls: positiveInt('CALLEASE_MAX_LIVE_CALLS', env.CALLEASE_MAX_LIVE_CALLS),
    liveLeaseMs: liveLease(env.DIALER_LIVE_LEASE_MS),
    apiToken: env.DIALER_API_TOKEN || undefined,
    hashKey: env.DIALER_HASH_KEY || undefined,
    retentionDays: positive('DIALER_RETENTION_DAYS', env.DIALER_RETENTION_DAYS),
    archiveAfterMs: archiveAfter(env.DIALER_ARCHIVE_AFTER_MINUTES),
    tlsRejectUnauthorized: env.NODE_TLS_REJECT_UNAUTHORIZED !== '0',
    httpTimeoutMs: positive('DIALER_HTTP_TIMEOUT_MS', env.DIALER_HTTP_TIMEOUT_MS) ?? 15_000,
    lockMs,
    jobLockMs: positive('DIALER_JOB_LOCK_MS', env.DIALER_JOB_LOCK_MS) ?? Math.min(lockMs, DEFAULT_JOB_LOCK_MS),
    getCallPath: env.CALLEASE_GET_CALL_PATH || '/calls?id={id}',
    callsBatch: callsBatch(env),
    rowLeaseMs: positive('DIALER_ROW_LEASE_MS', env.DIALER_ROW_LEASE_MS) ?? 60_000,
    reapEveryMs: positive('DIALER_REAP_EVERY_MS', env.DIALER_REAP_EVERY_MS) ?? 5_000,
    feedWindowMax: positive('DIALER_FEED_WINDOW_MAX', env.DIALER_FEED_WINDOW_MAX) ?? MAX_WINDOW,
    durableDials: durableDials(env.DIALER_DURABLE_DIALS),
    events: readEventsEnv(env),
  };
}
