import { DateTime } from 'luxon';
import type { Campaign } from '../config/campaign.js';
import type { ZoneInfo } from '../phone/zones.js';
import { checkWindow } from '../windows/index.js';
import type { GateResult } from './types.js';

/** Shortest delay handed back, so a job woken a hair early doesn't spin. */
export const MIN_DELAY_MS = 1000;

export const UNKNOWN_ZONE_REASON = 'time zone unknown (no timezone column value, none from the number, no fallback_timezone): calling hours cannot be checked';

function luxonIso(zone: string, ms: number): string | undefined {
  return DateTime.fromMillis(ms, { zone }).toISO({ suppressMilliseconds: true }) ?? undefined;
}

/** Per zone, its local time at the start of the current UTC minute, split around the seconds. */
const minuteIso = new Map<string, { minute: number; head: string; offset: string } | null>();
/** "2026-12-02T08:03:00-05:00": date and time up to the seconds, then the offset. */
const MINUTE_ISO = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:)00([+-]\d\d:\d\d|Z)$/;

/**
 * The contact's clock as ISO text with its offset (the audit's `local_time`),
 * as luxon writes it. Luxon takes ~10 µs a call (Intl parts per call), once
 * per dial: the text is worked out once per zone and UTC minute, and the
 * seconds put in. A zone's offset changes only on whole minutes; a minute
 * that does not look like that (an offset with seconds) asks luxon each time.
 */
export function localIso(zone: string | undefined, ms: number): string | undefined {
  if (!zone) return undefined;
  const minute = Math.floor(ms / 60_000);
  let m = minuteIso.get(zone);
  if (m === undefined || (m && m.minute !== minute)) {
    const parts = MINUTE_ISO.exec(luxonIso(zone, minute * 60_000) ?? '');
    m = parts ? { minute, head: parts[1]!, offset: parts[2]! } : null;
    if (minuteIso.size > 1000) minuteIso.clear();
    minuteIso.set(zone, m);
  }
  if (!m || m.minute !== minute) return luxonIso(zone, ms);
  const within = ms - minute * 60_000;
  const sec = Math.floor(within / 1000);
  const milli = within % 1000;
  return `${m.head}${sec < 10 ? '0' : ''}${sec}${milli ? `.${String(milli).padStart(3, '0')}` : ''}${m.offset}`;
}

/** The window part of the gate, pure: time is a parameter. Exported for tests. */
export function windowDecision(c: Pick<Campaign, 'calling_hours'>, zone: ZoneInfo, now: number): GateResult {
  const d = checkWindow(c.calling_hours, zone, new Date(now));
  if (d.open) {
    // The rule names the zone that closes first; show the contact's clock there.
    const named = zone.zones.find((z) => d.rule.endsWith(` ${z}`)) ?? zone.zones[0];
    return { action: 'go', rule: d.rule, localTime: localIso(named, now) };
  }
  if (zone.zones.length === 0) return { action: 'skip', outcome: 'rejected', reason: UNKNOWN_ZONE_REASON };
  if (!d.nextOpen) return { action: 'skip', outcome: 'rejected', reason: `no calling window opens within 30 days (${d.rule})` };
  const nextAt = d.nextOpen.toISOString();
  return { action: 'delay', delayMs: Math.max(MIN_DELAY_MS, d.nextOpen.getTime() - now), nextAt, reason: `outside calling window (${d.rule}); next opening ${nextAt}` };
}
