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
 *
 * An `ended_at` in ms is stored as its distance from `started_at` (`ed`)
 * when both are ms: a patch sets the two together (the call's details).
 *
 * A final row leaves out what it repeats (FINAL_ROW_LUA, written by the
 * final move in ROW_MOVE, undone by ROW_REOPEN): a `status` equal to its
 * outcome is the flag `so`, a `numbers_tried` equal to its phone the flag
 * `nt`, a `recording_url` holding its call id `ru`, the URL's text before
 * and after the id. A final row's call id and phone don't change (ROW_MOVE
 * leaves a final row alone; the erasure blanks the phone and drops `nt` and
 * `ru` with numbers_tried and recording_url).
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

/** `ea` as its distance from `sa` (`ed`) when both are ms; a stale `ed` is cleared when a patch sets the times. */
function packEnd(out: Record<string, unknown>): void {
  if (typeof out.sa === 'number' && typeof out.ea === 'number') {
    out.ed = out.ea - out.sa;
    out.ea = null;
  } else if ('sa' in out || 'ea' in out) out.ed = null;
}

/** A whole record or a patch without the nulls a patch needs for clearing (`ea`, `ed`). */
function dropNulls(out: Record<string, unknown>, keys: string[]): void {
  for (const k of keys) if (out[k] === null) delete out[k];
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
  packEnd(out);
  dropNulls(out, ['ea', 'ed']);
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
  if (('sa' in out) !== ('ea' in out)) throw new Error('a row patch sets started_at and ended_at together (row-codec: ed)');
  packEnd(out);
  return JSON.stringify(out);
}

/** A stored row (this encoding or the one before) as a RowRecord. The short name wins over a stale long one. */
export function decodeRow(json: string): RowRecord {
  const raw = JSON.parse(json) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    const long = LONG[k];
    if (long) out[long] = unpackValue(long, v);
    else if (k === 'vn' || k === 'ed' || k === 'so' || k === 'nt' || k === 'ru') continue;
    else if (!(k in out)) out[k] = k === 'timezone' && typeof v === 'string' ? decodeZones(v) : v;
  }
  // A row without a state is final when it has an outcome (ROW_MOVE leaves the state out), else queued (a load leaves it out), as row_state reads it.
  if (out.state === undefined) out.state = out.outcome !== undefined ? 'final' : 'queued';
  if (typeof raw.ed === 'number' && typeof raw.sa === 'number') out.ended_at = new Date(raw.sa + raw.ed).toISOString();
  if (raw.so === 1 && out.status === undefined && typeof out.outcome === 'string') out.status = out.outcome;
  if (raw.nt === 1 && out.numbers_tried === undefined && typeof out.phone === 'string') out.numbers_tried = out.phone;
  const ru = raw.ru;
  if (Array.isArray(ru) && ru.length === 2 && out.recording_url === undefined && typeof out.call_id === 'string') out.recording_url = `${String(ru[0])}${out.call_id}${String(ru[1])}`;
  const vn = raw.vn;
  if ((vn === 1 || typeof vn === 'string') && typeof out.name === 'string' && out.name !== '' && out.vars && typeof out.vars === 'object') {
    out.vars = { [vn === 1 ? 'name' : vn]: out.name, ...(out.vars as Record<string, unknown>) };
  }
  return out as unknown as RowRecord;
}

/**
 * Lua: `final_row_json(rec)`, the stored form of a row that just became
 * final (see above: `so`, `nt`, `ru`), leaving `rec` as it was; and
 * `open_row(rec)`, which puts those fields back in a final row that opens
 * again (ROW_REOPEN).
 */
export const FINAL_ROW_LUA = `
local function final_row_json(rec)
  local st, nt, url = rec.status, rec.numbers_tried, rec.recording_url
  if st ~= nil and st == rec.outcome then rec.status = nil rec.so = 1 end
  if type(nt) == 'string' and nt == rec.phone then rec.numbers_tried = nil rec.nt = 1 end
  local id = rec.call_id
  if type(url) == 'string' and type(id) == 'string' and id ~= '' then
    local i, j = string.find(url, id, 1, true)
    if i then rec.recording_url = nil rec.ru = {string.sub(url, 1, i - 1), string.sub(url, j + 1)} end
  end
  local v = cjson.encode(rec)
  rec.status, rec.numbers_tried, rec.recording_url, rec.so, rec.nt, rec.ru = st, nt, url, nil, nil, nil
  return v
end
local function open_row(rec)
  if rec.so == 1 and rec.status == nil then rec.status = rec.outcome end
  if rec.nt == 1 and rec.numbers_tried == nil then rec.numbers_tried = rec.phone end
  if type(rec.ru) == 'table' and rec.recording_url == nil and type(rec.call_id) == 'string' then
    rec.recording_url = tostring(rec.ru[1]) .. rec.call_id .. tostring(rec.ru[2])
  end
  rec.so, rec.nt, rec.ru = nil, nil, nil
end
`;
