import { codeZone, decodeZones, encodeZones, zoneCode } from './zone-codes.js';

/**
 * How an audit event's fields are stored in the stream: zone lists packed by
 * area (as in rows), the mask of a masked number as `*` (one byte, `•` is
 * three), and `at` left out when it is the moment of writing: the entry's id
 * is that time (Redis's clock), and reading puts `at` back from it. An `at`
 * that is another time (business time under DIALER_NOW, a time given by the
 * caller) is kept. Every field of an event reads back under its name: the
 * audit is the record of every dial attempt. Entries written before read as
 * they are.
 *
 * Zone lists are coded as in rows (store/zone-codes.ts). A `local_time`
 * ("2026-12-02T23:03:10.794+10:30") is `#`, its instant in base-36 ms and
 * its offset ("#mipq7k2a+10:30"); a `rule` that ends with a zone in the
 * table is `#`, the zone's code and the rest ("#1xAU Mon 09:00-20:00"); one
 * that says there is no limit is `#!` and its label ("#!none"). Each only
 * when it reads back exactly; a value that starts with `#` as it
 * came gets one `#` more.
 */
const MASK = '•';

const ISO_LOCAL = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3})?(Z|[+-]\d\d:\d\d)$/;
const CODED_LOCAL = /^#(-?[0-9a-z]+)(Z|[+-]\d\d:\d\d)$/;

function decodeLocalTime(coded: string): string | undefined {
  const m = CODED_LOCAL.exec(coded);
  if (!m) return undefined;
  const ms = parseInt(m[1]!, 36);
  const off = m[2] === 'Z' ? 0 : (m[2]![0] === '-' ? -1 : 1) * (Number(m[2]!.slice(1, 3)) * 60 + Number(m[2]!.slice(4, 6)));
  const local = new Date(ms + off * 60_000);
  if (!Number.isFinite(local.getTime())) return undefined;
  const iso = local.toISOString().slice(0, -1);
  return (ms % 1000 === 0 ? iso.slice(0, -4) : iso) + m[2]!;
}

function encodeLocalTime(v: string): string | undefined {
  const m = ISO_LOCAL.exec(v);
  const ms = m ? Date.parse(v) : NaN;
  if (!m || !Number.isFinite(ms)) return undefined;
  const coded = `#${ms.toString(36)}${m[1]!}`;
  return decodeLocalTime(coded) === v ? coded : undefined;
}

/** windows/window.ts's rule for a campaign without calling hours. */
const NO_LIMIT = ': no calling-hours limit';

function encodeRule(v: string): string | undefined {
  if (v.endsWith(NO_LIMIT) && v.length > NO_LIMIT.length) return `#!${v.slice(0, -NO_LIMIT.length)}`;
  const i = v.lastIndexOf(' ');
  const code = i > 0 ? zoneCode(v.slice(i + 1)) : undefined;
  return code ? `#${code}${v.slice(0, i)}` : undefined;
}

function decodeRule(coded: string): string | undefined {
  if (coded.startsWith('#!')) return coded.length > 2 ? coded.slice(2) + NO_LIMIT : undefined;
  const zone = codeZone(coded.slice(1, 3));
  return zone && coded.length > 3 ? `${coded.slice(3)} ${zone}` : undefined;
}

export function encodeAuditField(field: string, value: string): string {
  if (field === 'timezone') return encodeZones(value);
  if (field === 'number') return value.replaceAll(MASK, '*');
  if (field === 'local_time' || field === 'rule') {
    const coded = field === 'rule' ? encodeRule(value) : encodeLocalTime(value);
    return coded ?? (value.startsWith('#') ? `#${value}` : value);
  }
  return value;
}

export function decodeAuditField(field: string, value: string): string {
  if (field === 'timezone') return decodeZones(value);
  if (field === 'number') return value.replaceAll('*', MASK);
  if ((field === 'local_time' || field === 'rule') && value.startsWith('#')) {
    if (value.startsWith('##')) return value.slice(1);
    // Not decodable: a value stored as it came, before this encoding.
    return (field === 'rule' ? decodeRule(value) : decodeLocalTime(value)) ?? value;
  }
  return value;
}

/** How far (ms) an `at` may be from the time of writing and still be left to the entry id. */
const AT_SLACK_MS = 1000;

/** The stream fields of an event (empty values left out), as stored. */
export function encodeAuditEvent(event: Record<string, string | number | undefined | null>, nowMs = Date.now()): string[] {
  const flat: string[] = [];
  for (const [k, v] of Object.entries(event)) {
    if (v === undefined || v === null || v === '') continue;
    const s = String(v);
    if (k === 'at' && Math.abs(Date.parse(s) - nowMs) <= AT_SLACK_MS && new Date(Date.parse(s)).toISOString() === s) continue;
    flat.push(k, encodeAuditField(k, s));
  }
  return flat;
}

/** A stream entry as the event it records. */
export function decodeAuditEvent(entryId: string, flat: string[]): Record<string, string> {
  const ev: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) ev[flat[i]!] = decodeAuditField(flat[i]!, flat[i + 1]!);
  if (ev.at === undefined && ev.type !== undefined) {
    const ms = Number(entryId.split('-')[0]);
    if (Number.isFinite(ms)) ev.at = new Date(ms).toISOString();
  }
  return ev;
}
