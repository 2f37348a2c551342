import { IANAZone } from 'luxon';

/**
 * Wall-clock arithmetic in IANA zones, pure (no clock reads) and fast.
 *
 * luxon's IANAZone.offset() formats a date with Intl on every call (too slow for a check per row),
 * and DateTime.fromObject() resolves an ambiguous fall-back time with a guess seeded
 * from the *current* clock. So offsets are memoised per (zone, UTC day) — at most one
 * transition per day in real tz data — and local → instant is done here, choosing the
 * first occurrence of a repeated time and the end of the gap for a skipped one.
 */

export const DAY_MS = 86_400_000;
const MIN_MS = 60_000;

/** Offset (minutes) before `at`, the transition instant, and the offset from then on. */
type DayOffsets = { before: number; at: number; after: number };

const zoneObjs = new Map<string, IANAZone | null>();
const dayCache = new Map<string, Map<number, DayOffsets>>();

function zoneObj(zone: string): IANAZone | null {
  let z = zoneObjs.get(zone);
  if (z === undefined) {
    z = IANAZone.isValidZone(zone) ? IANAZone.create(zone) : null;
    zoneObjs.set(zone, z);
  }
  return z;
}

export function isValidZone(zone: string): boolean {
  return zoneObj(zone) !== null;
}

/** UTC offset of `zone` at instant `ms`, in minutes. The zone must be valid. */
export function offsetMinutes(zone: string, ms: number): number {
  let days = dayCache.get(zone);
  if (!days) dayCache.set(zone, (days = new Map<number, DayOffsets>()));
  const day = Math.floor(ms / DAY_MS);
  let e = days.get(day);
  if (!e) {
    const z = zoneObj(zone);
    if (!z) throw new Error(`not an IANA zone: ${zone}`);
    const start = day * DAY_MS;
    const before = z.offset(start);
    const after = z.offset(start + DAY_MS - 1);
    let at = Infinity;
    if (before !== after) {
      // Binary search to the minute: transitions happen on whole minutes.
      let lo = start; // offset == before
      let hi = start + DAY_MS - MIN_MS; // offset == after (checked below)
      if (z.offset(hi) !== after) hi = start + DAY_MS - 1;
      while (hi - lo > MIN_MS) {
        const mid = lo + Math.floor((hi - lo) / 2 / MIN_MS) * MIN_MS;
        if (z.offset(mid) === before) lo = mid;
        else hi = mid;
      }
      at = hi;
    }
    e = { before, at, after };
    if (days.size > 20_000) days.clear(); // bound memory for long-running processes
    days.set(day, e);
  }
  return ms < e.at ? e.before : e.after;
}

/** Local calendar position of an instant. `day` counts local days since 1970-01-01. */
export interface LocalTime {
  day: number;
  /** Milliseconds since local midnight. */
  msOfDay: number;
  /** 0 = Sunday … 6 = Saturday. */
  dow: number;
}

export function localTime(zone: string, ms: number): LocalTime {
  const local = ms + offsetMinutes(zone, ms) * MIN_MS;
  const day = Math.floor(local / DAY_MS);
  return { day, msOfDay: local - day * DAY_MS, dow: dayOfWeek(day) };
}

export function dayOfWeek(day: number): number {
  return (((day + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
}

/**
 * The earliest instant ≥ notBefore whose wall time in `zone` reads `msOfDay` on local
 * `day`: the first occurrence on a fall-back day (the second only if the first is
 * before notBefore); on a spring-forward day a skipped time maps to the moment the
 * clock jumps, which is the first instant the wall clock reads ≥ that time.
 */
export function localToInstant(zone: string, day: number, msOfDay: number, notBefore = -Infinity): number {
  const wall = day * DAY_MS + msOfDay;
  // Real offsets lie within [-12 h, +14 h]: probing just outside that range finds the
  // offsets on both sides of any transition near `wall`.
  const oEarly = offsetMinutes(zone, wall - 15 * 3_600_000);
  const oLate = offsetMinutes(zone, wall + 13 * 3_600_000);
  let best = Infinity;
  for (const o of oEarly === oLate ? [oEarly] : [oEarly, oLate]) {
    const u = wall - o * MIN_MS;
    if (offsetMinutes(zone, u) === o && u >= notBefore && u < best) best = u;
  }
  if (best !== Infinity) return best;
  if (oEarly !== oLate) {
    const uAfter = wall - oEarly * MIN_MS; // read with the old offset: lands after the jump
    const uBefore = wall - oLate * MIN_MS;
    const gapEnd = transitionBetween(zone, Math.min(uBefore, uAfter), Math.max(uBefore, uAfter));
    if (gapEnd >= notBefore) return gapEnd;
  }
  // Only reachable when the single occurrence is before notBefore.
  return Math.max(notBefore, wall - oLate * MIN_MS);
}

function transitionBetween(zone: string, lo: number, hi: number): number {
  const o = offsetMinutes(zone, lo);
  while (hi - lo > MIN_MS) {
    const mid = lo + Math.floor((hi - lo) / 2 / MIN_MS) * MIN_MS;
    if (offsetMinutes(zone, mid) === o) lo = mid;
    else hi = mid;
  }
  return hi;
}
