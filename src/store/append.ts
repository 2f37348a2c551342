import { luaTables } from '../campaign/lifecycle.js';
import type { RowRecord } from '../campaign/row.js';
import type { Keys } from './keys.js';
import { defineScript } from './lua.js';
import { OUTBOX_LUA } from './outbox-lua.js';
import { OUTCOME_INDEX_LUA } from './outcome-index.js';
import type { RedisClient } from './redis.js';
import { encodeRow } from './row-codec.js';

/**
 * Row keys resolved in file order, one HGET per row (no walk, whatever the
 * list holds). A key (id_column value or content hash) already owned by a
 * row of an earlier upload (row <= offset) resolves to '' (the row adds
 * nothing); owned by the same row, to itself (a first load run again); a
 * second row with the same key in this upload (identical rows in one file)
 * gets "key#<row>" (its row in the file), so each keeps its own results row
 * (and the same file appended again finds it).
 * `write` (first loads, rows numbered): registers key → row.
 * KEYS: rowkeys  ARGV: offset, write (1/0), key, row, ...
 */
const RESOLVE_KEYS = `
local offset = tonumber(ARGV[1])
local write = ARGV[2] == '1'
local seen = {}
local out = {}
for i = 3, #ARGV, 2 do
  local base, row = ARGV[i], ARGV[i + 1]
  local k = base
  local cur
  if seen[base] then
    k = base .. '#' .. row
  else
    seen[base] = true
    cur = redis.call('HGET', KEYS[1], base)
    -- A key this upload took already (an earlier chunk): this row is a repeat.
    if cur and not (write and cur == row) and tonumber(cur) > offset then
      k = base .. '#' .. row
      cur = nil
    end
  end
  if k ~= base then cur = redis.call('HGET', KEYS[1], k) end
  if not cur then
    if write then redis.call('HSET', KEYS[1], k, row) end
  elseif not (write and cur == row) and tonumber(cur) <= offset then
    k = ''
  end
  out[#out + 1] = k
end
return out
`;

/**
 * Writes one chunk of an appended upload, fenced by the loader's lease: only
 * the loader that holds it writes (a loader that lost it to a takeover
 * writes nothing). Per record, like LOAD_ROWS, plus: its key is registered,
 * the campaign's `total` grows to the last row written (so the results
 * always cover every written row, even if this loader dies next), `uploads`
 * records the upload, and a `done` campaign that gets a row to dial runs again.
 * A queued row goes above the feed cursor (store/feed.ts) like a first
 * list's: no job, no lease, counted in `unfed`. A campaign loaded before the
 * feeder gets its cursor here, at its last row so far (those all have jobs).
 * KEYS: rows, counts, campaign, open, rowkeys  ARGV: nowMs, leaseMs, owner, upload, (key, record JSON)...
 * Returns {-1} when the lease is not held, else per record 1 when its dial
 * job must be added, 2 when it is queued above the cursor, 0 when not, -2
 * when the row number was taken (nothing written).
 */
const APPEND_ROWS = luaTables() + OUTBOX_LUA + OUTCOME_INDEX_LUA + `
if redis.call('HGET', KEYS[3], 'load_owner') ~= ARGV[3] then return {-1} end
local cs = redis.call('HGET', KEYS[3], 'state')
local canceled = cs == 'canceling' or cs == 'canceled'
local lease = tonumber(ARGV[1]) + tonumber(ARGV[2])
local total = tonumber(redis.call('HGET', KEYS[3], 'total') or '0')
local fed = tonumber(redis.call('HGET', KEYS[3], 'fed') or '')
if not fed then
  fed = math.max(total, redis.call('HLEN', KEYS[1]))
  redis.call('HSET', KEYS[3], 'fed', fed)
end
local unfed = 0
local opened = false
local out = {}
for i = 5, #ARGV, 2 do
  local key, rec = ARGV[i], cjson.decode(ARGV[i + 1])
  local field = tostring(rec.row)
  out[#out + 1] = 0
  if redis.call('HEXISTS', KEYS[1], field) == 1 then
    out[#out] = -2
  elseif redis.call('HEXISTS', KEYS[5], key) == 0 then
    redis.call('HSET', KEYS[5], key, rec.row)
    if not rec.outcome and canceled then
      rec.outcome = 'canceled'
      rec.job = nil
    end
    if rec.outcome then
      rec.state = 'final'
      redis.call('HSET', KEYS[1], field, cjson.encode(rec))
      redis.call('HINCRBY', KEYS[2], rec.outcome, 1)
      redis.call('HINCRBY', KEYS[2], 'finished', 1)
      outcome_index(KEYS[1], rec.outcome, {rec.row}, true)
      outbox_row(KEYS[3], field, rec)
    else
      -- Queued is what a row without a state is (row_state, decodeRow): 16 bytes a row not stored.
      rec.state = nil
      redis.call('HSET', KEYS[1], field, cjson.encode(rec))
      redis.call('HINCRBY', KEYS[2], 'state:queued', 1)
      if rec.row > fed then
        unfed = unfed + 1
        out[#out] = 2
      else
        redis.call('ZADD', KEYS[4], lease, field)
        out[#out] = 1
      end
      opened = true
    end
    if rec.row > total then total = rec.row end
  end
end
redis.call('HSET', KEYS[3], 'total', total)
if unfed > 0 then redis.call('HINCRBY', KEYS[3], 'unfed', unfed) end
if tonumber(redis.call('HGET', KEYS[3], 'uploads') or '1') < tonumber(ARGV[4]) then redis.call('HSET', KEYS[3], 'uploads', ARGV[4]) end
if opened and cs == 'done' and can_move_campaign('done', 'running') then
  redis.call('HSET', KEYS[3], 'state', 'running')
  redis.call('HDEL', KEYS[3], 'finished_at')
end
return out
`;

type Script = (...args: (string | number)[]) => Promise<unknown>;

/** Row keys and appended uploads (see loader/load.ts). */
export class AppendStore {
  private readonly resolveFn: Script;
  private readonly appendFn: Script;

  constructor(private readonly redis: RedisClient, private readonly keys: Keys) {
    this.resolveFn = defineScript(redis, 'dialer_resolve_keys', 1, RESOLVE_KEYS);
    this.appendFn = defineScript(redis, 'dialer_append_rows', 5, APPEND_ROWS);
  }

  /**
   * Resolves row keys (see RESOLVE_KEYS): `pairs` are (key, row in the file)
   * for an append, (key, campaign row) with `register` for a first load
   * (after its rows are written).
   */
  async resolveKeys(id: string, offset: number, pairs: [string, number][], register: boolean): Promise<string[]> {
    if (pairs.length === 0) return [];
    return (await this.resolveFn(this.keys.rowKeys(id), offset, register ? 1 : 0, ...pairs.flat())) as string[];
  }

  /** Writes a chunk of an append; undefined when this loader no longer holds the campaign's load lease. */
  async appendRows(id: string, owner: string, upload: number, leaseMs: number, recs: [string, RowRecord][]): Promise<number[] | undefined> {
    const k = this.keys;
    const r = (await this.appendFn(k.rows(id), k.counts(id), k.campaign(id), k.open(id), k.rowKeys(id), Date.now(), leaseMs, owner, upload, ...recs.flatMap(([key, rec]) => [key, encodeRow(rec)]))) as number[];
    return r[0] === -1 && recs.length > 0 && r.length === 1 ? undefined : r;
  }

  /** How many uploads the campaign has had (1 until the first append). */
  async uploads(id: string): Promise<number> {
    return Number((await this.redis.hget(this.keys.campaign(id), 'uploads')) ?? '1');
  }
}
