import { luaTables } from '../campaign/lifecycle.js';
import { OUTBOX_LUA } from './outbox-lua.js';
import { LEDGER_INDEX_LUA, WAITING_INDEX_LUA } from './index-lua.js';
import { OUTCOME_INDEX_LUA } from './outcome-index.js';
/**
 * Lua for erasure and retention. Erasure: one number's rows, ledger entry and
 * dead letters of one campaign change in one step, so a worker can't slip a
 * POST in between (LEDGER_BEGIN refuses a row that is final or a number with
 * no entry).
 */

/**
 * Erase one number from one campaign.
 * KEYS: rows, counts, campaign, ledger, dlq, open, rowkeys, waiting index, sending index, ledger counts, call ids  ARGV: e164, nowIso, row...
 * - A row not yet final whose number is not being dialed ends `suppressed`
 *   (counted once; the campaign is done when it was the last open row).
 * - A row whose call is in flight (ledger sending/placed/ambiguous, row open;
 *   or the row itself sending/placed/ambiguous on another of its numbers)
 *   loses name and variables now; its number stays until the call ends (the
 *   poller needs it), and the caller queues it for the erasure sweep.
 * - Every other matching row: name/number blank (its alternate numbers and
 *   numbers_tried too), variables, summary,
 *   transcript and recording gone; outcome, times and call id stay. Its
 *   dead letter goes, so it can't be retried without a number.
 * - The ledger entry goes unless a call is in flight; so do the entries of
 *   the erased rows' other numbers that those rows own, and the append key
 *   made of a row's id_column value.
 * Returns {erasedRows, stoppedRows[], deferredRows[], ledgerDeleted, deadLetters, campaignFinished, callIds[]}.
 */
export const ERASE_NUMBER = luaTables() + OUTBOX_LUA + OUTCOME_INDEX_LUA + WAITING_INDEX_LUA + LEDGER_INDEX_LUA + `
local entry = redis.call('HGET', KEYS[4], ARGV[1])
local owner, inflight = nil, false
if entry then
  local e = cjson.decode(entry)
  owner = tostring(e.r)
  if e.s ~= 'pending' and e.s ~= 'failed' then
    local orec = redis.call('HGET', KEYS[1], owner)
    if orec and not cjson.decode(orec).outcome then inflight = true end
  end
end
local erased, dlq, finished, ledger = 0, 0, 0, 0
local stopped, deferred, ids = {}, {}, {}
-- The ledger entry of another of the row's numbers goes with the row when this row owns it.
local function drop_entry(num, row)
  if not num or num == '' or num == ARGV[1] then return end
  local raw = redis.call('HGET', KEYS[4], num)
  local e = raw and cjson.decode(raw)
  if e and tostring(e.r) == row then
    ledger = ledger + redis.call('HDEL', KEYS[4], num)
    ledger_index(KEYS[9], KEYS[10], KEYS[11], num, e, nil)
  end
end
for i = 3, #ARGV do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if cur then
    local rec = cjson.decode(cur)
    -- The append key made of the row's id_column value (a CRM id) goes too.
    if type(rec.keep) == 'table' then
      for _, v in pairs(rec.keep) do
        if redis.call('HGET', KEYS[7], 'id:' .. v) == ARGV[i] then redis.call('HDEL', KEYS[7], 'id:' .. v) end
      end
    end
    rec.name = ''
    rec.vars = nil
    rec.keep = nil
    -- In flight: on this number (its ledger entry), or on another of the row's numbers.
    local rs = row_state(rec)
    if not rec.outcome and ((inflight and ARGV[i] == owner) or rs == 'sending' or rs == 'placed' or rs == 'ambiguous') then
      deferred[#deferred + 1] = ARGV[i]
    else
      if not rec.outcome then
        redis.call('HINCRBY', KEYS[2], 'state:' .. rs, -1)
        redis.call('ZREM', KEYS[6], ARGV[i])
        rec.state = 'final'
        rec.outcome = 'suppressed'
        rec.error = 'number erased on request'
        rec.status = nil
        rec.next_at = nil
        redis.call('HINCRBY', KEYS[2], 'suppressed', 1)
        outcome_index(KEYS[1], 'suppressed', {ARGV[i]}, true)
        local f = redis.call('HINCRBY', KEYS[2], 'finished', 1)
        -- A row above the feed cursor (store/feed.ts) leaves its count.
        local fed = tonumber(redis.call('HGET', KEYS[3], 'fed') or '')
        if fed and tonumber(ARGV[i]) > fed then redis.call('HINCRBY', KEYS[3], 'unfed', -1) end
        stopped[#stopped + 1] = ARGV[i]
        local total = tonumber(redis.call('HGET', KEYS[3], 'total') or '-1')
        local cs = redis.call('HGET', KEYS[3], 'state') or ''
        if f == total and SETTLED[cs] then
          redis.call('HSET', KEYS[3], 'state', SETTLED[cs], 'finished_at', ARGV[2])
          outbox_campaign(KEYS[3], cs, SETTLED[cs])
          finished = 1
        end
      end
      drop_entry(rec.phone, ARGV[i])
      if type(rec.alts) == 'table' then for _, n in ipairs(rec.alts) do drop_entry(n, ARGV[i]) end end
      rec.phone = ''
      -- The row's other numbers (phone_columns, several in a cell) are the same person's.
      rec.alts = nil
      rec.numbers_tried = nil
      rec.nt = nil
      rec.summary = nil
      rec.transcript = nil
      rec.recording_url = nil
      rec.ru = nil
      if rec.call_id then ids[#ids + 1] = rec.call_id end
      dlq = dlq + redis.call('ZREM', KEYS[5], ARGV[i])
      erased = erased + 1
    end
    redis.call('HSET', KEYS[1], ARGV[i], cjson.encode(rec))
    waiting_index(KEYS[8], ARGV[i], rec)
    if stopped[#stopped] == ARGV[i] then outbox_row(KEYS[3], ARGV[i], rec) end
  end
end
if entry and not inflight then
  ledger = ledger + redis.call('HDEL', KEYS[4], ARGV[1])
  ledger_index(KEYS[9], KEYS[10], KEYS[11], ARGV[1], cjson.decode(entry), nil)
end
return {erased, stopped, deferred, ledger, dlq, finished, ids}
`;

/**
 * Drops a ledger claim if it is still the untouched one this row's load just made.
 * KEYS: ledger, sending index, ledger counts, call ids  ARGV: number, row
 */
export const RELEASE_CLAIM = LEDGER_INDEX_LUA + `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local e = cjson.decode(cur)
if tostring(e.r) ~= ARGV[2] or e.s ~= 'pending' or (e.a or 0) > 0 then return 0 end
ledger_index(KEYS[2], KEYS[3], KEYS[4], ARGV[1], e, nil)
return redis.call('HDEL', KEYS[1], ARGV[1])
`;

