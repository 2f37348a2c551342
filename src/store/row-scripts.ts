import { FINAL_ROW_LUA } from './row-codec.js';
import { OUTBOX_LUA } from './outbox-lua.js';
import { OUTCOME_INDEX_LUA } from './outcome-index.js';
import { BATCH_LUA, L, LIVE, W } from './script-parts.js';

/** Lua scripts that write rows: their moves, loading, canceling, and the poll schedule's claims (shared parts: script-parts.ts). */

/**
 * Move one row along its lifecycle (see campaign/lifecycle.ts), merging a
 * patch. With an outcome the row becomes final, counted exactly once; when
 * the last open row of a loaded campaign ends, the campaign settles (done,
 * or canceled after a cancel). An open row's lease in the open index is
 * renewed; a final row leaves the index.
 * A move out of the live states (sending, placed, ambiguous) gives the row's
 * live-call slot back, in the same step; a move between them takes it again
 * when its lease ran out meanwhile (a killed worker's call found and adopted).
 * KEYS: rows, counts, campaign, dlq, open, campaign live set, account live set, waiting index
 * ARGV: row, toState|'' (keep), patchJson, outcome|'', nowIso, nowMs, leaseMs, fromStates|'' (comma list), callId|'' (row must carry it), account live member
 * Returns 1 applied, 2 applied and the campaign settled, 0 not applied (final,
 * not in an expected state, other call), -1 illegal move, -2 the campaign
 * takes no new calls (canceling/canceled) for a move to redial-due.
 */
export const ROW_MOVE = L + LIVE + W + FINAL_ROW_LUA + `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local rec = cjson.decode(cur)
local from = row_state(rec)
if from == 'final' then return 0 end
local to = ARGV[2]
if ARGV[4] ~= '' then to = 'final' elseif to == '' then to = from end
if ARGV[8] ~= '' then
  local ok = false
  for s in string.gmatch(ARGV[8], '[^,]+') do if s == from then ok = true end end
  if not ok then return 0 end
end
if ARGV[9] ~= '' and rec.call_id ~= ARGV[9] then return 0 end
if not can_move_row(from, to) then return -1 end
local cstate = redis.call('HGET', KEYS[3], 'state') or 'running'
if to == 'redial-due' and not NEW_CALL[cstate] then return -2 end
for k, v in pairs(cjson.decode(ARGV[3])) do
  if v == cjson.null then rec[k] = nil else rec[k] = v end
end
rec.state = to
if not LIVE[to] then
  redis.call('ZREM', KEYS[6], ARGV[1])
  redis.call('ZREM', KEYS[7], ARGV[10])
elseif from ~= to then
  -- A new owner of a call that exists (or may): its slot again if its lease ran out meanwhile.
  redis.call('ZADD', KEYS[6], 'NX', tonumber(ARGV[6]) + tonumber(ARGV[7]), ARGV[1])
  redis.call('ZADD', KEYS[7], 'NX', tonumber(ARGV[6]) + tonumber(ARGV[7]), ARGV[10])
end
if from ~= to then
  redis.call('HINCRBY', KEYS[2], 'state:' .. from, -1)
  if to ~= 'final' then redis.call('HINCRBY', KEYS[2], 'state:' .. to, 1) end
end
if to ~= 'final' then
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
  waiting_index(KEYS[8], ARGV[1], rec)
  redis.call('ZADD', KEYS[5], tonumber(ARGV[6]) + tonumber(ARGV[7]), ARGV[1])
  return 1
end
rec.outcome = ARGV[4]
-- A final row's state is its outcome's (row_state, decodeRow): 16 bytes a row not stored.
rec.state = nil
redis.call('HSET', KEYS[1], ARGV[1], final_row_json(rec))
waiting_index(KEYS[8], ARGV[1], rec)
outbox_row(KEYS[3], ARGV[1], rec)
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('HINCRBY', KEYS[2], ARGV[4], 1)
outcome_index(KEYS[1], ARGV[4], {ARGV[1]}, true)
if ARGV[4] == 'dead-letter' then redis.call('ZADD', KEYS[4], ARGV[6], ARGV[1]) end
local finished = redis.call('HINCRBY', KEYS[2], 'finished', 1)
local total = tonumber(redis.call('HGET', KEYS[3], 'total') or '-1')
if finished == total and SETTLED[cstate] then
  redis.call('HSET', KEYS[3], 'state', SETTLED[cstate], 'finished_at', ARGV[5])
  outbox_campaign(KEYS[3], cstate, SETTLED[cstate])
  return 2
end
return 1
`;

/**
 * Take a final row back to queued (dead-letter retry) under a new dial job.
 * Only when its outcome is the expected one, so a concurrent finish is never
 * undone, and only while the campaign takes new calls.
 * KEYS: rows, counts, campaign, dlq, open, waiting index  ARGV: row, expectedOutcome, jobId, nowMs, leaseMs
 */
export const ROW_REOPEN = L + W + FINAL_ROW_LUA + `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local rec = cjson.decode(cur)
if rec.outcome ~= ARGV[2] then return 0 end
local cstate = redis.call('HGET', KEYS[3], 'state') or 'running'
if not NEW_CALL[cstate] then return 0 end
open_row(rec)
rec.outcome = nil
rec.state = 'queued'
rec.job = ARGV[3]
rec.dlq_retried = true
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
waiting_index(KEYS[6], ARGV[1], rec)
redis.call('HINCRBY', KEYS[2], ARGV[2], -1)
outcome_index(KEYS[1], ARGV[2], {ARGV[1]}, false)
redis.call('HINCRBY', KEYS[2], 'finished', -1)
redis.call('HINCRBY', KEYS[2], 'state:queued', 1)
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[5], tonumber(ARGV[4]) + tonumber(ARGV[5]), ARGV[1])
if cstate == 'done' then redis.call('HSET', KEYS[3], 'state', 'running') end
return 1
`;

/**
 * Write one loaded chunk of rows. A row already there is left exactly as it
 * is (loading again never resets or re-screens a row in progress). A new
 * record with an outcome (rejected, duplicate, screened) is final at once; a
 * new contact of a campaign being canceled ends `canceled`; any other new
 * contact is queued under the dial job named in its `job`. Above the feed
 * cursor (store/feed.ts) it waits for the feeder, with no job and no lease,
 * counted in `unfed`; in a campaign loaded before the feeder (no cursor) it
 * gets its lease and its job now.
 * KEYS: rows, counts, campaign, open  ARGV: nowMs, leaseMs, record JSON...
 * Returns per record 1 when its dial job must be added, 2 when it is queued
 * above the cursor (the feeder adds its job), else 0.
 */
export const LOAD_ROWS = OUTBOX_LUA + OUTCOME_INDEX_LUA + BATCH_LUA + `
local cs = redis.call('HGET', KEYS[3], 'state')
local canceled = cs == 'canceling' or cs == 'canceled'
local lease = tonumber(ARGV[1]) + tonumber(ARGV[2])
local fed = tonumber(redis.call('HGET', KEYS[3], 'fed') or '')
local unfed = 0
local out = {}
-- Rows, counts and index entries are written once for the whole chunk (fewer
-- commands per row); the outbox events stay in row order.
local written, rows, open, finals, outcomes, finished = {}, {}, {}, {}, {}, 0
for i = 3, #ARGV do
  local rec = cjson.decode(ARGV[i])
  local field = tostring(rec.row)
  out[i - 2] = 0
  if not written[field] and redis.call('HEXISTS', KEYS[1], field) == 0 then
    written[field] = true
    if not rec.outcome and canceled then
      rec.outcome = 'canceled'
      rec.job = nil
    end
    if rec.outcome then
      rec.state = 'final'
      rows[#rows + 1] = field
      rows[#rows + 1] = cjson.encode(rec)
      outbox_row(KEYS[3], field, rec)
      local z = finals[rec.outcome] or {}
      z[#z + 1] = rec.row
      finals[rec.outcome] = z
      outcomes[rec.outcome] = (outcomes[rec.outcome] or 0) + 1
      finished = finished + 1
    else
      -- Queued is what a row without a state is (row_state, decodeRow): 16 bytes a row not stored.
      rec.state = nil
      rows[#rows + 1] = field
      rows[#rows + 1] = cjson.encode(rec)
      if fed and rec.row > fed then
        unfed = unfed + 1
        out[i - 2] = 2
      else
        open[#open + 1] = lease
        open[#open + 1] = field
        out[i - 2] = 1
      end
    end
  end
end
in_batches('HSET', KEYS[1], rows)
if #open + unfed > 0 then redis.call('HINCRBY', KEYS[2], 'state:queued', #open / 2 + unfed) end
if #open > 0 then in_batches('ZADD', KEYS[4], open) end
if unfed > 0 then redis.call('HINCRBY', KEYS[3], 'unfed', unfed) end
for outcome, n in pairs(outcomes) do
  redis.call('HINCRBY', KEYS[2], outcome, n)
  outcome_index(KEYS[1], outcome, finals[outcome], true)
end
if finished > 0 then redis.call('HINCRBY', KEYS[2], 'finished', finished) end
return out
`;

/**
 * Cancel the rows of a campaign that nobody has dialed: those a dial job
 * owns whose number is not being dialed end `canceled`, counted once. A row
 * whose number is sending, placed or ambiguous keeps going: its call may
 * exist and will end with its real outcome. Settles the campaign when the
 * last open row ended.
 * KEYS: rows, counts, ledger, open, campaign, waiting index  ARGV: nowIso, row...
 * Returns how many rows were canceled.
 */
export const CANCEL_ROWS = L + W + `
local n = 0
for i = 2, #ARGV do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if cur then
    local rec = cjson.decode(cur)
    local rs = row_state(rec)
    if JOB_OWNED[rs] then
      local l = redis.call('HGET', KEYS[3], rec.phone)
      local s = l and cjson.decode(l).s or 'pending'
      if s == 'pending' or s == 'failed' then
        rec.outcome = 'canceled'
        rec.state = 'final'
        rec.status = nil
        rec.next_at = nil
        redis.call('HSET', KEYS[1], ARGV[i], cjson.encode(rec))
        waiting_index(KEYS[6], ARGV[i], rec)
        outbox_row(KEYS[5], ARGV[i], rec)
        redis.call('ZREM', KEYS[4], ARGV[i])
        redis.call('HINCRBY', KEYS[2], 'state:' .. rs, -1)
        redis.call('HINCRBY', KEYS[2], 'canceled', 1)
        outcome_index(KEYS[1], 'canceled', {ARGV[i]}, true)
        redis.call('HINCRBY', KEYS[2], 'finished', 1)
        n = n + 1
      end
    end
  end
end
local total = tonumber(redis.call('HGET', KEYS[5], 'total') or '-1')
local finished = tonumber(redis.call('HGET', KEYS[2], 'finished') or '0')
local cs = redis.call('HGET', KEYS[5], 'state') or ''
if total >= 0 and finished >= total and SETTLED[cs] then
  redis.call('HSET', KEYS[5], 'state', SETTLED[cs], 'finished_at', ARGV[1])
  outbox_campaign(KEYS[5], cs, SETTLED[cs])
end
return n
`;

/**
 * Claim up to N due members of a schedule sorted set with a lease: their score
 * moves to now + lease, so a crashed claimer's work comes back by itself.
 * KEYS: zset  ARGV: now, leaseMs, limit
 */
export const CLAIM_DUE = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local until_ = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], until_, m) end
return due
`;
