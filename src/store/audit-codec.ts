import { packZones, unpackZones } from './row-codec.js';

/**
 * How an audit event's fields are stored in the stream: zone lists packed by
 * area (as in rows), the mask of a masked number as `*` (one byte, `•` is
 * three), and `at` left out when it is the moment of writing: the entry's id
 * is that time (Redis's clock), and reading puts `at` back from it. An `at`
 * that is another time (business time under DIALER_NOW, a time given by the
 * caller) is kept. Every field of an event reads back under its name: the
 * audit is the record of every dial attempt. Entries written before read as
 * they are.
 */
const MASK = '•';

export function encodeAuditField(field: string, value: string): string {
  if (field === 'timezone') return packZones(value);
  if (field === 'number') return value.replaceAll(MASK, '*');
  return value;
}

export function decodeAuditField(field: string, value: string): string {
  if (field === 'timezone') return unpackZones(value);
  if (field === 'number') return value.replaceAll('*', MASK);
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
