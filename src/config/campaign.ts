import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { isSupportedCountry } from 'libphonenumber-js/max';
import { z } from 'zod';
import { DialerError } from '../errors.js';
import { assistantRules } from './campaign-rules.js';
import { eventsSchema } from './events.js';
import { parseDuration } from './duration.js';

/** Final outcomes a call can end with on the Callease side. */
export const CALL_OUTCOMES = ['completed', 'no-answer', 'busy', 'voicemail', 'failed'] as const;

const weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'must be "HH:MM" (24-hour clock)');
const ianaZone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA time zone such as "Australia/Sydney"');
const positiveInt = z.number().int().positive();

/** The outcomes a redial can follow. */
export const REDIAL_OUTCOMES = ['no-answer', 'busy', 'voicemail', 'failed'] as const;
export type RedialOutcome = (typeof REDIAL_OUTCOMES)[number];
const LEGACY_REDIAL_KEYS = ['outcomes', 'max', 'after_minutes'] as const;

const redialSchema = z
  .object({
    // The one-plan shape (defaults: outcomes no-answer, busy, voicemail; max 2; after_minutes 240).
    outcomes: z.array(z.enum(REDIAL_OUTCOMES)).min(1).optional(),
    max: z.number().int().nonnegative().optional(),
    after_minutes: z.number({ error: 'must be a number of minutes (one plan for all outcomes); a list of waits goes under redial.<outcome>.after_minutes' }).nonnegative().optional(),
    // The per-outcome shape: the n-th redial after that outcome waits the n-th interval; the list's length is the most redials.
    ...Object.fromEntries(REDIAL_OUTCOMES.map((o) => [o, z.object({ after_minutes: z.array(z.number().nonnegative()) }).strict().optional()])) as Record<RedialOutcome, z.ZodOptional<z.ZodObject<{ after_minutes: z.ZodArray<z.ZodNumber> }, z.core.$strict>>>,
    /** Redials due go before fresh contacts (`first`) or after them (`last`); BullMQ job priorities. Default: neither. */
    priority: z.enum(['first', 'last']).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    const legacy = LEGACY_REDIAL_KEYS.filter((k) => r[k] !== undefined);
    const perOutcome = REDIAL_OUTCOMES.filter((k) => r[k] !== undefined);
    if (legacy.length && perOutcome.length) {
      ctx.addIssue({
        code: 'custom', path: [perOutcome[0]!],
        message: `cannot be combined with redial.${legacy.join(', redial.')} (one plan for all outcomes): write either redial.<outcome>: {after_minutes: [...]} for each outcome, or outcomes/max/after_minutes`,
      });
    }
  });

const isoWithOffset = z.iso.datetime({ offset: true });
/** `start_at` | `cron` (+ `timezone`), and `end_at` | `end_after`, as TypeScript sees them (narrow with `'start_at' in s`). */
export type Schedule = ({ start_at: string } | { cron: string; timezone?: string } | Record<never, never>) & { end_at?: string; end_after?: string };

/** A schedule's `start_at` as epoch ms (business time: DIALER_NOW aware callers compare it with their clock), or undefined. */
export function startAtMs(s: Schedule | undefined): number | undefined {
  return s && 'start_at' in s ? Date.parse(s.start_at) : undefined;
}

/** How long until a schedule's `start_at` from `businessNow` (ms); 0 or less once it passed or without one. */
export function untilStartMs(s: Schedule | undefined, businessNow: number): number {
  const at = startAtMs(s);
  return at === undefined ? 0 : at - businessNow;
}

const scheduleSchema = z
  .object({
    start_at: isoWithOffset.optional(),
    cron: z.string().min(1).optional(),
    timezone: ianaZone.optional(),
    /** Deadline: an ISO time with offset. */
    end_at: isoWithOffset.optional(),
    /** Deadline relative to the campaign's start (a cron run's start): `90m`, `2h`, `1d`, `1h30m` or ISO 8601 `PT2H`. */
    end_after: z.string().refine((v) => parseDuration(v) !== undefined, 'must be a duration such as "90m", "2h", "1d" or ISO 8601 "PT2H"').optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const issue = (key: string, message: string) => ctx.addIssue({ code: 'custom', path: [key], message });
    if (s.start_at !== undefined && s.cron !== undefined) issue('cron', 'cannot be combined with start_at (a campaign starts once at start_at, or runs at every cron tick)');
    if (s.timezone !== undefined && s.cron === undefined) issue('timezone', 'only goes with cron');
    if (s.end_at !== undefined && s.end_after !== undefined) issue('end_after', 'cannot be combined with end_at (one deadline)');
    if (Object.values(s).every((v) => v === undefined)) ctx.addIssue({ code: 'custom', path: [], message: 'needs start_at, cron, end_at or end_after' });
  })
  .transform((s) => s as Schedule);

export const campaignSchema = z
  .object({
    /** Campaign id: lower-case letters, digits and dashes. */
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1-63 characters of a-z, 0-9 and "-", starting with a letter or digit'),
    /** The campaign's assistant; optional when `assistants` splits the rows (exactly one of the two). */
    assistant_id: z.string().min(1).optional(),
    /** Weighted split of rows between assistants, by a stable hash of the number. */
    assistants: z.array(z.object({ id: z.string().min(1), weight: z.number().positive() }).strict()).min(1).optional(),
    /** Column holding a row's own assistant id; an empty cell falls back to `assistants`/`assistant_id`. */
    assistant_column: z.string().min(1).optional(),
    /** Column with the row's id in the caller's system: stored and written to the results, never sent to the API. */
    id_column: z.string().min(1).optional(),
    /** More columns stored and written to the results, never sent to the API (unless also in `variables`). */
    keep_columns: z.array(z.string().min(1)).optional(),
    /** CSV path, relative to the campaign file. */
    contacts: z.string().min(1),
    phone_column: z.string().min(1).optional(),
    /** Several phone columns, tried in order (alternate numbers); instead of phone_column. */
    phone_columns: z.array(z.string().min(1)).min(1).optional(),
    name_column: z.string().min(1).optional(),
    /** ISO 3166 alpha-2 country for numbers written without +country. */
    default_country: z
      .string()
      .regex(/^[A-Z]{2}$/, 'must be a two-letter country code such as "AU"')
      .refine((cc): boolean => isSupportedCountry(cc), { error: (iss) => `${JSON.stringify(iss.input)} is not a country libphonenumber knows (ISO 3166 alpha-2, e.g. "AU", "US", "GB")` })
      .optional(),
    /** Columns sent as customVariables; default every column but the phone column. */
    variables: z.array(z.string().min(1)).optional(),
    /** Most POST /calls per `per_seconds`, across every worker. */
    rate: z.object({ calls: positiveInt, per_seconds: z.number().positive() }).strict().default({ calls: 10, per_seconds: 1 }),
    /** Most POST /calls in flight at once, across every worker. */
    concurrency: positiveInt.default(5),
    /** Most calls placed and not yet ended (live) at once, across every worker; no cap when absent. */
    max_live_calls: positiveInt.optional(),
    retry: z
      .object({ attempts: positiveInt.default(5), backoff_ms: z.number().int().nonnegative().default(2000), max_backoff_ms: positiveInt.default(300_000) })
      .strict()
      .default({ attempts: 5, backoff_ms: 2000, max_backoff_ms: 300_000 }),
    /** Results file; default results/<name>.csv, relative to the working directory. */
    results: z.string().min(1).optional(),
    /** What to do when a POST may or may not have placed a call and no call is found. */
    on_ambiguous: z.enum(['skip', 'redial-once', 'redial']).default('redial-once'),
    /** How long to keep looking for an ambiguous call before `on_ambiguous` decides. */
    ambiguous_grace_seconds: z.number().nonnegative().default(60),
    poll: z
      .object({
        interval_seconds: z.number().positive().default(5),
        /** First look at a placed call this long after placing it; default one interval (at most 1 s with batched lookups, CALLEASE_CALLS_BATCH). */
        first_look_seconds: z.number().positive().optional(),
        /** A call still not final this long after it was placed ends as `unknown`. */
        timeout_minutes: z.number().positive().default(60),
      })
      .strict()
      .default({ interval_seconds: 5, timeout_minutes: 60 }),
    /** When to dial: `start_at` or `cron` (+ `timezone`), and/or a deadline `end_at` or `end_after` (see campaign/deadline.ts). */
    schedule: scheduleSchema.optional(),
    /** Redials: one plan for all outcomes (`outcomes`, `max`, `after_minutes`) or a list of waits per outcome (see poller/redial-plan.ts). */
    redial: redialSchema.optional(),
    sms_actions: z.array(z.object({ content: z.string().min(1), instructions: z.string().min(1) }).strict()).optional(),
    detach_actions_on_finish: z.boolean().default(false),
    calling_hours: z
      .object({
        preset: z.enum(['au-telemarketing', 'us-tcpa', 'uk', 'none']).default('none'),
        days: z.array(weekday).min(1).optional(),
        start: hhmm.optional(),
        end: hhmm.optional(),
        holidays: z.boolean().optional(),
      })
      .strict()
      .optional(),
    /** Column holding each contact's IANA zone; else the zone comes from the number. */
    timezone_column: z.string().min(1).optional(),
    /** Zone for numbers whose zone can't be told. */
    fallback_timezone: ianaZone.optional(),
    /** CSV of numbers never to call (any format). Relative to the campaign file. */
    suppression: z.string().min(1).optional(),
    /** Most calls to one number per rolling 24 h, across all campaigns. */
    frequency_cap: positiveInt.default(3),
    /** Column whose value must say yes before a row is dialed. */
    consent_column: z.string().min(1).optional(),
    /** Days after the campaign finishes before its personal data is purged. */
    retention_days: z.number().positive().optional(),
    /**
     * Keep call transcripts (up to 32 KB) and summaries (up to 2 KB) in Redis
     * and so in the results file. Off: no transcript, summaries cut at 256
     * bytes (campaign/call-text.ts).
     */
    keep_transcripts: z.boolean().default(false),
    /** Price of one call minute, for the report's cost estimate when the calls carry no cost. */
    price_per_minute: z.number().nonnegative().optional(),
    /** Signed outbound events (config/events.ts). */
    events: eventsSchema.optional(),
  })
  .strict()
  .superRefine(assistantRules);

export type CampaignFile = z.infer<typeof campaignSchema>;

/** A validated campaign with its paths made absolute. */
export interface Campaign extends CampaignFile {
  /** Absolute path of the campaign file ("" when it came from elsewhere). */
  file: string;
  contactsPath: string;
  resultsPath: string;
  suppressionPath?: string;
}

/** "spring.yaml: rate.calls: expected number, received string" */
export function formatZodError(source: string, error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.length ? issue.path.join('.') : '(top level)';
      if (issue.code === 'unrecognized_keys') return `${source}: ${where}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
      return `${source}: ${where}: ${issue.message}`;
    })
    .join('\n');
}

/** Parses campaign text (YAML or JSON) and validates it. `baseDir` anchors relative paths. */
export function parseCampaign(text: string, source: string, baseDir: string, cwd = process.cwd()): Campaign {
  let raw: unknown;
  try {
    raw = source.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new DialerError('CAMPAIGN_INVALID', `${source}: not valid ${source.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new DialerError('CAMPAIGN_INVALID', `${source}: must be a mapping of campaign keys (name, assistant_id, contacts, ...)`);
  }
  const parsed = campaignSchema.safeParse(raw);
  if (!parsed.success) throw new DialerError('CAMPAIGN_INVALID', formatZodError(source, parsed.error));
  if (parsed.data.phone_column !== undefined && parsed.data.phone_columns !== undefined) {
    throw new DialerError('CAMPAIGN_INVALID', `${source}: phone_columns: set either phone_column or phone_columns, not both`);
  }
  const c = parsed.data;
  return {
    ...c,
    file: source,
    contactsPath: path.resolve(baseDir, c.contacts),
    resultsPath: path.resolve(cwd, c.results ?? path.join('results', `${c.name}.csv`)),
    suppressionPath: c.suppression ? path.resolve(baseDir, c.suppression) : undefined,
  };
}

export async function loadCampaignFile(file: string): Promise<Campaign> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DialerError('CAMPAIGN_INVALID', `${file}: cannot read campaign file (${code ?? (e as Error).message})`);
  }
  return parseCampaign(text, path.resolve(file), path.dirname(path.resolve(file)));
}
