import type { RowRecord } from '../campaign/row.js';

/**
 * How a row record is stored in the rows hash: JSON, with the fields no Lua
 * script reads under short names, times as epoch ms and zone lists packed.
 * The one place that knows; every reader decodes here, so RowRecord stays
 * the shape the rest of the code sees.
 *
 * The Lua scripts (store/scripts.ts, append.ts, privacy-scripts.ts, live.ts,
 * deadline.ts, the outbox) read and write rows with cjson under the long
 * names (state, outcome, phone, call_id, job, status, error, next_at, alts,
 * name, vars, keep, summary, transcript, recording_url, numbers_tried,
 * attempts, row, dlq_retried): those keep their names. A patch merged by a
 * script goes through encodeRowPatch, so a short field is set and cleared
 * under its short name (and the long one is cleared too, for a row written
 * before this encoding). Rows written before decode as they are.
 */
const SHORT = {
  duration_seconds: 'd',
  ended_reason: 'er',
  started_at: 'sa',
  ended_at: 'ea',
  cost: 'c',
  http_status: 'h',
  timezone: 'tz',
  consent: 'cn',
  placed_at: 'pa',
  assistant: 'as',
  redials: 'rd',
  reaped: 'rp',
  upload: 'u',
} as const satisfies Partial<Record<keyof RowRecord, string>>;
type Mapped = keyof typeof SHORT;
const LONG: Record<string, Mapped> = Object.fromEntries(Object.entries(SHORT).map(([l, s]) => [s, l as Mapped]));
const TIMES = new Set<string>(['started_at', 'ended_at']);

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

/** An ISO time as ms when it reads back exactly the same, else the text as it came. */
function packTime(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const ms = Date.parse(v);
  return Number.isFinite(ms) && new Date(ms).toISOString() === v ? ms : v;
}

function packValue(field: Mapped, v: unknown): unknown {
  if (v === null || v === undefined) return v;
  if (TIMES.has(field)) return packTime(v);
  if (field === 'timezone' && typeof v === 'string') return packZones(v);
  return v;
}

function unpackValue(field: Mapped, v: unknown): unknown {
  if (TIMES.has(field) && typeof v === 'number') return new Date(v).toISOString();
  if (field === 'timezone' && typeof v === 'string') return unpackZones(v);
  return v;
}

/** The stored form of a whole record (loads, appends, retention stubs). */
export function encodeRow(rec: RowRecord): string {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rec)) {
    if (v === undefined) continue;
    if (k in SHORT) out[SHORT[k as Mapped]] = packValue(k as Mapped, v);
    else out[k] = v;
  }
  return JSON.stringify(out);
}

/** The stored form of a patch a Lua script merges into a row (null clears a field). */
export function encodeRowPatch(patch: Partial<Record<keyof RowRecord, unknown>>): string {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (k in SHORT) {
      out[SHORT[k as Mapped]] = packValue(k as Mapped, v);
      out[k] = null; // the long name goes, where a row written before this encoding has it
    } else out[k] = v;
  }
  return JSON.stringify(out);
}

/** A stored row (this encoding or the one before) as a RowRecord. The short name wins over a stale long one. */
export function decodeRow(json: string): RowRecord {
  const raw = JSON.parse(json) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    const long = LONG[k];
    if (long) out[long] = unpackValue(long, v);
    else if (!(k in out)) out[k] = k === 'timezone' && typeof v === 'string' ? unpackZones(v) : v;
  }
  return out as unknown as RowRecord;
}
