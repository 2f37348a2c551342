import { encodeAuditEvent } from './audit-codec.js';
import { GATE_LUA, type DeferredGateCheck } from './frequency.js';
import { GCRA_LUA, RECORD_DIAL_LUA } from './limits.js';
import { decodeRow } from './row-codec.js';
import { LIVE_ACQUIRE } from './live.js';
import { defineScript, type Script } from './lua.js';
import type { RedisClient } from './redis.js';
import { LEDGER_BEGIN, LEDGER_MOVE } from './ledger-scripts.js';
import { ROW_MOVE } from './row-scripts.js';
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
 * The gate's Redis checks (erasure, suppression, frequency cap) run first
 * inside DIAL_BEGIN (the worker's gate leaves them to it: gate/gate.ts), and
 * the frequency slot is written with the rest, so a number suppressed,
 * erased or capped after the gate's checks in Node is still never sent.
 *
 * In the spread layout (store/keys.ts) the account's keys sit in another slot
 * than the campaign's, so each side takes two round trips: ACCOUNT_BEGIN then
 * DIAL_BEGIN on the campaign's keys alone (ACCOUNT_UNDO when it refuses), and
 * DIAL_PLACED on the campaign's keys then the poll schedule and the account's
 * live slot. One Redis (and a `{tagged}` Cluster prefix) keeps the one-script
 * steps: the split would cost it two round trips per dial for nothing.
 */

/** `src` (a whole script) as a local Lua function of (KEYS, ARGV). */
const asFunction = (name: string, src: string) => `local function ${name}(KEYS, ARGV)\n${src}\nend\n`;
/** `t[from..to]` of the outer KEYS/ARGV as a new table. */
const SLICE = `local function slice(t, from, to) local out = {} for i = from, to do out[#out + 1] = t[i] end return out end\n`;

/**
 * KEYS: the 8 of LEDGER_BEGIN (ledger, rows, campaign, counts, open, and the
 * ledger's indexes), campaign live set, account live set, the gate's 3 keys
 * when it checks (suppression, erased, the number's frequency set: GATE_LUA),
 * then one limiter key per limit.
 * ARGV: number, nowMs, token, ledger leaseMs (LEDGER_BEGIN's), row, account
 * live member, campaign live cap, account live cap (0 = none), live leaseMs
 * (LIVE_ACQUIRE's), earlyMs (the most a slot may lie ahead), the count of
 * gate keys (0 or 3), with 3 the gate's keyed hash, business nowMs, window
 * ms, cap and member, then one interval (ms) per limiter.
 * Returns {'ok', entryJson, 'ok'|'resent', live (1 taken, 2 held), the gate's
 * {4, count, 1 if new} when it checked}; {'gate', code, ms} (the gate
 * refused: erased, no key, suppressed, frequency cap full); {'live', 0
 * campaign full | -1 account full}; {'wait', ms until the slot};
 * {'ledger', entryJson, why} (LEDGER_BEGIN refused). Whatever it refuses,
 * nothing was taken.
 */
export const DIAL_BEGIN = asFunction('live_acquire', LIVE_ACQUIRE) + asFunction('ledger_begin', LEDGER_BEGIN) + GCRA_LUA + GATE_LUA + SLICE + `
local g = tonumber(ARGV[11])
local gate
if g > 0 then
  local cur = redis.call('HGET', KEYS[1], ARGV[1])
  if cur and string.find(cur, ARGV[3], 1, true) then
    -- This very step, sent again (ioredis resends after a reconnect): it went
    -- through the gate the first time, and its frequency slot is taken.
    gate = {4, 0, 0}
  else
    -- The gate's Redis checks first, as when they were their own step before this one.
    gate = gate_check(slice(KEYS, 11, 13), ARGV[1], ARGV[12], '0', tonumber(ARGV[13]), tonumber(ARGV[14]), tonumber(ARGV[15]), ARGV[16])
    if gate[1] ~= 4 then return {'gate', gate[1], gate[2]} end
  end
end
local limiters = slice(KEYS, 11 + g, #KEYS)
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
local first = 12
if g > 0 then
  freq_take(KEYS[13], tonumber(ARGV[13]), tonumber(ARGV[14]), ARGV[16])
  first = 17
end
gcra_take(limiters, slice(ARGV, first, #ARGV), slot, wait)
if gate then return {'ok', b[2], b[3], live, gate} end
return {'ok', b[2], b[3], live}
`;

/**
 * KEYS: the 4 of LEDGER_MOVE (ledger and its indexes), the 8 of ROW_MOVE,
 * polls, the campaign's copy of its polls, dials, audit.
 * ARGV: number, ledger fromStates, ledger patchJson (LEDGER_MOVE's), the 10 of
 * ROW_MOVE (its row, ARGV[4], and time in ms, ARGV[9], are the dial's), poll
 * score, '1' when polls takes the row's member (ROW_MOVE's, ARGV[13]; '' in
 * the spread layout, where polls is left alone), then the audit event's
 * field/value pairs as one JSON array (written as separate fields, as
 * before: one argument instead of ~20).
 * Returns ROW_MOVE's result.
 */
export const DIAL_PLACED = asFunction('ledger_move', LEDGER_MOVE) + asFunction('row_move', ROW_MOVE) + SLICE + RECORD_DIAL_LUA + `
ledger_move(slice(KEYS, 1, 4), slice(ARGV, 1, 3))
local r = row_move(slice(KEYS, 5, 12), slice(ARGV, 4, 13))
if ARGV[15] == '1' then redis.call('ZADD', KEYS[13], ARGV[14], ARGV[13]) end
redis.call('ZADD', KEYS[14], 0, ARGV[4])
record_dial(KEYS[15], ARGV[9])
if ARGV[16] ~= '[]' then redis.call('XADD', KEYS[16], '*', unpack(cjson.decode(ARGV[16]))) end
return r
`;

/**
 * The account's side of DIAL_BEGIN in the spread layout, where the account's
 * keys sit in another slot than the campaign's: the account rate slot
 * (only when due now) and the account live-call slot. Runs before the
 * campaign's side (DIAL_BEGIN on the campaign's keys alone); when that one
 * refuses, ACCOUNT_UNDO gives both back. A crash in between leaves a booked
 * rate slot (wasted) and a live slot until its lease ends: never a call the
 * caps did not count.
 * KEYS: account live set, then the account limiters
 * ARGV: member (<campaign>|<row>), account live cap (0 = none), leaseMs, earlyMs, then one interval (ms) per limiter
 * Returns {'ok', 1 taken | 2 held, slot}; {'live', -1}; {'wait', ms}.
 */
export const ACCOUNT_BEGIN = GCRA_LUA + SLICE + `
local limiters = slice(KEYS, 2, #KEYS)
local slot, now = gcra_slot(limiters)
local wait = slot - now
if wait > tonumber(ARGV[4]) then return {'wait', wait} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local live = 2
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  local cap = tonumber(ARGV[2])
  if cap > 0 and redis.call('ZCARD', KEYS[1]) >= cap then return {'live', -1} end
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
  live = 1
end
gcra_take(limiters, slice(ARGV, 5, #ARGV), slot, wait)
return {'ok', live, slot}
`;

/**
 * Gives back what ACCOUNT_BEGIN took for a dial whose campaign side refused:
 * the live slot (when it took one) and each rate slot, if nobody booked after
 * it (the limiter still ends at slot + interval): then it is as if it had
 * never been booked. A slot someone booked after stays used.
 * KEYS: account live set, then the account limiters  ARGV: member|'' (keep), slot, then one interval per limiter
 */
export const ACCOUNT_UNDO = `
if ARGV[1] ~= '' then redis.call('ZREM', KEYS[1], ARGV[1]) end
local slot = tonumber(ARGV[2])
for i = 2, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') == slot + tonumber(ARGV[i + 1]) then
    redis.call('SET', KEYS[i], slot, 'KEEPTTL')
  end
end
return 1
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
  /** `gate`: the gate's {GATE.reserved, count, 1 if new} when DIAL_BEGIN made its checks. */
  | { step: 'ok'; entry: LedgerEntry; live: 'taken' | 'held'; gate?: number[] }
  /** The gate's checks refused inside DIAL_BEGIN: {code, ms} as GATE_CHECK answers them. */
  | { step: 'gate'; gate: number[] }
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
  /**
   * The gate's Redis checks (erased, suppressed, frequency slot) made inside
   * DIAL_BEGIN, all or nothing with the rest (one Redis and a `{tagged}`
   * prefix only: in the spread layout their keys are in the account's slot).
   */
  gate?: DeferredGateCheck;
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
  private readonly accountBeginFn: Script;
  private readonly accountUndoFn: Script;

  constructor(redis: RedisClient, private readonly store: Store) {
    // DIAL_BEGIN takes any number of limiters: its key count comes first in every call.
    this.beginFn = defineScript(redis, 'dialer_dial_begin', undefined, DIAL_BEGIN);
    this.placedFn = defineScript(redis, 'dialer_dial_placed', 16, DIAL_PLACED);
    this.readFn = defineScript(redis, 'dialer_dial_read', 2, DIAL_READ);
    redis.defineCommand('dialer_account_begin', { lua: ACCOUNT_BEGIN });
    this.accountBeginFn = (redis as unknown as Record<string, Script>).dialer_account_begin!.bind(redis);
    redis.defineCommand('dialer_account_undo', { lua: ACCOUNT_UNDO });
    this.accountUndoFn = (redis as unknown as Record<string, Script>).dialer_account_undo!.bind(redis);
  }

  /** A row of `id` and the campaign's state (as Store.getRow and Store.campaignState), read together. */
  async read(id: string, row: number): Promise<[RowRecord | undefined, CampaignState | undefined]> {
    const [rec, state] = (await this.readFn(this.store.keys.rows(id), this.store.keys.campaign(id), row)) as [string | null, string | null];
    return [rec ? decodeRow(rec) : undefined, (state ?? undefined) as CampaignState | undefined];
  }

  /** Live-call slot, rate slot and the step into `sending`, for one dial of `id`. */
  async begin(id: string, a: DialBeginArgs): Promise<DialBegin> {
    const k = this.store.keys;
    if (k.spread) {
      if (a.gate) throw new Error('the gate checks in its own step in the spread layout');
      return this.beginSpread(id, a);
    }
    const gate = a.gate ? [k.suppression, k.erased, k.frequency(a.number)] : [];
    const keys = [...this.store.ledgerBeginKeys(id), k.live(id), k.liveAccount, ...gate, ...a.limits.map((l) => k.limiter(l.scope))];
    return this.campaignBegin(keys, `${id}|${a.row}`, a.caps, a, a.limits);
  }

  /**
   * DIAL_BEGIN on `keys`; `member`, `caps` and `limits` for its account side
   * (in the spread layout the campaign's own again: see beginSpread).
   */
  private async campaignBegin(keys: string[], member: string, caps: DialBeginArgs['caps'], a: DialBeginArgs, limits: DialBeginArgs['limits']): Promise<DialBegin> {
    const r = (await this.beginFn(
      keys.length, ...keys,
      a.number, Date.now(), a.token, a.lockMs, a.row, member, caps.campaign ?? 0, caps.account ?? 0, Math.ceil(a.liveLeaseMs), a.earlyMs,
      ...(a.gate ? [3, a.gate.hash, a.gate.nowMs, a.gate.windowMs, a.gate.cap, a.gate.member] : [0]),
      ...limits.map((l) => l.intervalMs),
    )) as [string, ...(string | number)[]];
    const entry = (v: unknown) => (v ? parseLedgerEntry(v as string) : undefined);
    switch (r[0]) {
      case 'ok': return { step: 'ok', entry: entry(r[1])!, live: r[3] === 2 ? 'held' : 'taken', ...(r[4] ? { gate: r[4] as unknown as number[] } : {}) };
      case 'gate': return { step: 'gate', gate: r.slice(1) as number[] };
      case 'live': return { step: 'live-full', scope: r[1] === 0 ? 'campaign' : 'account' };
      case 'wait': return { step: 'wait', waitMs: r[1] as number };
      default: return { step: 'refused', entry: entry(r[1]), why: r[2] as string };
    }
  }

  /**
   * The spread layout's dial begin: the account's side (ACCOUNT_BEGIN) and
   * then the campaign's (DIAL_BEGIN with the campaign's live set standing in
   * for the account's: with the row as both members and no account cap, its
   * account writes repeat the campaign's); a refusal of the second undoes the first.
   */
  private async beginSpread(id: string, a: DialBeginArgs): Promise<DialBegin> {
    const k = this.store.keys;
    const member = `${id}|${a.row}`;
    const mine = a.limits.filter((l) => l.scope.startsWith('c:'));
    const account = a.limits.filter((l) => !l.scope.startsWith('c:'));
    const accountKeys = [k.liveAccount, ...account.map((l) => k.limiter(l.scope))];
    const acc = (await this.accountBeginFn(
      accountKeys.length, ...accountKeys, member, a.caps.account ?? 0, Math.ceil(a.liveLeaseMs), a.earlyMs, ...account.map((l) => l.intervalMs),
    )) as [string, number, number?];
    if (acc[0] === 'wait') return { step: 'wait', waitMs: acc[1] };
    if (acc[0] === 'live') return { step: 'live-full', scope: 'account' };
    const keys = [...this.store.ledgerBeginKeys(id), k.live(id), k.live(id), ...mine.map((l) => k.limiter(l.scope))];
    const r = await this.campaignBegin(keys, String(a.row), { campaign: a.caps.campaign }, a, mine);
    if (r.step !== 'ok') {
      await this.accountUndoFn(accountKeys.length, ...accountKeys, acc[1] === 1 ? member : '', acc[2]!, ...account.map((l) => l.intervalMs));
    }
    return r;
  }

  /** Everything a placed call writes, as one step. */
  async placed(id: string, a: DialPlacedArgs): Promise<void> {
    const k = this.store.keys;
    const t = a.now.getTime();
    const member = `${id}|${a.row}`;
    await this.placedFn(
      ...this.store.ledgerKeys(id), ...this.store.rowMoveKeys(id), k.spread ? k.pollsOf(id) : k.polls, k.pollsOf(id), k.dials(id), k.audit(id),
      a.number, a.ledger.from.join(','), JSON.stringify(compactLedgerPatch(a.ledger.patch)),
      ...this.store.rowMoveArgs(id, a.row, { to: 'placed', from: ['sending'], patch: a.rowPatch }, a.now),
      a.pollAt, k.spread ? '' : '1', JSON.stringify(encodeAuditEvent(a.audit)),
    );
    if (k.spread) {
      // The account's side after the campaign's: a crash between leaves a placed row the
      // reaper finds without a poll (and schedules one); the live slot, held since
      // the begin, only comes back here if its lease ran out during the POST.
      await this.store.redis.multi().zadd(k.polls, a.pollAt, member).zadd(k.liveAccount, 'NX', t + this.store.leaseMs, member).exec();
    }
  }
}
