/**
 * The archive's scripts (store/archive.ts). None is guarded by
 * ARCHIVE_GUARD_LUA: they are what moves rows between the hashes and the
 * blocks. A campaign's blocks: `<campaign>:z` (set of row, ledger and row
 * key blocks; while it exists every guarded script answers ARCHIVED),
 * `<campaign>:za` (sorted set of audit blocks, in stream order), each block
 * `<campaign>:z:<name>`. The campaign hash keeps `z_rows` (rows in blocks)
 * and `z_hold` (ms: no block is committed by an archive run that started
 * before it).
 */

/** Refuses unless the campaign is finished and untouched since the run began (ARGV[1], ms). Sets `ok`. */
const COMMITTABLE = `
local ok = true
local why = ''
local st = redis.call('HGET', KEYS[1], 'state')
if st ~= 'done' and st ~= 'canceled' then ok, why = false, 'state ' .. tostring(st) end
if ok and tonumber(redis.call('HGET', KEYS[1], 'z_hold') or '0') >= tonumber(ARGV[1]) then ok, why = false, 'held' end
if ok and redis.call('EXISTS', KEYS[3]) == 1 then ok, why = false, 'exists' end
`;

/**
 * One block moves in: a range of rows with their ledger entries and row
 * keys, if every field still holds what the run read (the SHA-1 of the
 * values in that order, joined by newlines).
 * KEYS: campaign, z, block, rows, ledger, rowkeys.
 * ARGV: since, name, sha1, data, rows, ledger entries, row keys (counts), field... (rows, then ledger, then row keys).
 */
export const COMMIT_BLOCK = COMMITTABLE + `
if not ok then return why end
local parts = {}
local at = 8
local vals = {}
for h = 1, 3 do
  local n = tonumber(ARGV[4 + h])
  local fields = {}
  for i = at, at + n - 1 do fields[#fields + 1] = ARGV[i] end
  at = at + n
  parts[h] = fields
  if n > 0 then
    local got = redis.call('HMGET', KEYS[3 + h], unpack(fields))
    for i = 1, n do
      if not got[i] then return 'changed' end
      vals[#vals + 1] = got[i]
    end
  end
end
if redis.sha1hex(table.concat(vals, '\\n')) ~= ARGV[3] then return 'changed' end
redis.call('SET', KEYS[3], ARGV[4])
for h = 1, 3 do
  if #parts[h] > 0 then redis.call('HDEL', KEYS[3 + h], unpack(parts[h])) end
end
redis.call('SADD', KEYS[2], ARGV[2])
if tonumber(ARGV[5]) > 0 then redis.call('HINCRBY', KEYS[1], 'z_rows', ARGV[5]) end
redis.call('HSETNX', KEYS[1], 'archived_at', ARGV[1])
return 'ok'
`;

/**
 * The oldest entries of the audit stream move into a block, if they are
 * still the ones read (first, last, count), and leave the stream (XTRIM
 * MINID: appends keep their later ids).
 * KEYS: campaign, za, block, audit. ARGV: since, name, score, data, first id, last id, count.
 */
export const COMMIT_AUDIT = COMMITTABLE + `
if not ok then return why end
local got = redis.call('XRANGE', KEYS[4], '-', ARGV[6])
if #got ~= tonumber(ARGV[7]) or got[1][1] ~= ARGV[5] then return 'changed' end
local ms, seq = string.match(ARGV[6], '^(%d+)-(%d+)$')
redis.call('SET', KEYS[3], ARGV[4])
redis.call('XTRIM', KEYS[4], 'MINID', ms .. '-' .. (tonumber(seq) + 1))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
return 'ok'
`;

/**
 * Before blocks come back: no archive run that started before now + ARGV[1]
 * ms commits another block. Returns the blocks to bring back.
 * KEYS: campaign, z. ARGV: hold ms.
 */
export const FENCE = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  local t = redis.call('TIME')
  local hold = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
  if hold > tonumber(redis.call('HGET', KEYS[1], 'z_hold') or '0') then redis.call('HSET', KEYS[1], 'z_hold', hold) end
end
return redis.call('SMEMBERS', KEYS[2])
`;

/**
 * One block back into its hashes, unless another caller already did (a
 * field written meanwhile keeps its value).
 * KEYS: campaign, z, block, rows, ledger, rowkeys.
 * ARGV: name, rows, ledger entries, row keys (counts), then field, value, ... in that order.
 */
export const RESTORE_BLOCK = `
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return 0 end
local at = 5
for h = 1, 3 do
  local n = tonumber(ARGV[1 + h])
  for i = at, at + 2 * n - 1, 2 do redis.call('HSETNX', KEYS[3 + h], ARGV[i], ARGV[i + 1]) end
  at = at + 2 * n
end
redis.call('DEL', KEYS[3])
redis.call('SREM', KEYS[2], ARGV[1])
if tonumber(ARGV[2]) > 0 then redis.call('HINCRBY', KEYS[1], 'z_rows', -tonumber(ARGV[2])) end
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('HDEL', KEYS[1], 'z_rows', 'archived_at') end
return 1
`;

/**
 * The audit rewrite's last step (store/privacy.ts dropAuditField): the copy
 * replaces the stream and the audit blocks it took in, if nothing was
 * appended and no block added since. KEYS: audit, copy, za, block...
 * ARGV: last id copied from the stream ('' for none), blocks copied.
 */
export const AUDIT_SWAP = `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if last[1] and last[1][1] ~= ARGV[1] then return 0 end
if redis.call('ZCARD', KEYS[3]) ~= tonumber(ARGV[2]) then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('RENAME', KEYS[2], KEYS[1]) end
for i = 4, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('DEL', KEYS[3])
return 1
`;
