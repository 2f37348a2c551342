import type { Campaign } from '../config/campaign.js';
import { canonicalZone, resolveContactZones, zonesForNumber, type ZoneInfo } from '../phone/zones.js';
import type { RowRecord } from '../campaign/row.js';

/**
 * A contact's zone(s) as the results show them (row field `timezone`) and back.
 *
 * At load the row's `timezone` holds the raw timezone-column value; the load screen
 * replaces it with the resolved label, so the results say which zones the window was
 * checked in: "Australia/Perth|Australia/Sydney", "Europe/London (fallback)", "unknown".
 * The gate reads the label back instead of resolving again, and resolves only rows that
 * were never screened (loaded by an older version).
 */

export const FALLBACK_SUFFIX = ' (fallback)';
export const UNKNOWN_ZONE = 'unknown';

/** "a|b", "z (fallback)" or "unknown". */
export function zoneLabel(info: ZoneInfo): string {
  if (info.zones.length === 0) return UNKNOWN_ZONE;
  // zonesForNumber hands out one frozen array per prefix: join each once (loads label every row).
  let zones = joined.get(info.zones);
  if (zones === undefined) joined.set(info.zones, (zones = info.zones.join('|')));
  return info.source === 'fallback' ? zones + FALLBACK_SUFFIX : zones;
}

const joined = new WeakMap<readonly string[], string>();

/** Zones of a contact at load: the timezone column (when the campaign names one), else the number, else the fallback. */
export function resolveRowZones(c: Pick<Campaign, 'timezone_column' | 'fallback_timezone'>, rec: Pick<RowRecord, 'phone' | 'timezone'>): ZoneInfo {
  return resolveContactZones(rec.phone, {
    timezoneColumnValue: c.timezone_column ? rec.timezone : undefined,
    fallbackTimezone: c.fallback_timezone,
  });
}

const labelCache = new Map<string, string[] | null>();

/** "a|b" → ['a','b'] when every part is a valid zone, else null. Cached: a list has few distinct labels. */
function parseZones(label: string): string[] | null {
  let zones = labelCache.get(label);
  if (zones === undefined) {
    const parts = label.split('|').map((p) => canonicalZone(p));
    zones = parts.length > 0 && parts.every((p): p is string => p !== null) ? parts : null;
    if (labelCache.size > 10_000) labelCache.clear();
    labelCache.set(label, zones);
  }
  return zones;
}

/**
 * The zones the gate checks the window in. Country and state (for state rules and
 * holidays) always come from the number.
 */
export function rowZones(c: Pick<Campaign, 'timezone_column' | 'fallback_timezone'>, rec: Pick<RowRecord, 'phone' | 'timezone'>): ZoneInfo {
  const label = rec.timezone;
  if (label === undefined || label === '') return resolveRowZones(c, rec);
  const num = zonesForNumber(rec.phone);
  // "unknown": nothing from column, number or fallback at load; resolving again says the same.
  if (label === UNKNOWN_ZONE) return resolveRowZones(c, rec);
  if (label.endsWith(FALLBACK_SUFFIX)) {
    const zones = parseZones(label.slice(0, -FALLBACK_SUFFIX.length));
    if (zones) return { ...num, zones, source: 'fallback' };
  }
  const zones = parseZones(label);
  if (zones) {
    const same = zones.length === num.zones.length && zones.every((z, i) => z === num.zones[i]);
    return { ...num, zones, source: same ? 'number' : 'column' };
  }
  // A raw column value that is no zone: resolve as the load screen would have.
  return resolveRowZones(c, rec);
}
