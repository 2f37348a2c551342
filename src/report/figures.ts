/**
 * The figures of a campaign report, computed from its results rows (one pass,
 * streamed: nothing but counters and the completed calls' durations is kept)
 * plus the dial times of the audit record and the dead-letter list. Pure: no
 * Redis, no clock, no files; `build.ts` feeds it.
 *
 * Definitions (where the issue left them open):
 * - dialed: a row with `attempts` ≥ 1 (at least one POST /calls sent);
 * - pickup rate: rows `completed` over rows dialed;
 * - by attempt: rows grouped by how many attempts they took (the results keep
 *   the last call of a row, so "attempt 2" = rows whose last call was the 2nd);
 * - local hour and weekday: of the call's end (`ended_at`, present for every
 *   finished call, `started_at` only for answered ones) in the contact's zone
 *   (the first zone of the `timezone` column); rows without a time or a valid
 *   zone are left out of these two tables only;
 * - durations: of completed calls; p50/p90 by nearest rank; total minutes of
 *   every call's duration;
 * - cost: the sum of the `cost` column when any row carries one; otherwise an
 *   estimate of total minutes × the configured price per minute.
 */

export type ResultLike = Record<string, string | number | null | undefined>;

export interface Rate {
  dialed: number;
  completed: number;
  /** completed / dialed, null when nothing was dialed. */
  rate: number | null;
}

export const VERDICTS = ['accepted', 'rejected', 'duplicate', 'screened'] as const;
export type Verdict = (typeof VERDICTS)[number];
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

export interface CampaignReport {
  campaign: string;
  /** Data rows reported on. */
  rows: number;
  by_outcome: Record<string, number>;
  by_verdict: Record<Verdict, number>;
  pickup: {
    overall: Rate;
    by_attempt: Record<string, Rate>;
    /** "0".."23" (in that order), every hour listed. */
    by_local_hour: Record<string, Rate>;
    /** mon..sun, every day listed. */
    by_weekday: Record<string, Rate>;
    by_timezone: Record<string, Rate>;
    /** null when the results have no `assistant` column. */
    by_assistant: Record<string, Rate> | null;
  };
  duration: { calls: number; p50_seconds: number | null; p90_seconds: number | null; total_minutes: number };
  attempts: { contacts: number; mean: number | null; histogram: Record<string, number> };
  timeline: {
    /** Start of the first bucket (ISO), null when nothing was dialed. */
    start: string | null;
    bucket_seconds: number;
    dials: number[];
    answers: number[];
    /** Where the dial times came from: every POST in the audit record, or each row's last call. */
    dials_from: 'audit' | 'results';
  };
  dead_letters: { rows: number; listed: number; retried: number; by_reason: Record<string, number> };
  rejects: { rows: number; by_reason: Record<string, number> };
  cost: {
    source: 'calls' | 'estimate' | 'none';
    total: number | null;
    per_completed_call: number | null;
    calls_with_cost: number;
    price_per_minute: number | null;
  };
}

export interface DeadLetterInfo {
  retried: boolean;
}

const SCREENED = new Set(['suppressed', 'no-consent']);
/** Buckets in the timeline at most; a longer campaign gets wider buckets. */
const MAX_BUCKETS = 720;

export function verdictOf(outcome: string): Verdict {
  if (outcome === 'rejected') return 'rejected';
  if (outcome === 'duplicate') return 'duplicate';
  return SCREENED.has(outcome) ? 'screened' : 'accepted';
}

export function num(v: unknown): number | undefined {
  if (v === null || v === undefined || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : undefined;
}

const text = (v: ResultLike[string]): string => (v === null || v === undefined ? '' : String(v));

/** The first zone of a `timezone` cell ("Australia/Sydney|Australia/Perth", "Europe/London (fallback)"). */
export function firstZone(cell: string): string {
  return cell.split('|')[0]!.replace(/\s*\(.*\)\s*$/, '').trim();
}

const zoneFormats = new Map<string, Intl.DateTimeFormat | null>();
/** Local hour (0-23) and weekday (mon..sun) of `iso` in `zone`; undefined for a bad time or zone. */
export function localHourDay(iso: string, zone: string): { hour: number; day: string } | undefined {
  const t = Date.parse(iso);
  if (!Number.isFinite(t) || !zone) return undefined;
  let f = zoneFormats.get(zone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', hourCycle: 'h23', weekday: 'short' });
    } catch {
      f = null;
    }
    zoneFormats.set(zone, f);
  }
  if (!f) return undefined;
  const parts = f.formatToParts(new Date(t));
  const hour = Number(parts.find((p) => p.type === 'hour')?.value);
  const day = parts.find((p) => p.type === 'weekday')?.value.slice(0, 3).toLowerCase() ?? '';
  return Number.isFinite(hour) && (WEEKDAYS as readonly string[]).includes(day) ? { hour, day } : undefined;
}

/** Nearest-rank percentile of ascending `sorted`; null when empty. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1;
  return sorted[i]!;
}

/** Error texts differ per row in quoted values and numbers (lines, ids, masked digits): those become "…" and "#", so rows group by reason. */
export function reasonOf(error: string): string {
  const r = error.trim().replace(/"[^"]*"/g, '"…"').replace(/\+?[\d•]+/g, '#').slice(0, 160);
  return r || '(no reason given)';
}

function tally(m: Record<string, Rate>, key: string, completed: boolean): void {
  const r = (m[key] ??= { dialed: 0, completed: 0, rate: null });
  r.dialed++;
  if (completed) r.completed++;
}

function withRates(m: Record<string, Rate>): Record<string, Rate> {
  for (const r of Object.values(m)) r.rate = r.dialed ? r.completed / r.dialed : null;
  return m;
}

const sortKeys = <T>(m: Record<string, T>, cmp?: (a: string, b: string) => number): Record<string, T> =>
  Object.fromEntries(Object.keys(m).sort(cmp).map((k) => [k, m[k]!]));
const numeric = (a: string, b: string) => Number(a) - Number(b);

/** Folds results rows into a report, one row at a time. */
export class ReportBuilder {
  private rows = 0;
  private hasAssistant = false;
  private readonly byOutcome: Record<string, number> = {};
  private readonly byVerdict = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  private readonly overall: Rate = { dialed: 0, completed: 0, rate: null };
  private readonly byAttempt: Record<string, Rate> = {};
  private readonly byHour: Record<string, Rate> = Object.fromEntries(Array.from({ length: 24 }, (_, h) => [String(h), { dialed: 0, completed: 0, rate: null }]));
  private readonly byDay: Record<string, Rate> = Object.fromEntries(WEEKDAYS.map((d) => [d, { dialed: 0, completed: 0, rate: null }]));
  private readonly byZone: Record<string, Rate> = {};
  private readonly byAssistant: Record<string, Rate> = {};
  private readonly durations: number[] = [];
  private totalSeconds = 0;
  private readonly attemptsHist: Record<string, number> = {};
  private attemptsSum = 0;
  private readonly dlqReasons: Record<string, number> = {};
  private readonly rejectReasons: Record<string, number> = {};
  private costSum = 0;
  private costRows = 0;
  /** Minute-resolution times; a campaign's calls are bounded, so these stay small next to the rows. */
  private readonly dialTimes: number[] = [];
  private readonly rowCallTimes: number[] = [];
  private readonly answerTimes: number[] = [];

  /** `columns`: the results header, to tell whether an `assistant` column exists even when every cell is empty. */
  constructor(readonly campaign: string, columns?: readonly string[]) {
    if (columns?.includes('assistant')) this.hasAssistant = true;
  }

  add(r: ResultLike): void {
    this.rows++;
    const outcome = text(r.outcome) || 'pending';
    this.byOutcome[outcome] = (this.byOutcome[outcome] ?? 0) + 1;
    if (outcome !== 'pending') this.byVerdict[verdictOf(outcome)]++;
    if ('assistant' in r) this.hasAssistant = true;
    const error = text(r.error);
    if (outcome === 'dead-letter') this.dlqReasons[reasonOf(error)] = (this.dlqReasons[reasonOf(error)] ?? 0) + 1;
    if (outcome === 'rejected') this.rejectReasons[reasonOf(error)] = (this.rejectReasons[reasonOf(error)] ?? 0) + 1;

    const duration = num(r.duration_seconds);
    if (duration !== undefined) this.totalSeconds += duration;
    const cost = num(r.cost);
    if (cost !== undefined) {
      this.costSum += cost;
      this.costRows++;
    }
    const attempts = num(r.attempts) ?? 0;
    if (attempts < 1) return;

    const done = outcome === 'completed';
    this.attemptsHist[String(attempts)] = (this.attemptsHist[String(attempts)] ?? 0) + 1;
    this.attemptsSum += attempts;
    tally({ x: this.overall }, 'x', done);
    tally(this.byAttempt, String(attempts), done);
    const zone = firstZone(text(r.timezone));
    tally(this.byZone, zone || 'unknown', done);
    if (this.hasAssistant) tally(this.byAssistant, text(r.assistant) || '(none)', done);
    if (done && duration !== undefined) this.durations.push(duration);

    const ended = text(r.ended_at);
    const at = localHourDay(ended, zone);
    if (at) {
      tally(this.byHour, String(at.hour), done);
      tally(this.byDay, at.day, done);
    }
    const callAt = Date.parse(text(r.started_at) || ended);
    if (Number.isFinite(callAt)) this.rowCallTimes.push(callAt);
    if (done && Number.isFinite(callAt)) this.answerTimes.push(callAt);
  }

  /** One POST /calls at `iso` (from the audit record). */
  addDial(iso: string): void {
    const t = Date.parse(iso);
    if (Number.isFinite(t)) this.dialTimes.push(t);
  }

  finish(o: { deadLetters?: DeadLetterInfo[]; pricePerMinute?: number } = {}): CampaignReport {
    const sorted = [...this.durations].sort((a, b) => a - b);
    const totalMinutes = this.totalSeconds / 60;
    const completed = this.byOutcome.completed ?? 0;
    const price = o.pricePerMinute ?? null;
    const source = this.costRows > 0 ? 'calls' : price !== null ? 'estimate' : 'none';
    const costTotal = source === 'calls' ? this.costSum : source === 'estimate' ? totalMinutes * price! : null;
    return {
      campaign: this.campaign,
      rows: this.rows,
      by_outcome: sortKeys(this.byOutcome),
      by_verdict: this.byVerdict,
      pickup: {
        overall: withRates({ x: this.overall }).x!,
        by_attempt: sortKeys(withRates(this.byAttempt), numeric),
        by_local_hour: withRates(this.byHour),
        by_weekday: withRates(this.byDay),
        by_timezone: sortKeys(withRates(this.byZone)),
        by_assistant: this.hasAssistant ? sortKeys(withRates(this.byAssistant)) : null,
      },
      duration: { calls: sorted.length, p50_seconds: percentile(sorted, 50), p90_seconds: percentile(sorted, 90), total_minutes: totalMinutes },
      attempts: { contacts: this.overall.dialed, mean: this.overall.dialed ? this.attemptsSum / this.overall.dialed : null, histogram: sortKeys(this.attemptsHist, numeric) },
      timeline: this.timeline(),
      dead_letters: {
        rows: this.byOutcome['dead-letter'] ?? 0,
        listed: o.deadLetters?.length ?? 0,
        retried: o.deadLetters?.filter((d) => d.retried).length ?? 0,
        by_reason: sortKeys(this.dlqReasons),
      },
      rejects: { rows: this.byOutcome.rejected ?? 0, by_reason: sortKeys(this.rejectReasons) },
      cost: {
        source,
        total: costTotal,
        per_completed_call: costTotal !== null && completed > 0 ? costTotal / completed : null,
        calls_with_cost: this.costRows,
        price_per_minute: price,
      },
    };
  }

  private timeline(): CampaignReport['timeline'] {
    const fromAudit = this.dialTimes.length > 0;
    const dials = fromAudit ? this.dialTimes : this.rowCallTimes;
    const all = [...dials, ...this.answerTimes];
    if (all.length === 0) return { start: null, bucket_seconds: 60, dials: [], answers: [], dials_from: fromAudit ? 'audit' : 'results' };
    let lo = Infinity;
    let hi = -Infinity;
    for (const t of all) {
      if (t < lo) lo = t;
      if (t > hi) hi = t;
    }
    const start = Math.floor(lo / 60_000) * 60_000;
    const minutes = Math.floor((hi - start) / 60_000) + 1;
    const bucketMinutes = Math.max(1, Math.ceil(minutes / MAX_BUCKETS));
    const n = Math.ceil(minutes / bucketMinutes);
    const bucket = (ts: number[]) => {
      const out = new Array<number>(n).fill(0);
      for (const t of ts) out[Math.floor((t - start) / (bucketMinutes * 60_000))]!++;
      return out;
    };
    return { start: new Date(start).toISOString(), bucket_seconds: bucketMinutes * 60, dials: bucket(dials), answers: bucket(this.answerTimes), dials_from: fromAudit ? 'audit' : 'results' };
  }
}

/** A whole report from rows in memory (tests, small inputs). */
export function computeReport(campaign: string, rows: Iterable<ResultLike>, o: { dials?: string[]; deadLetters?: DeadLetterInfo[]; pricePerMinute?: number; columns?: readonly string[] } = {}): CampaignReport {
  const b = new ReportBuilder(campaign, o.columns);
  for (const r of rows) b.add(r);
  for (const d of o.dials ?? []) b.addDial(d);
  return b.finish(o);
}
