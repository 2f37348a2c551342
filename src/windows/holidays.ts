import Holidays from 'date-holidays';
import { DAY_MS } from './tz.js';

/**
 * Public-holiday calendars as sets of local days (days since 1970-01-01), built from
 * date-holidays once per (country, region, year) and cached: building a year costs
 * milliseconds, a lookup afterwards is a Set.has.
 *
 * Only whole-day holidays of type 'public' count. Part-day ones (date-holidays has
 * "Christmas Eve from 19:00" in SA, NT, QLD) are left out: a day closed from 7 pm is not
 * something a day-level calendar can say, and no preset here needs it.
 */
export interface HolidayCalendar {
  /** e.g. 'AU national', 'GB-ENG', 'US-FL'. */
  readonly label: string;
  /** Holiday name when local `day` is a holiday of this calendar, else undefined. */
  holiday(day: number): string | undefined;
}

type YearMap = Map<number, Map<number, string>>;

const instances = new Map<string, Holidays>();

// An unknown country yields no holidays; an unknown region, the country's own list.
function instance(country: string, region?: string): Holidays {
  const key = `${country}-${region ?? ''}`;
  let hd = instances.get(key);
  if (!hd) instances.set(key, (hd = region ? new Holidays(country, region) : new Holidays(country)));
  return hd;
}

function wholeDayPublic(hd: Holidays, year: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const h of hd.getHolidays(year)) {
    if (h.type !== 'public' || !/^\d{4}-\d\d-\d\d 00:00:00/.test(h.date)) continue;
    if (h.end.getTime() - h.start.getTime() < 23 * 3_600_000) continue;
    const [y, m, d] = h.date.slice(0, 10).split('-').map(Number) as [number, number, number];
    const day = Date.UTC(y, m - 1, d) / DAY_MS;
    if (!out.has(day)) out.set(day, h.name);
  }
  return out;
}

function yearOf(day: number): number {
  return new Date(day * DAY_MS).getUTCFullYear();
}

function cachedCalendar(label: string, build: (year: number) => Map<number, string>): HolidayCalendar {
  const years: YearMap = new Map();
  // Fast path: remember the year span of the last lookup so most calls skip yearOf().
  let lo = Infinity;
  let hi = -Infinity;
  let cur: Map<number, string> | undefined;
  return {
    label,
    holiday(day) {
      if (day < lo || day >= hi) {
        const y = yearOf(day);
        cur = years.get(y);
        if (!cur) years.set(y, (cur = build(y)));
        lo = Date.UTC(y, 0, 1) / DAY_MS;
        hi = Date.UTC(y + 1, 0, 1) / DAY_MS;
      }
      return cur!.get(day);
    },
  };
}

const calendars = new Map<string, HolidayCalendar>();

/** Public holidays of a country, or of one region of it (date-holidays codes: 'AU','QLD'). */
export function regionCalendar(country: string, region?: string): HolidayCalendar {
  const label = region ? `${country}-${region}` : country;
  let cal = calendars.get(label);
  if (!cal) {
    cal = cachedCalendar(label, (year) => wholeDayPublic(instance(country, region), year));
    calendars.set(label, cal);
  }
  return cal;
}

/**
 * A country's national public holidays, for au-telemarketing ("no calls on a national
 * public holiday"). Read as the union of
 *  - the holidays date-holidays lists for the country as a whole (AU: New Year, Australia
 *    Day, Good Friday, Easter Saturday/Sunday/Monday, Anzac Day, Christmas, Boxing Day and
 *    their substitute days), and
 *  - any day that is a public holiday in every state and territory.
 * The strict "every state" reading alone would let calls through on Christmas Day 2027
 * (a Saturday Tasmania moves to the Monday) and on Boxing Day 2026 (SA calls it
 * Proclamation Day, TAS moves it): we err on not calling. Easter Saturday is closed
 * although WA and TAS don't keep it.
 */
export function nationalCalendar(country: string): HolidayCalendar {
  const label = `${country} national`;
  let cal = calendars.get(label);
  if (!cal) {
    cal = cachedCalendar(label, (year) => {
      const regions = Object.keys(instance(country).getStates(country) ?? {});
      const maps = regions.map((r) => wholeDayPublic(instance(country, r), year));
      const out = wholeDayPublic(instance(country), year);
      const [first, ...rest] = maps;
      for (const [day, name] of first ?? []) if (!out.has(day) && rest.every((m) => m.has(day))) out.set(day, name);
      return out;
    });
    calendars.set(label, cal);
  }
  return cal;
}
