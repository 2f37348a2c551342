import { luaTables } from '../campaign/lifecycle.js';
import { LIVE_STATES } from './live.js';
import { OUTBOX_LUA } from './outbox-lua.js';
import { LEDGER_INDEX_LUA, WAITING_INDEX_LUA } from './index-lua.js';
import { OUTCOME_INDEX_LUA } from './outcome-index.js';

/**
 * Lua scripts: every state change that must not race between processes.
 * Times are epoch ms passed in by the caller (real time, not DIALER_NOW).
 * The scripts are in row-scripts.ts, ledger-scripts.ts and
 * campaign-scripts.ts; here are the parts they share.
 */

// Every script that ends a row or moves a campaign writes its event to the outbox in the same step.
export const L = luaTables() + OUTBOX_LUA + OUTCOME_INDEX_LUA;
/** Row scripts keep the waiting-for-window index, ledger scripts the sending/counts/call id indexes (store/index-lua.ts), their keys last in KEYS. */
export const W = WAITING_INDEX_LUA;
export const LX = LEDGER_INDEX_LUA;
/** Row states holding a live-call slot (store/live.ts); a move to any other state gives the slot back. */
export const LIVE = `local LIVE = {${LIVE_STATES.map((x) => `['${x}']=true`).join(',')}}\n`;

/**
 * `in_batches(cmd, key, args)`: `cmd key args...` for a flat list of
 * field/value (or score/member) pairs, a few hundred pairs per call (Lua's
 * unpack has a limit); nothing when the list is empty.
 */
export const BATCH_LUA = `
local function in_batches(cmd, key, args)
  for i = 1, #args, 1000 do redis.call(cmd, key, unpack(args, i, math.min(i + 999, #args))) end
end
`;
