import { L } from './script-parts.js';

/** Lua scripts of the campaign hash: its moves, the end of loading, the loader's lease, recurring runs (shared parts: script-parts.ts). */

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
 * Loading ended with `total` rows: record it (or keep a larger total already
 * there: appended rows), end the loader's lease and, if
 * every row is already final (all rejected, or workers were quick), settle
 * the campaign, in one step, so a row finishing at the same moment can't
 * leave it open forever. A fresh load starts running.
 * KEYS: campaign, counts  ARGV: total, nowIso, 'keep-lease' (a loader that
 * held no lease: a re-load of a running campaign) | '' (end the lease)
 * Returns the campaign state after.
 */
export const FINISH_LOADING = L + `
-- The total never shrinks: rows an append numbered after the list while this
-- load read it (it began before them) are rows of the campaign all the same.
local total = tonumber(ARGV[1])
local had = tonumber(redis.call('HGET', KEYS[1], 'total') or '')
if had and had > total then total = had end
redis.call('HSET', KEYS[1], 'total', total)
-- A re-load that took no lease leaves alone the lease of an append running meanwhile.
if ARGV[3] ~= 'keep-lease' then redis.call('HDEL', KEYS[1], 'load_owner', 'load_until') end
local finished = tonumber(redis.call('HGET', KEYS[2], 'finished') or '0')
local state = redis.call('HGET', KEYS[1], 'state') or 'loading'
local before = state
if state == 'loading' then state = 'running' end
-- Rows added to a finished campaign open it again.
if state == 'done' and finished < total then state = 'running' end
if finished >= total and SETTLED[state] then
  state = SETTLED[state]
  redis.call('HSET', KEYS[1], 'finished_at', ARGV[2])
end
redis.call('HSET', KEYS[1], 'state', state)
outbox_campaign(KEYS[1], before, state)
return state
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
