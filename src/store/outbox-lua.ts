import { CAMPAIGN_STATES } from '../campaign/lifecycle.js';
import { campaignEvents } from '../events/types.js';
import { CALL_IDS_GRACE_MS } from './index-lua.js';

/**
 * The events outbox, as Lua helpers prepended to every script that ends a
 * row or moves a campaign: the event is written in the same atomic step as
 * the transition, so no crash can separate the two. A relay (events/relay.ts)
 * moves outbox entries into the delivery queue under their event id.
 *
 * Only campaigns whose hash carries an `events` field (a target resolved at
 * load) write to the outbox. The outbox key is derived from the campaign's
 * hash key (Keys.outboxOf): `<prefix>:c:<id>` → `<prefix>:events:outbox`
 * (same `{prefix}` tag, so the same Cluster slot); in the spread layout
 * `<prefix>:c:{<id>}` → `<prefix>:c:{<id>}:outbox`, the campaign's own outbox
 * under the campaign's tag.
 *
 * Ids: `evt_<campaign>_<row>_finished` (`_2` for the second end of a dead
 * letter sent back), `evt_<campaign>_<kind>_<n>` for the n-th such campaign
 * event (counted in the campaign hash, `events:<type>`).
 */
function eventMovesLua(): string {
  const rows: string[] = [];
  for (const from of CAMPAIGN_STATES) {
    const tos = CAMPAIGN_STATES.flatMap((to) => {
      const ev = campaignEvents(from, to);
      return ev.length ? [`['${to}']={${ev.map((e) => `'${e}'`).join(',')}}`] : [];
    });
    if (tos.length) rows.push(`['${from}']={${tos.join(',')}}`);
  }
  return `{${rows.join(',')}}`;
}

export const OUTBOX_LUA = `
-- Built when first used: a script run carries it on every call and rarely needs it.
local EVENT_MOVES
local function event_moves()
  EVENT_MOVES = EVENT_MOVES or ${eventMovesLua()}
  return EVENT_MOVES
end
local function outbox_of(ckey)
  local tagged = string.match(ckey, ':c:{([^}]+)}$')
  if tagged then return ckey .. ':outbox', tagged end
  local cid = string.match(ckey, ':c:([^:]+)$')
  return string.sub(ckey, 1, #ckey - #cid - 3) .. ':events:outbox', cid
end
local function outbox_row(ckey, row, rec)
  if redis.call('HEXISTS', ckey, 'events') == 0 then return end
  local ob, cid = outbox_of(ckey)
  local id = 'evt_' .. cid .. '_' .. row .. '_finished'
  if rec.dlq_retried then id = id .. '_2' end
  redis.call('XADD', ob, '*', 'id', id, 'type', 'contact.finished', 'campaign', cid, 'row', tostring(row),
    'outcome', rec.outcome or '', 'call_id', rec.call_id or '', 'attempts', tostring(rec.attempts or 0))
end
local function outbox_campaign(ckey, from, to)
  if not from or not to or from == to then return end
  -- Every campaign move passes here: once settled, the call id index (Keys.callIds) lasts a grace period (store/index-lua.ts).
  if to == 'done' or to == 'canceled' then redis.call('PEXPIRE', ckey .. ':callids', ${CALL_IDS_GRACE_MS}) end
  local moves = event_moves()
  local types = moves[from] and moves[from][to]
  if not types or redis.call('HEXISTS', ckey, 'events') == 0 then return end
  local ob, cid = outbox_of(ckey)
  for _, t in ipairs(types) do
    local n = redis.call('HINCRBY', ckey, 'events:' .. t, 1)
    redis.call('XADD', ob, '*', 'id', 'evt_' .. cid .. '_' .. string.sub(t, 10) .. '_' .. n, 'type', t, 'campaign', cid, 'state', to, 'from', from)
  end
end
`;
