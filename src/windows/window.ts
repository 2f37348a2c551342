import type { ZoneInfo } from '../phone/zones.js';
import { policyFor, type Policy, type Span } from './rules.js';
import { DAY_MS, dayOfWeek, isValidZone, localTime, localToInstant } from './tz.js';
import type { CallingHours, WindowDecision } from './index.js';

/**
 * Is a contact callable at `at`, and if not, from when? A contact with several candidate
 * zones is callable only when the rule holds in EVERY zone (we don't know which one the
 * phone is in). Pure: the time is a parameter.
 *
 * nextOpen leapfrogs over boundaries instead of scanning minutes: each zone reports its
 * own next opening ≥ t, t jumps to the latest of those, and this repeats until every zone
 * is open at t (each round moves t to a later window start, so it ends quickly).
 */

const MIN_MS = 60_000;
const HORIZON_DAYS = 30;
const DOW = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function holidayOf(p: Policy, day: number): string | undefined {
  for (const cal of p.calendars) {
    const name = cal.holiday(day);
    if (name !== undefined) return `${name} (${cal.label})`;
  }
  return undefined;
}

function spansOf(p: Policy, day: number): readonly Span[] {
  return holidayOf(p, day) === undefined ? p.week[dayOfWeek(day)]! : [];
}

function isOpen(p: Policy, zone: string, t: number): boolean {
  const lt = localTime(zone, t);
  return spansOf(p, lt.day).some(([s, e]) => lt.msOfDay >= s * MIN_MS && lt.msOfDay < e * MIN_MS);
}

/** Earliest instant ≥ t when `zone` alone is open, or undefined if after `limit`. */
function zoneNextOpen(p: Policy, zone: string, t: number, limit: number): number | undefined {
  const lt = localTime(zone, t);
  for (let day = lt.day; day <= lt.day + HORIZON_DAYS + 1; day++) {
    for (const [s, e] of spansOf(p, day)) {
      if (day === lt.day) {
        if (lt.msOfDay >= e * MIN_MS) continue;
        if (lt.msOfDay >= s * MIN_MS) return t;
      }
      const u = localToInstant(zone, day, s * MIN_MS, t);
      return u > limit ? undefined : u;
    }
  }
  return undefined;
}

/** First instant > t when `zone` (open at t) closes, or undefined if not before `limit`. */
function zoneCloseAfter(p: Policy, zone: string, t: number, limit: number): number | undefined {
  const lt = localTime(zone, t);
  const span = spansOf(p, lt.day).find(([s, e]) => lt.msOfDay >= s * MIN_MS && lt.msOfDay < e * MIN_MS);
  if (!span) return t;
  let day = lt.day;
  let end = span[1];
  // A window running to 24:00 continues if the next day opens at 00:00.
  while (end === 1440) {
    const first = spansOf(p, day + 1)[0];
    if (!first || first[0] !== 0) break;
    day++;
    end = first[1];
    if (day > lt.day + HORIZON_DAYS + 1) return undefined;
  }
  const u = end === 1440 ? localToInstant(zone, day + 1, 0, t + 1) : localToInstant(zone, day, end * MIN_MS, t + 1);
  return u > limit ? undefined : u;
}

const hhmm = (min: number) => `${String(Math.floor(min / 60)).padStart(2, '0')}:${String(min % 60).padStart(2, '0')}`;

function describe(p: Policy, zone: string, t: number): string {
  const lt = localTime(zone, t);
  const holiday = holidayOf(p, lt.day);
  if (holiday !== undefined) {
    const date = new Date(lt.day * DAY_MS).toISOString().slice(0, 10);
    return `${p.label} public holiday ${date} ${holiday} ${zone}`;
  }
  const spans = p.week[dayOfWeek(lt.day)]!;
  const text = spans.length ? spans.map(([s, e]) => `${hhmm(s)}-${hhmm(e)}`).join(',') : 'no calls';
  return `${p.label} ${DOW[dayOfWeek(lt.day)]} ${text} ${zone}`;
}

function searchNextOpen(p: Policy, zones: readonly string[], t0: number): number | undefined {
  const limit = t0 + HORIZON_DAYS * DAY_MS;
  let t = t0;
  for (let round = 0; round < 10_000; round++) {
    let moved = false;
    for (const zone of zones) {
      const o = zoneNextOpen(p, zone, t, limit);
      if (o === undefined) return undefined;
      if (o > t) {
        t = o;
        moved = true;
      }
    }
    if (!moved) return t;
  }
  return undefined;
}

type Prepared = { p: Policy; zones: readonly string[]; t: number } | WindowDecision;

function prepare(hours: CallingHours | undefined, zone: ZoneInfo, at: Date): Prepared {
  const t = at.getTime();
  if (Number.isNaN(t)) throw new RangeError('checkWindow: invalid Date');
  const p = policyFor(hours, zone);
  if (p.unlimited) return { open: true, rule: `${p.label}: no calling-hours limit` };
  if (zone.zones.length === 0) return { open: false, rule: `${p.label}: contact's time zone unknown` };
  const bad = zone.zones.find((z) => !isValidZone(z));
  if (bad !== undefined) return { open: false, rule: `${p.label}: not an IANA time zone "${bad}"` };
  return { p, zones: zone.zones, t };
}

export function checkWindow(hours: CallingHours | undefined, zone: ZoneInfo, at: Date): WindowDecision {
  const prep = prepare(hours, zone, at);
  if ('open' in prep) return prep;
  const { p, zones, t } = prep;
  const blocker = zones.find((z) => !isOpen(p, z, t));
  if (blocker !== undefined) {
    const next = searchNextOpen(p, zones, t);
    return { open: false, rule: describe(p, blocker, t), nextOpen: next === undefined ? undefined : new Date(next) };
  }
  const limit = t + HORIZON_DAYS * DAY_MS;
  let closes = Infinity;
  let closer = zones[0]!;
  for (const z of zones) {
    const c = zoneCloseAfter(p, z, t, limit);
    if (c !== undefined && c < closes) {
      closes = c;
      closer = z;
    }
  }
  return { open: true, rule: describe(p, closer, t), closesAt: closes === Infinity ? undefined : new Date(closes) };
}

/** `at` itself when open now; else the earliest moment all zones are open; undefined if none within 30 days. */
export function nextOpening(hours: CallingHours | undefined, zone: ZoneInfo, at: Date): Date | undefined {
  const prep = prepare(hours, zone, at);
  if ('open' in prep) return prep.open ? at : undefined;
  const next = searchNextOpen(prep.p, prep.zones, prep.t);
  return next === undefined ? undefined : next === prep.t ? at : new Date(next);
}
