import { encodeAuditEvent } from './audit-codec.js';
import { GCRA_LUA } from './limits.js';
import { decodeRow } from './row-codec.js';
import { LIVE_ACQUIRE } from './live.js';
import { defineScript, type Script } from './lua.js';
import type { RedisClient } from './redis.js';
import { LEDGER_BEGIN, LEDGER_MOVE, ROW_MOVE } from './scripts.js';
import type { RowRecord } from '../campaign/row.js';
import { compactLedgerPatch, parseLedgerEntry } from './ledger-patch.js';
import type { CampaignState, LedgerEntry, LedgerState, RowPatch, Store } from './store.js';

/**
 * A dial's Redis steps in two scripts, one round trip on each side of the
 * POST (they were eight). The scripts they are made of run unchanged inside
 * them, as Lua functions given their own KEYS and ARGV (taken from the outer
 * KEYS, so every key touched is still one the caller named):
 *
 *  - DIAL_BEGIN: the rate slot (GCRA, as RESERVE_SLOT: only when due now),
 *    the live-call slot (LIVE_ACQUIRE) and the step into `sending`
 *    (LEDGER_BEGIN), all or nothing. Nothing is written unless the rate
 *    slot is due; the rate slot is booked last, once the ledger step went
 *    through, so a dial that may not go out uses up no slot.
 *  - DIAL_PLACED: after a 2xx, the ledger to `placed` (LEDGER_MOVE), the row
 *    to `placed` (ROW_MOVE), the poll schedule, the record of recent dials
 *    and the audit event, in the order they were issued before.
 *
 * The gate's checks (erasure, suppression, frequency cap) stay their own
 * calls before DIAL_BEGIN (gate/gate.ts).
 */

/** `src` (a whole script) as a local Lua function of (KEYS, ARGV). */
const asFunction = (name: string, src: string) => `local function ${name}(KEYS, ARGV)\n${src}\nend\n`;
/** `t[from..to]` of the outer KEYS/ARGV as a new table. */
const SLICE = `local function slice(t, from, to) local out = {} for i = from, to do out[#out + 1] = t[i] end return out end\n`;

/**
 * KEYS: the 8 of LEDGER_BEGIN (ledger, rows, campaign, counts, open, and the
 * ledger's indexes), campaign live set, account live set, then one limiter
 * key per limit.
 * ARGV: number, nowMs, token, ledger leaseMs (LEDGER_BEGIN's), row, account
 * live member, campaign live cap, account live cap (0 = none), live leaseMs
 * (LIVE_ACQUIRE's), earlyMs (the most a slot may lie ahead), then one
 * interval (ms) per limiter.
 * Returns {'ok', entryJson, 'ok'|'resent', live (1 taken, 2 held)};
 * {'live', 0 campaign full | -1 account full}; {'wait', ms until the slot};
 * {'ledger', entryJson, why} (LEDGER_BEGIN refused: nothing was taken).
 */
export const DIAL_BEGIN = asFunction('live_acquire', LIVE_ACQUIRE) + asFunction('ledger_begin', LEDGER_BEGIN) + GCRA_LUA + SLICE + `
local limiters = slice(KEYS, 11, #KEYS)
local slot, now = gcra_slot(limiters)
local wait = slot - now
if wait > tonumber(ARGV[10]) then return {'wait', wait} end
local live = live_acquire({KEYS[9], KEYS[10]}, slice(ARGV, 5, 9))
if live ~= 1 and live ~= 2 then return {'live', live} end
local b = ledger_begin(slice(KEYS, 1, 8), slice(ARGV, 1, 4))
if b[1] ~= 1 then
  -- Refused: a slot this step took goes back (one the row already held stays).
  if live == 1 then
    redis.call('ZREM', KEYS[9], ARGV[5])
    redis.call('ZREM', KEYS[10], ARGV[6])
  end
  return {'ledger', b[2], b[3]}
end
gcra_take(limiters, slice(ARGV, 11, #ARGV), slot, wait)
return {'ok', b[2], b[3], live}
`;

/**
 * KEYS: the 4 of LEDGER_MOVE (ledger and its indexes), the 8 of ROW_MOVE,
 * polls, the campaign's copy of its polls, dials, audit.
 * ARGV: number, ledger fromStates, ledger patchJson (LEDGER_MOVE's), the 10 of
 * ROW_MOVE, poll score, poll member, dial time, dial member, dials older
 * than this dropped, then the audit event's field/value pairs.
 * Returns ROW_MOVE's result.
 */
export const DIAL_PLACED = asFunction('ledger_move', LEDGER_MOVE) + asFunction('row_move', ROW_MOVE) + SLICE + `
ledger_move(slice(KEYS, 1, 4), slice(ARGV, 1, 3))
local r = row_move(slice(KEYS, 5, 12), slice(ARGV, 4, 13))
redis.call('ZADD', KEYS[13], ARGV[14], ARGV[15])
redis.call('ZADD', KEYS[14], 0, ARGV[4])
redis.call('ZADD', KEYS[15], ARGV[16], ARGV[17])
redis.call('ZREMRANGEBYSCORE', KEYS[15], '-inf', ARGV[18])
if #ARGV > 18 then redis.call('XADD', KEYS[16], '*', unpack(ARGV, 19, #ARGV)) end
return r
`;

/**
 * A dial job's first look: its row and its campaign's state, in one round trip.
 * KEYS: rows, campaign  ARGV: row
 * Returns {rowJson|false, state|false}.
 */
export const DIAL_READ = `
return {redis.call('HGET', KEYS[1], ARGV[1]), redis.call('HGET', KEYS[2], 'state')}
`;

export type DialBegin =
  | { step: 'ok'; entry: LedgerEntry; live: 'taken' | 'held' }
  | { step: 'live-full'; scope: 'campaign' | 'account' }
  | { step: 'wait'; waitMs: number }
  | { step: 'refused'; entry?: LedgerEntry; why: string };

export interface DialBeginArgs {
  number: string;
  row: number;
  token: string;
  /** How long a `sending` entry may be a live request (ms). */
  lockMs: number;
  caps: { campaign?: number; account?: number };
  liveLeaseMs: number;
  /** Rate limiters (LimitsStore scopes) and their spacing (ms). */
  limits: { scope: string; intervalMs: number }[];
  /** The most a slot may lie ahead of now and still be taken (ms). */
  earlyMs: number;
}

export interface DialPlacedArgs {
  number: string;
  row: number;
  ledger: { from: LedgerState[]; patch: Partial<Record<keyof LedgerEntry, unknown>> };
  rowPatch: RowPatch;
  pollAt: number;
  now: Date;
  audit: Record<string, string | number | undefined | null>;
}

/** The two scripts of a dial, with the keys and arguments their parts expect. */
export class DialStore {
  private readonly beginFn: Script;
  private readonly placedFn: Script;
  private readonly readFn: Script;

  constructor(redis: RedisClient, private readonly store: Store) {
    // DIAL_BEGIN takes any number of limiters: its key count comes first in every call.
    redis.defineCommand('dialer_dial_begin', { lua: DIAL_BEGIN });
    this.beginFn = (redis as unknown as Record<string, Script>).dialer_dial_begin!.bind(redis);
    this.placedFn = defineScript(redis, 'dialer_dial_placed', 16, DIAL_PLACED);
    this.readFn = defineScript(redis, 'dialer_dial_read', 2, DIAL_READ);
  }

  /** A row of `id` and the campaign's state (as Store.getRow and Store.campaignState), read together. */
  async read(id: string, row: number): Promise<[RowRecord | undefined, CampaignState | undefined]> {
    const [rec, state] = (await this.readFn(this.store.keys.rows(id), this.store.keys.campaign(id), row)) as [string | null, string | null];
    return [rec ? decodeRow(rec) : undefined, (state ?? undefined) as CampaignState | undefined];
  }

  /** Live-call slot, rate slot and the step into `sending`, for one dial of `id`. */
  async begin(id: string, a: DialBeginArgs): Promise<DialBegin> {
    const k = this.store.keys;
    const keys = [...this.store.ledgerBeginKeys(id), k.live(id), k.liveAccount, ...a.limits.map((l) => k.limiter(l.scope))];
    const r = (await this.beginFn(
      keys.length, ...keys,
      a.number, Date.now(), a.token, a.lockMs, a.row, `${id}|${a.row}`, a.caps.campaign ?? 0, a.caps.account ?? 0, Math.ceil(a.liveLeaseMs), a.earlyMs,
      ...a.limits.map((l) => l.intervalMs),
    )) as [string, ...(string | number)[]];
    const entry = (v: unknown) => (v ? parseLedgerEntry(v as string) : undefined);
    switch (r[0]) {
      case 'ok': return { step: 'ok', entry: entry(r[1])!, live: r[3] === 2 ? 'held' : 'taken' };
      case 'live': return { step: 'live-full', scope: r[1] === 0 ? 'campaign' : 'account' };
      case 'wait': return { step: 'wait', waitMs: r[1] as number };
      default: return { step: 'refused', entry: entry(r[1]), why: r[2] as string };
    }
  }

  /** Everything a placed call writes, as one step. */
  async placed(id: string, a: DialPlacedArgs): Promise<void> {
    const k = this.store.keys;
    const t = a.now.getTime();
    await this.placedFn(
      ...this.store.ledgerKeys(id), ...this.store.rowMoveKeys(id), k.polls, k.pollsOf(id), k.dials(id), k.audit(id),
      a.number, a.ledger.from.join(','), JSON.stringify(compactLedgerPatch(a.ledger.patch)),
      ...this.store.rowMoveArgs(id, a.row, { to: 'placed', from: ['sending'], patch: a.rowPatch }, a.now),
      a.pollAt, `${id}|${a.row}`, t, `${t}:${a.row}`, t - 60_000,
      ...encodeAuditEvent(a.audit),
    );
  }
}
