import { ZONE_TABLE } from './zone-table.js';

/**
 * How zone lists are stored in rows and audit entries. A list whose zones are
 * all in ZONE_TABLE is `#` and two characters per zone ("#0a0b…", 15 bytes
 * for an Australian mobile's seven zones instead of 70); any other is packed
 * by area ("Australia/Adelaide|~Brisbane"), the encoding before, which still
 * decodes. A packed value that itself starts with `#` (a timezone column
 * holding anything) is stored with one `#` more, so it can't read as codes.
 */
const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const CODE_OF = new Map(ZONE_TABLE.map((z, i) => [z, DIGITS[Math.floor(i / 62)]! + DIGITS[i % 62]!]));

/** The two-character code of a zone in ZONE_TABLE. */
export function zoneCode(zone: string): string | undefined {
  return CODE_OF.get(zone);
}

/** The zone a two-character code stands for. */
export function codeZone(code: string): string | undefined {
  if (code.length !== 2) return undefined;
  const hi = DIGITS.indexOf(code[0]!);
  const lo = DIGITS.indexOf(code[1]!);
  return hi < 0 || lo < 0 ? undefined : ZONE_TABLE[hi * 62 + lo];
}

/** "Australia/Adelaide|Australia/Brisbane" → "Australia/Adelaide|~Brisbane": a zone in the area of the one before it. */
export function packZones(tz: string): string {
  let area = '';
  return tz.split('|').map((z) => {
    const i = z.lastIndexOf('/');
    const a = i > 0 ? z.slice(0, i) : '';
    const out = a && a === area ? `~${z.slice(i + 1)}` : z;
    area = a;
    return out;
  }).join('|');
}

export function unpackZones(packed: string): string {
  if (!packed.includes('~')) return packed;
  let area = '';
  return packed.split('|').map((z) => {
    const full = z.startsWith('~') && area ? `${area}/${z.slice(1)}` : z;
    const i = full.lastIndexOf('/');
    area = i > 0 ? full.slice(0, i) : '';
    return full;
  }).join('|');
}

/** A zone list ("a|b") as stored: codes when every zone has one, else packed by area. */
export function encodeZones(tz: string): string {
  if (tz !== '') {
    const codes = tz.split('|').map(zoneCode);
    if (codes.every((c) => c !== undefined)) return `#${codes.join('')}`;
  }
  const packed = packZones(tz);
  return packed.startsWith('#') ? `#${packed}` : packed;
}

/** A stored zone list (this encoding or the ones before) as "a|b". */
export function decodeZones(stored: string): string {
  if (!stored.startsWith('#')) return unpackZones(stored);
  if (stored.startsWith('##')) return unpackZones(stored.slice(1));
  const body = stored.slice(1);
  if (body.length > 0 && body.length % 2 === 0) {
    const zones: string[] = [];
    for (let i = 0; i < body.length; i += 2) {
      const z = codeZone(body.slice(i, i + 2));
      if (z === undefined) return stored;
      zones.push(z);
    }
    return zones.join('|');
  }
  // Not codes: a value stored as it came, before this encoding.
  return stored;
}
