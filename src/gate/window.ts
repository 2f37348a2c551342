import { DateTime } from 'luxon';
import type { Campaign } from '../config/campaign.js';
import type { ZoneInfo } from '../phone/zones.js';
import { checkWindow } from '../windows/index.js';
import type { GateResult } from './types.js';

/** Shortest delay handed back, so a job woken a hair early doesn't spin. */
export const MIN_DELAY_MS = 1000;

export const UNKNOWN_ZONE_REASON = 'time zone unknown (no timezone column value, none from the number, no fallback_timezone): calling hours cannot be checked';

function localIso(zone: string | undefined, ms: number): string | undefined {
  if (!zone) return undefined;
  return DateTime.fromMillis(ms, { zone }).toISO({ suppressMilliseconds: true }) ?? undefined;
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
