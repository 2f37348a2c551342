/**
 * The per-outcome row indexes (Keys.rowsByOutcome: rows key + `:o:<outcome>`),
 * behind the campaign page's outcome filter and its counts.
 *
 * An index is a bitmap: bit `row` (SETBIT offset = row number) is set when
 * the row ended with that outcome, about one bit a row of the campaign where
 * the sorted set it replaces took ~96 B a member. A campaign indexed before
 * keeps a sorted set (member and score the row number) under the same name:
 * writers and readers look at the key's type and keep using what is there,
 * so nothing is converted and nothing is read twice. A key that does not
 * exist yet is created as a bitmap.
 */

/**
 * `outcome_index(rows, outcome, list, on)`: rows `list` (row numbers, as
 * numbers or strings) into (`on`) or out of the index of `outcome`, in the
 * same step as the write they follow. Returns how many rows changed.
 */
export const OUTCOME_INDEX_LUA = `
local function outcome_index(rows, outcome, list, on)
  local key = rows .. ':o:' .. outcome
  local t = redis.call('TYPE', key).ok
  local n = 0
  if t == 'zset' then
    for _, r in ipairs(list) do
      if on then n = n + redis.call('ZADD', key, tonumber(r), tostring(r)) else n = n + redis.call('ZREM', key, tostring(r)) end
    end
  elseif on then
    for _, r in ipairs(list) do n = n + 1 - redis.call('SETBIT', key, tonumber(r), 1) end
  elseif t == 'string' then
    for _, r in ipairs(list) do n = n + redis.call('SETBIT', key, tonumber(r), 0) end
  end
  return n
end
`;

/** Rows in each index (KEYS: the index keys), in KEYS order: ZCARD of a sorted set, BITCOUNT of a bitmap. */
export const OUTCOME_COUNTS = `
local out = {}
for i, key in ipairs(KEYS) do
  local t = redis.call('TYPE', key).ok
  if t == 'zset' then out[i] = redis.call('ZCARD', key)
  elseif t == 'string' then out[i] = redis.call('BITCOUNT', key)
  else out[i] = 0 end
end
return out
`;

/**
 * Up to ARGV[2] rows of the index KEYS[1] after row ARGV[1], ascending. A
 * bitmap is read from the first set bit on (BITPOS, byte steps) in chunks of
 * CHUNK bytes, so a sparse outcome costs one BITPOS per run of zero bytes.
 */
const CHUNK = 512;
export const OUTCOME_ROWS = `
local key, after, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TYPE', key).ok
if t == 'zset' then return redis.call('ZRANGEBYSCORE', key, '(' .. after, '+inf', 'LIMIT', 0, limit) end
if t ~= 'string' or limit <= 0 then return {} end
local out = {}
local byte = math.floor((after + 1) / 8)
local size = redis.call('STRLEN', key)
while #out < limit and byte < size do
  local first = redis.call('BITPOS', key, 1, byte)
  if first < 0 then break end
  byte = math.floor(first / 8)
  local chunk = redis.call('GETRANGE', key, byte, byte + ${CHUNK - 1})
  for i = 1, #chunk do
    local b = string.byte(chunk, i)
    if b ~= 0 then
      for j = 0, 7 do
        local row = (byte + i - 1) * 8 + j
        if row > after and bit.band(b, bit.rshift(128, j)) ~= 0 then
          out[#out + 1] = row
          if #out == limit then return out end
        end
      end
    end
  end
  byte = byte + #chunk
end
return out
`;
