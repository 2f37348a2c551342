import { LUA_NOW_MS } from './deadline.js';
import { BATCH_LUA, L, LX } from './script-parts.js';

/** Lua scripts of the dial ledger: a number's claim at load and its steps (shared parts: script-parts.ts). */

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
