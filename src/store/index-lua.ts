/**
 * Lua helpers that keep the small per-campaign indexes behind `status`, the
 * campaign page, `/metrics`, the webhooks and sweeps in step with the rows and
 * the ledger, in the same atomic step as the write they follow (prepended to
 * the scripts that write rows or ledger entries, like the events outbox).
 * Every key comes from the script's KEYS (Redis Cluster safety).
 *
 * - waiting index (Keys.waiting): row → `next_at` (ms) of every row not final
 *   whose `status` is 'waiting' (put off by the gate: calling window,
 *   frequency cap); a row without `next_at` scores +inf.
 * - ledger indexes: entries in `sending` (Keys.ledgerSending: number → time the
 *   POST started), entries per ledger state (Keys.ledgerCounts: state → count)
 *   and call id → row (Keys.callIds) for the entry's current call id.
 *   A settled campaign's call id index lasts CALL_IDS_GRACE_MS more
 *   (outbox_campaign sets it going: store/outbox-lua.ts), for late webhooks,
 *   and then goes; writing a call id into it (a row dialed again) keeps it.
 */

/** How long a campaign's call id → row index outlives the campaign's end (ms): webhooks of its last calls still find their rows. */
export const CALL_IDS_GRACE_MS = 3_600_000;

/** `iso_ms(s)`: epoch ms of a UTC ISO time as `Date.toISOString()` writes it; nil when it is not one. */
const ISO_MS = `
local function iso_ms(s)
  if type(s) ~= 'string' then return nil end
  local y, mo, d, h, mi, se, tz = string.match(s, '^(%d%d%d%d)-(%d%d)-(%d%d)T(%d%d):(%d%d):([%d%.]+)(.*)$')
  if not y or (tz ~= 'Z' and tz ~= '') then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((mo + 9) % 12) + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return ((days * 24 + tonumber(h)) * 60 + tonumber(mi)) * 60000 + math.floor(tonumber(se) * 1000 + 0.5)
end
`;

/**
 * `waiting_index(key, field, rec)`: after `rec` (decoded, or nil when the row
 * is gone) was written for row `field`, puts it in or takes it out of the
 * waiting index.
 */
export const WAITING_INDEX_LUA = ISO_MS + `
local function waiting_index(key, field, rec)
  if rec and not rec.outcome and rec.status == 'waiting' then
    local ms = iso_ms(rec.next_at)
    redis.call('ZADD', key, ms and string.format('%d', ms) or '+inf', field)
  else
    redis.call('ZREM', key, field)
  end
end
`;

/**
 * `ledger_index(sending, counts, callids, number, old, new)`: after the entry
 * of `number` went from `old` to `new` (decoded entries; nil for none),
 * updates the sending index, the counts per state and call id → row.
 */
export const LEDGER_INDEX_LUA = `
local function ledger_id(e)
  if e and type(e.id) == 'string' and e.id ~= '' then return e.id end
  return nil
end
local function ledger_index(sending, counts, callids, number, old, new)
  local olds, ns = old and old.s, new and new.s
  if olds ~= ns then
    if olds then redis.call('HINCRBY', counts, olds, -1) end
    if ns then redis.call('HINCRBY', counts, ns, 1) end
  end
  if ns == 'sending' then
    redis.call('ZADD', sending, tonumber(new.sent or new.t) or 0, number)
  elseif olds == 'sending' then
    redis.call('ZREM', sending, number)
  end
  local oid, nid = ledger_id(old), ledger_id(new)
  if oid and oid ~= nid and redis.call('HGET', callids, oid) == tostring(old.r) then redis.call('HDEL', callids, oid) end
  if nid then
    redis.call('HSET', callids, nid, tostring(new.r))
    redis.call('PERSIST', callids)
  end
end
`;
