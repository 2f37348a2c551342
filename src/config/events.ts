import { z } from 'zod';
import { DialerError } from '../errors.js';
import { EVENT_TYPES, type EventType } from '../events/types.js';

/**
 * Outbound events: where they go, which, and with which row fields. The
 * campaign key `events`; `DIALER_EVENTS_URL` gives every campaign a URL.
 */
export const eventsSchema = z
  .object({
    /** Receiver URL; https, or plain http only on loopback. Default DIALER_EVENTS_URL. */
    url: z.string().url().optional(),
    /** Which events to send. @defaultValue every type */
    types: z.array(z.enum(EVENT_TYPES)).min(1).optional(),
    /** Row fields added to `contact.finished` (results columns or stored CSV columns); none by default: no number unless listed. */
    fields: z.array(z.string().min(1)).optional(),
  })
  .strict();
export type EventsConfig = z.infer<typeof eventsSchema>;

/** A campaign's events as resolved at load: a URL, the types and the fields. */
export interface EventsTarget {
  url: string;
  types: EventType[];
  fields: string[];
}

/** Process-wide event settings (environment). */
export interface EventsEnv {
  /** DIALER_EVENTS_URL: the receiver of every campaign that names none. */
  url?: string;
  /** DIALER_EVENTS_SECRET: HMAC key of the signature. Never logged, never stored in Redis. */
  secret?: string;
  /** DIALER_EVENTS_ATTEMPTS: deliveries tried before an event is dead-lettered. @defaultValue 20 */
  attempts: number;
  /** DIALER_EVENTS_BACKOFF_MS: wait after the first failed delivery; doubled after each. @defaultValue 5000 */
  backoffMs: number;
  /** DIALER_EVENTS_MAX_BACKOFF_MS: longest wait between two deliveries. @defaultValue 900000 (15 min) */
  maxBackoffMs: number;
  /** DIALER_EVENTS_TIMEOUT_MS: one delivery's response timeout. @defaultValue 10000 */
  timeoutMs: number;
  /** DIALER_EVENTS_CONCURRENCY: deliveries in flight per process. @defaultValue 10 */
  concurrency: number;
  /** DIALER_EVENTS_RELAY_MS: how often the outbox is moved into the delivery queue. @defaultValue 250 */
  relayMs: number;
  /** DIALER_EVENTS_DRAIN_MS: how long `dialer run` waits for a finished campaign's events to be delivered. @defaultValue 30000 */
  drainMs: number;
}

function num(env: NodeJS.ProcessEnv, name: string, def: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new DialerError('CONFIG_INVALID', `${name} must be a number >= ${min}, got "${raw}"`);
  return n;
}

export function readEventsEnv(env: NodeJS.ProcessEnv): EventsEnv {
  return {
    url: env.DIALER_EVENTS_URL || undefined,
    secret: env.DIALER_EVENTS_SECRET || undefined,
    attempts: Math.floor(num(env, 'DIALER_EVENTS_ATTEMPTS', 20, 1)),
    backoffMs: num(env, 'DIALER_EVENTS_BACKOFF_MS', 5000, 1),
    maxBackoffMs: num(env, 'DIALER_EVENTS_MAX_BACKOFF_MS', 900_000, 1),
    timeoutMs: num(env, 'DIALER_EVENTS_TIMEOUT_MS', 10_000, 1),
    concurrency: Math.floor(num(env, 'DIALER_EVENTS_CONCURRENCY', 10, 1)),
    relayMs: num(env, 'DIALER_EVENTS_RELAY_MS', 250, 10),
    drainMs: num(env, 'DIALER_EVENTS_DRAIN_MS', 30_000, 0),
  };
}

/** Wait before delivery attempt `attemptsMade + 1` (ms): doubling from `backoffMs`, capped at `maxBackoffMs`. */
export function eventBackoffMs(s: Pick<EventsEnv, 'backoffMs' | 'maxBackoffMs'>, attemptsMade: number): number {
  return Math.min(s.maxBackoffMs, s.backoffMs * 2 ** Math.max(0, attemptsMade - 1));
}

/** How long a receiver may be down before an event is dead-lettered (ms): the sum of every wait. Defaults: about 3.1 h. */
export function retryWindowMs(s: Pick<EventsEnv, 'attempts' | 'backoffMs' | 'maxBackoffMs'>): number {
  let total = 0;
  for (let made = 1; made < s.attempts; made++) total += eventBackoffMs(s, made);
  return total;
}

/** Plain http only to loopback: events may carry personal data (listed fields). */
export function checkEventsUrl(url: string, where: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DialerError('CONFIG_INVALID', `${where}: not a URL: "${url}"`);
  }
  if (u.protocol === 'https:') return;
  if (u.protocol === 'http:' && /^(127\.|localhost$|\[::1\]$)/.test(u.hostname)) return;
  throw new DialerError('CONFIG_INVALID', `${where}: events go over https (plain http only to loopback), got "${u.protocol}//${u.host}"`);
}

/**
 * A campaign's events target: its `events` key over DIALER_EVENTS_URL;
 * undefined when neither names a URL. A URL without DIALER_EVENTS_SECRET is
 * refused here, so nothing is queued that could never be signed.
 */
export function resolveEvents(c: { name: string; file?: string; events?: EventsConfig }, env: Pick<EventsEnv, 'url' | 'secret'>): EventsTarget | undefined {
  const url = c.events?.url ?? env.url;
  const where = c.events?.url ? `${c.file || c.name}: events.url` : 'DIALER_EVENTS_URL';
  if (!url) {
    if (c.events) throw new DialerError('CAMPAIGN_INVALID', `${c.file || c.name}: events: no url (set events.url or DIALER_EVENTS_URL)`);
    return undefined;
  }
  checkEventsUrl(url, where);
  if (!env.secret) throw new DialerError('CONFIG_INVALID', `DIALER_EVENTS_SECRET is not set; it is required when events are sent (${where} is set)`);
  return { url, types: c.events?.types ?? [...EVENT_TYPES], fields: c.events?.fields ?? [] };
}
