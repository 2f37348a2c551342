import type { ZoneInfo } from '../phone/zones.js';
import { nationalCalendar, regionCalendar, type HolidayCalendar } from './holidays.js';
import type { CallingHours, Weekday } from './index.js';

/** [start, end) in minutes after local midnight; end may be 1440 (24:00). */
export type Span = readonly [number, number];
/** Allowed spans for each day of the week, index 0 = Sunday (Date#getUTCDay order). */
export type Week = readonly (readonly Span[])[];

/** Everything checkWindow needs for one (calling_hours, contact state/country) pair. */
export interface Policy {
  /** 'au-telemarketing', 'us-tcpa+FL', 'uk+custom', … — leads every rule text. */
  label: string;
  week: Week;
  /** A local day that is a holiday in any of these is closed all day. */
  calendars: readonly HolidayCalendar[];
  /** Open at every instant everywhere: skip all zone work. */
  unlimited: boolean;
}

const ALL_DAY: Span[] = [[0, 1440]];
const NONE: Span[] = [];
const weekOf = (weekday: Span[], sat: Span[], sun: Span[]): Week => [sun, weekday, weekday, weekday, weekday, weekday, sat];
const everyDay = (spans: Span[]): Week => weekOf(spans, spans, spans);

const PRESETS: Record<CallingHours['preset'], Week> = {
  // Telecommunications (Telemarketing and Research Calls) Industry Standard 2017 (ACMA),
  // calling times — unchanged from the 2007 Standard: Mon–Fri 09:00–20:00, Sat 09:00–17:00,
  // no calls on Sunday or a national public holiday, in the recipient's local time.
  'au-telemarketing': weekOf([[540, 1200]], [[540, 1020]], NONE),
  // 47 CFR § 64.1200(c)(1) (TCPA) and 16 CFR § 310.4(c) (FTC TSR): no telephone
  // solicitation before 8 am or after 9 pm at the called party's location, any day.
  'us-tcpa': everyDay([[480, 1260]]),
  // UK law sets no calling hours for marketing calls (PECR and Ofcom's persistent-misuse
  // policy govern consent and nuisance, not times). Our conservative default: the AU
  // shape, no Sundays, no England & Wales bank holidays.
  uk: weekOf([[540, 1200]], [[540, 1020]], NONE),
  none: everyDay(ALL_DAY),
};

/**
 * US states with stricter hours than the TCPA, by the number's state (area code),
 * local time. Only statutes we could cite; states that ban Sundays/holidays in rules
 * we could not pin down (AL, LA, RI, UT, PA…) are NOT encoded — add `holidays: true`
 * (the contact state's public holidays) or a narrower custom window for those.
 */
export const US_STATE_WEEKS: Readonly<Record<string, { week: Week; cite: string }>> = {
  FL: { week: everyDay([[480, 1200]]), cite: 'Fla. Stat. § 501.616(6)(a) (FTSA, as amended 2021)' },
  OK: { week: everyDay([[480, 1200]]), cite: 'Okla. Stat. tit. 15, § 775C.4 (Telephone Solicitation Act of 2022)' },
  MD: { week: everyDay([[480, 1200]]), cite: 'Md. Code, Com. Law § 14-4503 (Stop the Spam Calls Act of 2023)' },
  WA: { week: everyDay([[480, 1200]]), cite: 'RCW 80.36.390(2)' },
  CT: { week: everyDay([[540, 1200]]), cite: 'Conn. Gen. Stat. § 42-288a (as amended by P.A. 23-98)' },
  TX: { week: weekOf([[540, 1260]], [[540, 1260]], [[720, 1260]]), cite: 'Tex. Bus. & Com. Code § 301.051' },
  MS: { week: weekOf([[480, 1200]], [[480, 1200]], NONE), cite: 'Miss. Code Ann. § 77-3-725' },
};

const DAY_INDEX: Record<Weekday, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };

export function hhmmToMinutes(s: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(s.trim());
  if (!m) throw new RangeError(`calling_hours time must be "HH:MM": ${s}`);
  const min = Number(m[1]) * 60 + Number(m[2]);
  if (min > 1440 || Number(m[2]) > 59) throw new RangeError(`calling_hours time out of range: ${s}`);
  return min;
}

/** Both lists sorted and non-overlapping; so is the result. */
export function intersectSpans(a: readonly Span[], b: readonly Span[]): Span[] {
  const out: Span[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const [as, ae] = a[i]!;
    const [bs, be] = b[j]!;
    const s = Math.max(as, bs);
    const e = Math.min(ae, be);
    if (s < e) out.push([s, e]);
    if (ae < be) i++;
    else j++;
  }
  return out;
}

/** Custom start/end as spans; start > end is an overnight window on each calendar day. */
function customSpans(start?: string, end?: string): Span[] | undefined {
  if (start === undefined && end === undefined) return undefined;
  const s = start === undefined ? 0 : hhmmToMinutes(start);
  const e = end === undefined ? 1440 : hhmmToMinutes(end);
  if (s < e) return [[s, e]];
  if (s > e) return ([[0, e], [s, 1440]] as Span[]).filter(([a, b]) => a < b);
  return []; // start == end: nothing is allowed, rather than guess "all day"
}

const cache = new Map<string, Policy>();

export function policyFor(hours: CallingHours | undefined, zone: ZoneInfo): Policy {
  const preset = hours?.preset ?? 'none';
  const state = preset === 'us-tcpa' && zone.subdivision?.startsWith('US-') ? zone.subdivision.slice(3) : '';
  const stateRule = state ? US_STATE_WEEKS[state] : undefined;
  const holidayCountry = hours?.holidays ? (zone.country ?? '') : '';
  const key = `${preset}|${hours?.days?.join(',') ?? ''}|${hours?.start ?? ''}|${hours?.end ?? ''}|${stateRule ? state : ''}|${holidayCountry}|${holidayCountry ? (zone.subdivision ?? '') : ''}`;
  let p = cache.get(key);
  if (p) return p;

  let week = PRESETS[preset];
  let label: string = preset;
  if (stateRule) {
    week = week.map((spans, d) => intersectSpans(spans, stateRule.week[d]!));
    label += `+${state}`;
  }
  const custom = customSpans(hours?.start, hours?.end);
  const days = hours?.days ? new Set(hours.days.map((d) => DAY_INDEX[d])) : undefined;
  if (custom || days) {
    week = week.map((spans, d) => (days && !days.has(d) ? [] : custom ? intersectSpans(spans, custom) : spans));
    label += '+custom';
  }
  const calendars: HolidayCalendar[] = [];
  if (preset === 'au-telemarketing') calendars.push(nationalCalendar('AU'));
  if (preset === 'uk') calendars.push(regionCalendar('GB', 'ENG'));
  if (holidayCountry) {
    const sub = zone.subdivision?.startsWith(`${holidayCountry}-`) ? zone.subdivision.slice(holidayCountry.length + 1) : undefined;
    calendars.push(regionCalendar(holidayCountry, sub));
  }
  const unlimited = calendars.length === 0 && week.every((spans) => spans.length === 1 && spans[0]![0] === 0 && spans[0]![1] === 1440);
  p = { label, week, calendars, unlimited };
  if (cache.size > 10_000) cache.clear();
  cache.set(key, p);
  return p;
}
