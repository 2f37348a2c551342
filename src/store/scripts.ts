/**
 * Lua scripts: every state change that must not race between processes.
 * Times are epoch ms passed in by the caller (real time, not DIALER_NOW).
 */

/**
 * Merge a patch into a row record unless the row is already final; with an
 * outcome, make it final and count it exactly once. When the last row of a
 * loaded campaign becomes final, the campaign's state becomes `done`.
 * A dead-lettered row is also listed in the campaign's dead-letter set.
 * KEYS: rows, counts, campaign, dlq  ARGV: row, patchJson, outcome|'', nowIso, nowMs
 * Returns 1 if applied, 2 if applied and the campaign just finished, 0 if the row was already final.
 */
export const ROW_UPDATE = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local rec = {}
if cur then rec = cjson.decode(cur) end
if rec.outcome then return 0 end
for k, v in pairs(cjson.decode(ARGV[2])) do
  if v == cjson.null then rec[k] = nil else rec[k] = v end
end
if ARGV[3] ~= '' then
  rec.outcome = ARGV[3]
  redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
  if ARGV[3] == 'dead-letter' then redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1]) end
  local finished = redis.call('HINCRBY', KEYS[2], 'finished', 1)
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
  local total = tonumber(redis.call('HGET', KEYS[3], 'total') or '-1')
  if finished == total and redis.call('HGET', KEYS[3], 'state') ~= 'canceled' then
    redis.call('HSET', KEYS[3], 'state', 'done', 'finished_at', ARGV[4])
    return 2
  end
  return 1
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
return 1
`;

/**
 * Take a final row back to in-progress (dead-letter retry). Only when its
 * outcome is the expected one, so a concurrent finish is never undone.
 * KEYS: rows, counts, campaign, dlq  ARGV: row, expectedOutcome
 */
export const ROW_REOPEN = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local rec = cjson.decode(cur)
if rec.outcome ~= ARGV[2] then return 0 end
rec.outcome = nil
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
redis.call('HINCRBY', KEYS[2], ARGV[2], -1)
redis.call('HINCRBY', KEYS[2], 'finished', -1)
redis.call('ZREM', KEYS[4], ARGV[1])
if redis.call('HGET', KEYS[3], 'state') == 'done' then redis.call('HSET', KEYS[3], 'state', 'running') end
return 1
`;

/**
 * Claim a number for a row at load time. Returns, per number, 0 if this row
 * owns it (new, or the same row loaded again) or the row number that owns it.
 * KEYS: ledger  ARGV: now, then pairs of number,row
 */
export const LEDGER_CLAIM = `
local out = {}
for i = 2, #ARGV, 2 do
  local num, row = ARGV[i], tonumber(ARGV[i + 1])
  local cur = redis.call('HGET', KEYS[1], num)
  if not cur then
    redis.call('HSET', KEYS[1], num, cjson.encode({s = 'pending', r = row, a = 0, t = tonumber(ARGV[1])}))
    out[#out + 1] = 0
  else
    local owner = cjson.decode(cur).r
    if owner == row then out[#out + 1] = 0 else out[#out + 1] = owner end
  end
end
return out
`;

/**
 * The step into \`sending\`, taken before the HTTP request. Allowed only from
 * pending or a definite (retryable) failure; otherwise returns the entry so the
 * caller knows the person may already have been called.
 * A row that became final meanwhile (canceled) is never sent either.
 * KEYS: ledger, rows  ARGV: number, now
 * Returns {1, entryJson} when the caller may send, {0, entryJson} when not.
 */
export const LEDGER_BEGIN = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return {0, ''} end
local e = cjson.decode(cur)
if e.s ~= 'pending' and e.s ~= 'failed' then return {0, cur} end
local rec = redis.call('HGET', KEYS[2], tostring(e.r))
if rec and cjson.decode(rec).outcome then return {0, cur} end
e.s = 'sending'
e.a = (e.a or 0) + 1
e.t = tonumber(ARGV[2])
e.sent = e.t
e.e = nil
local v = cjson.encode(e)
redis.call('HSET', KEYS[1], ARGV[1], v)
return {1, v}
`;

/**
 * Move a ledger entry to a new state, only from one of the expected states.
 * KEYS: ledger  ARGV: number, fromStates (comma list), patchJson
 * Returns the new entry JSON, or false when the entry was not in an expected state.
 */
export const LEDGER_MOVE = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return false end
local e = cjson.decode(cur)
local ok = false
for s in string.gmatch(ARGV[2], '[^,]+') do if s == e.s then ok = true end end
if not ok then return false end
for k, v in pairs(cjson.decode(ARGV[3])) do
  if v == cjson.null then e[k] = nil else e[k] = v end
end
local v = cjson.encode(e)
redis.call('HSET', KEYS[1], ARGV[1], v)
return v
`;

/**
 * GCRA slot reservation over one or more limiters (campaign, account). Each
 * limiter keeps its theoretical arrival time; a request gets the first slot
 * that every limiter allows, so requests are spaced by at least each
 * interval and no sliding window ever holds more than its limit (BullMQ's own
 * limiter is a fixed window, which can let nearly twice through at an edge).
 * KEYS: limiter keys  ARGV: interval ms per key..., maxWaitMs
 * Returns {reserved 1|0, waitMs}. Not reserved when the wait would exceed maxWaitMs.
 */
export const RESERVE_SLOT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local slot = now
for i = 1, #KEYS do
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat > slot then slot = tat end
end
local wait = slot - now
if wait > tonumber(ARGV[#KEYS + 1]) then return {0, wait} end
for i = 1, #KEYS do
  local interval = tonumber(ARGV[i])
  redis.call('SET', KEYS[i], slot + interval, 'PX', math.ceil(wait + interval + 60000))
end
return {1, wait}
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
 * Loading ended with `total` rows: record it and, if every row is already
 * final (all rejected, or workers were quick), mark the campaign done — in one
 * step, so a row finishing at the same moment can't leave it running forever.
 * KEYS: campaign, counts  ARGV: total, nowIso
 */
export const FINISH_LOADING = `
redis.call('HSET', KEYS[1], 'total', ARGV[1])
local finished = tonumber(redis.call('HGET', KEYS[2], 'finished') or '0')
local state = redis.call('HGET', KEYS[1], 'state')
if finished >= tonumber(ARGV[1]) and state ~= 'canceled' then
  redis.call('HSET', KEYS[1], 'state', 'done', 'finished_at', ARGV[2])
  return 1
end
if state == 'loading' then redis.call('HSET', KEYS[1], 'state', 'running') end
return 0
`;

/**
 * Write one loaded chunk of rows. A record with an outcome (rejected,
 * duplicate...) is final at once and counted once; one without is inserted
 * only if absent, so loading again never resets a row that is in progress.
 * KEYS: rows, counts  ARGV: record JSON... (each with .row and maybe .outcome)
 * Returns per record 1 when it is in progress (needs a dial job), else 0.
 */
export const LOAD_ROWS = `
local out = {}
for i = 1, #ARGV do
  local rec = cjson.decode(ARGV[i])
  local field = tostring(rec.row)
  local cur = redis.call('HGET', KEYS[1], field)
  local curFinal = cur and cjson.decode(cur).outcome
  if rec.outcome then
    if not curFinal then
      redis.call('HSET', KEYS[1], field, ARGV[i])
      redis.call('HINCRBY', KEYS[2], rec.outcome, 1)
      redis.call('HINCRBY', KEYS[2], 'finished', 1)
    end
    out[i] = 0
  else
    if not cur then redis.call('HSET', KEYS[1], field, ARGV[i]) end
    if curFinal then out[i] = 0 else out[i] = 1 end
  end
end
return out
`;

/**
 * Cancel the rows of a campaign that nobody has dialed: final \`canceled\`,
 * counted once. A row whose number is sending, placed or ambiguous keeps
 * going: its call may exist and will end with its real outcome.
 * KEYS: rows, counts, ledger  ARGV: row...
 * Returns how many rows were canceled.
 */
export const CANCEL_ROWS = `
local n = 0
for i = 1, #ARGV do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if cur then
    local rec = cjson.decode(cur)
    if not rec.outcome then
      local l = redis.call('HGET', KEYS[3], rec.phone)
      local s = l and cjson.decode(l).s or 'pending'
      if s == 'pending' or s == 'failed' then
        rec.outcome = 'canceled'
        rec.status = nil
        redis.call('HSET', KEYS[1], ARGV[i], cjson.encode(rec))
        redis.call('HINCRBY', KEYS[2], 'canceled', 1)
        redis.call('HINCRBY', KEYS[2], 'finished', 1)
        n = n + 1
      end
    end
  end
end
return n
`;

/**
 * Counting semaphore with leases: a holder that dies without releasing
 * frees its place when the lease ends.
 * KEYS: zset  ARGV: holderId, limit, leaseMs
 * Returns 1 when acquired.
 */
export const SEMAPHORE_ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return 1
`;
