import { luaTables } from '../campaign/lifecycle.js';
import { LUA_NOW_MS } from './deadline.js';
import { LIVE_STATES } from './live.js';
import { OUTBOX_LUA } from './outbox-lua.js';
import { LEDGER_INDEX_LUA, WAITING_INDEX_LUA } from './index-lua.js';
import { OUTCOME_INDEX_LUA } from './outcome-index.js';
import { FINAL_ROW_LUA } from './row-codec.js';

/**
 * Lua scripts: every state change that must not race between processes.
 * Times are epoch ms passed in by the caller (real time, not DIALER_NOW).
 */

// Every script that ends a row or moves a campaign writes its event to the outbox in the same step.
const L = luaTables() + OUTBOX_LUA + OUTCOME_INDEX_LUA;
/** Row scripts keep the waiting-for-window index, ledger scripts the sending/counts/call id indexes (store/index-lua.ts), their keys last in KEYS. */
const W = WAITING_INDEX_LUA;
const LX = LEDGER_INDEX_LUA;
/** Row states holding a live-call slot (store/live.ts); a move to any other state gives the slot back. */
const LIVE = `local LIVE = {${LIVE_STATES.map((x) => `['${x}']=true`).join(',')}}\n`;

/**
 * `in_batches(cmd, key, args)`: `cmd key args...` for a flat list of
 * field/value (or score/member) pairs, a few hundred pairs per call (Lua's
 * unpack has a limit); nothing when the list is empty.
 */
const BATCH_LUA = `
local function in_batches(cmd, key, args)
  for i = 1, #args, 1000 do redis.call(cmd, key, unpack(args, i, math.min(i + 999, #args))) end
end
`;

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
 * Move a campaign to another state if the lifecycle allows it; a campaign
 * whose rows are all final settles at once (a cancel of a finished load).
 * KEYS: campaign, counts  ARGV: toState, nowIso
 * Returns {1|0, stateNow}.
 */
export const CAMPAIGN_MOVE = L + `
local from = redis.call('HGET', KEYS[1], 'state')
if not from then return {0, ''} end
if not can_move_campaign(from, ARGV[1]) then return {0, from} end
local to = ARGV[1]
redis.call('HSET', KEYS[1], 'state', to)
local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '-1')
local finished = tonumber(redis.call('HGET', KEYS[2], 'finished') or '0')
if total >= 0 and finished >= total and SETTLED[to] then
  to = SETTLED[to]
  redis.call('HSET', KEYS[1], 'state', to, 'finished_at', ARGV[2])
end
outbox_campaign(KEYS[1], from, to)
return {1, to}
`;

/**
 * Claim a number for a row at load time. Returns, per number, 0 if this row
 * owns it (new, or the same row loaded again) or the row number that owns it.
 * KEYS: ledger, sending index, ledger counts, call ids  ARGV: now, then pairs of number,row
 */
export const LEDGER_CLAIM = BATCH_LUA + `
local out = {}
-- Written once for the whole chunk (fewer commands per row): the entries, and
-- the one index change a new pending entry makes (ledger_index: its count).
local claimed, writes = {}, {}
for i = 2, #ARGV, 2 do
  local num, row = ARGV[i], tonumber(ARGV[i + 1])
  -- The owning row; false: an entry without one (never overwritten).
  local cur = claimed[num]
  if cur == nil then
    local v = redis.call('HGET', KEYS[1], num)
    if v then cur = cjson.decode(v).r or false end
  end
  if cur == nil then
    -- No attempts yet and no state change since the claim: a and t left out (parseLedgerEntry), 23 bytes instead of 44.
    local e = {s = 'pending', r = row}
    claimed[num] = row
    writes[#writes + 1] = num
    writes[#writes + 1] = cjson.encode(e)
    out[#out + 1] = 0
  elseif cur == row then
    out[#out + 1] = 0
  else
    out[#out + 1] = cur
  end
end
if #writes > 0 then
  in_batches('HSET', KEYS[1], writes)
  redis.call('HINCRBY', KEYS[3], 'pending', #writes / 2)
end
return out
`;

/**
 * The step into `sending`, taken before the HTTP request: the ledger entry
 * and the row move together. Allowed only from a pending or definitely failed
 * entry, a row a dial job owns, and a campaign that is running. The token
 * makes a resent command (ioredis replays unanswered commands after a
 * reconnect) find its own step instead of an "already dialed" contact.
 * KEYS: ledger, rows, campaign, counts, open, sending index, ledger counts, call ids  ARGV: number, nowMs, token, leaseMs
 * Returns {1, entryJson, 'ok'|'resent'} when the caller may send, else
 * {0, entryJson, why}: 'dialed' (the person may already have been called),
 * 'final', 'missing', 'expired' (past the campaign's deadline), or the
 * campaign state that forbids dialing.
 */
export const LEDGER_BEGIN = L + LX + LUA_NOW_MS + `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return {0, '', 'missing'} end
local e = cjson.decode(cur)
if e.s == 'sending' and e.tok == ARGV[3] then return {1, cur, 'resent'} end
if e.s ~= 'pending' and e.s ~= 'failed' then return {0, cur, 'dialed'} end
local raw = redis.call('HGET', KEYS[2], tostring(e.r))
if not raw then return {0, cur, 'missing'} end
local rec = cjson.decode(raw)
local rs = row_state(rec)
if rs == 'final' then return {0, cur, 'final'} end
local cs = redis.call('HGET', KEYS[3], 'state') or 'running'
if not DIALING[cs] then return {0, cur, cs} end
-- Past the campaign's deadline (by Redis's clock) nobody is dialed any more.
local dl = tonumber(redis.call('HGET', KEYS[3], 'deadline_ms') or '')
if dl and now_ms() >= dl then return {0, cur, 'expired'} end
if not can_move_row(rs, 'sending') then return {0, cur, 'dialed'} end
local before = cjson.decode(cur)
e.s = 'sending'
e.a = (e.a or 0) + 1
e.t = tonumber(ARGV[2])
e.sent = e.t
e.e = nil
e.tok = ARGV[3]
local v = cjson.encode(e)
redis.call('HSET', KEYS[1], ARGV[1], v)
ledger_index(KEYS[6], KEYS[7], KEYS[8], ARGV[1], before, e)
rec.state = 'sending'
redis.call('HSET', KEYS[2], tostring(e.r), cjson.encode(rec))
redis.call('HINCRBY', KEYS[4], 'state:' .. rs, -1)
redis.call('HINCRBY', KEYS[4], 'state:sending', 1)
redis.call('ZADD', KEYS[5], e.t + tonumber(ARGV[4]), tostring(e.r))
return {1, v, 'ok'}
`;

/**
 * Move a ledger entry to a new state, only from one of the expected states.
 * KEYS: ledger, sending index, ledger counts, call ids  ARGV: number, fromStates (comma list), patchJson
 * Returns the new entry JSON, or false when the entry was not in an expected state.
 */
export const LEDGER_MOVE = LX + `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return false end
local e = cjson.decode(cur)
local ok = false
for s in string.gmatch(ARGV[2], '[^,]+') do if s == e.s then ok = true end end
if not ok then return false end
local before = cjson.decode(cur)
for k, v in pairs(cjson.decode(ARGV[3])) do
  if v == cjson.null then e[k] = nil else e[k] = v end
end
local v = cjson.encode(e)
redis.call('HSET', KEYS[1], ARGV[1], v)
ledger_index(KEYS[2], KEYS[3], KEYS[4], ARGV[1], before, e)
return v
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

/**
 * Loading ended with `total` rows: record it, end the loader's lease and, if
 * every row is already final (all rejected, or workers were quick), settle
 * the campaign, in one step, so a row finishing at the same moment can't
 * leave it open forever. A fresh load starts running.
 * KEYS: campaign, counts  ARGV: total, nowIso
 * Returns the campaign state after.
 */
export const FINISH_LOADING = L + `
redis.call('HSET', KEYS[1], 'total', ARGV[1])
redis.call('HDEL', KEYS[1], 'load_owner', 'load_until')
local finished = tonumber(redis.call('HGET', KEYS[2], 'finished') or '0')
local state = redis.call('HGET', KEYS[1], 'state') or 'loading'
local before = state
if state == 'loading' then state = 'running' end
-- Rows added to a finished campaign open it again.
if state == 'done' and finished < tonumber(ARGV[1]) then state = 'running' end
if finished >= tonumber(ARGV[1]) and SETTLED[state] then
  state = SETTLED[state]
  redis.call('HSET', KEYS[1], 'finished_at', ARGV[2])
end
redis.call('HSET', KEYS[1], 'state', state)
outbox_campaign(KEYS[1], before, state)
return state
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
 * A loader takes (or renews) the lease of a campaign being loaded: a second
 * loader is refused while the first one's lease runs, unless it is the same
 * owner. KEYS: campaign  ARGV: owner, untilMs, nowMs
 * Returns {1, ''} when held, {0, currentOwner, untilMs} when another holds it.
 */
export const LOAD_LEASE = `
local owner = redis.call('HGET', KEYS[1], 'load_owner')
local until_ = tonumber(redis.call('HGET', KEYS[1], 'load_until') or '0')
if owner and owner ~= ARGV[1] and until_ > tonumber(ARGV[3]) then return {0, owner, until_} end
redis.call('HSET', KEYS[1], 'load_owner', ARGV[1], 'load_until', ARGV[2])
return {1, '', 0}
`;

/**
 * One run of a recurring campaign at a time: a tick claims the schedule only
 * when no earlier run is open. KEYS: active (string: run name), previous
 * run's campaign hash (any key when none, or when its state is in ARGV)
 * ARGV: expectedPrevious|'', newRun, previous run's state|'' (read from KEYS[2]) ('none': no such run)
 * Returns {1, ''} claimed; {0, prev} an earlier run is still open;
 * {-1, current} the active run changed meanwhile (read again).
 */
export const SCHEDULE_CLAIM = `
local cur = redis.call('GET', KEYS[1]) or ''
if cur ~= ARGV[1] then return {-1, cur} end
if cur == ARGV[2] then return {1, ''} end
if cur ~= '' then
  local st = ARGV[3]
  if st == '' then st = redis.call('HGET', KEYS[2], 'state') elseif st == 'none' then st = false end
  if st and st ~= 'done' and st ~= 'canceled' then return {0, cur} end
end
redis.call('SET', KEYS[1], ARGV[2])
return {1, ''}
`;
