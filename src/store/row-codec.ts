import type { RowRecord } from '../campaign/row.js';
import { decodeZones, encodeZones } from './zone-codes.js';

export { packZones, unpackZones } from './zone-codes.js';

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
 *
 * Zone lists are coded (store/zone-codes.ts). An `ended_reason` in
 * ENDED_REASONS is stored as its index. A row without a `state` reads as
 * `final` with an outcome, else `queued` (row_state): the load and final
 * moves leave it out. A customVariable that repeats the row's name (the name
 * column is a variable too) and comes first in `vars` is left out and
 * flagged `vn` (its key, 1 for "name"): decoding puts it back from `name`,
 * in front. The erasure script blanks `name` and drops `vars` together, so
 * the flag never brings a name back.
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

/**
 * End reasons stored as their index (a number, where any other reason is a
 * string). APPEND ONLY: a stored index must keep naming the same reason.
 */
export const ENDED_REASONS: readonly string[] = [
  'customer-ended-call', 'assistant-ended-call', 'customer-did-not-answer', 'customer-busy', 'voicemail', 'call-failed-to-connect',
  'silence-timed-out', 'exceeded-max-duration', 'assistant-said-end-call-phrase', 'assistant-forwarded-call', 'manually-canceled',
  'assistant-error', 'pipeline-error', 'customer-did-not-give-microphone-permission', 'twilio-failed-to-connect-call',
];
const REASON_INDEX = new Map(ENDED_REASONS.map((r, i) => [r, i]));

/** An ISO time as ms when it reads back exactly the same, else the text as it came. */
function packTime(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const ms = Date.parse(v);
  return Number.isFinite(ms) && new Date(ms).toISOString() === v ? ms : v;
}

function packValue(field: Mapped, v: unknown): unknown {
  if (v === null || v === undefined) return v;
  if (TIMES.has(field)) return packTime(v);
  if (field === 'timezone' && typeof v === 'string') return encodeZones(v);
  if (field === 'ended_reason' && typeof v === 'string') return REASON_INDEX.get(v) ?? v;
  return v;
}

function unpackValue(field: Mapped, v: unknown): unknown {
  if (TIMES.has(field) && typeof v === 'number') return new Date(v).toISOString();
  if (field === 'timezone' && typeof v === 'string') return decodeZones(v);
  if (field === 'ended_reason' && typeof v === 'number') return ENDED_REASONS[v] ?? String(v);
  return v;
}

/** `vars` without its first variable when that repeats `name`, and the flag that says so (see above). */
function dedupVars(name: unknown, vars: unknown): { vars: unknown; vn?: string | 1 } {
  if (typeof name !== 'string' || name === '' || !vars || typeof vars !== 'object' || Array.isArray(vars)) return { vars };
  const entries = Object.entries(vars as Record<string, unknown>);
  const [first, value] = entries[0] ?? [];
  if (first === undefined || value !== name) return { vars };
  return { vars: Object.fromEntries(entries.slice(1)), vn: first === 'name' ? 1 : first };
}

/** The stored form of a whole record (loads, appends, retention stubs). */
export function encodeRow(rec: RowRecord): string {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rec)) {
    if (v === undefined) continue;
    if (k in SHORT) out[SHORT[k as Mapped]] = packValue(k as Mapped, v);
    else out[k] = v;
  }
  if (out.vars !== undefined) Object.assign(out, dedupVars(rec.name, rec.vars));
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
  if ('vars' in out || 'name' in out) {
    // The flag belongs to the pair: a patch of one without the other could leave it naming the wrong value.
    if (!('vars' in out && 'name' in out)) throw new Error('a row patch sets name and vars together (row-codec: vn)');
    Object.assign(out, { vn: null }, dedupVars(out.name, out.vars));
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
    else if (k === 'vn') continue;
    else if (!(k in out)) out[k] = k === 'timezone' && typeof v === 'string' ? decodeZones(v) : v;
  }
  // A row without a state is final when it has an outcome (ROW_MOVE leaves the state out), else queued (a load leaves it out), as row_state reads it.
  if (out.state === undefined) out.state = out.outcome !== undefined ? 'final' : 'queued';
  const vn = raw.vn;
  if ((vn === 1 || typeof vn === 'string') && typeof out.name === 'string' && out.name !== '' && out.vars && typeof out.vars === 'object') {
    out.vars = { [vn === 1 ? 'name' : vn]: out.name, ...(out.vars as Record<string, unknown>) };
  }
  return out as unknown as RowRecord;
}
