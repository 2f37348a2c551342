import type { CampaignState, RowState } from '../campaign/lifecycle.js';
import type { Campaign } from '../config/campaign.js';
import { OUTCOMES, type Outcome, type RowRecord } from '../campaign/row.js';
import { AppendStore } from './append.js';
import { DeadLetterStore } from './dead-letters.js';
import { EventsStore } from './events.js';
import { FED_FIELD, FeedStore, UNFED_FIELD } from './feed.js';
import { DeadlineStore } from './deadline.js';
import { DialStore } from './dial.js';
import { Durability, type DurableDials } from './durability.js';
import { FrequencyStore } from './frequency.js';
import { IndexesStore } from './indexes.js';
import { PollSchedule } from './polls.js';
import { Keys, type KeyLayout } from './keys.js';
import { LimitsStore } from './limits.js';
import { LiveStore } from './live.js';
import { PrivacyStore } from './privacy.js';
import { RowPagesStore } from './row-pages.js';
import type { RedisClient } from './redis.js';
import * as lua from './scripts.js';
import { decodeRow, encodeRow, encodeRowPatch } from './row-codec.js';
import { encodeAuditEvent } from './audit-codec.js';
import { ServerStore } from './server.js';
import { SettingsStore } from './settings.js';
import { SuppressionStore } from './suppression.js';

/** Where a contact stands with the Callease API. The truth about "was this person dialed". */
export type LedgerState = 'pending' | 'sending' | 'placed' | 'failed' | 'ambiguous';
export interface LedgerEntry {
  s: LedgerState;
  /** Row that owns the number in this campaign. */
  r: number;
  /** POSTs started. */
  a: number;
  /** Time of the last state change (ms). */
  t: number;
  /** Time the last POST started (ms). */
  sent?: number;
  /** Call id, once known. */
  id?: string;
  /** Calls placed for this contact (first call and redials). */
  n?: number;
  /** Last error. */
  e?: string;
  /** Token of the dial attempt that stepped into `sending` (a resent step finds its own). */
  tok?: string;
  /** Redials made after an ambiguous dial found no call. */
  amb?: number;
  /** Ids of the calls placed for this contact so far (reconciliation never adopts one of them for a later POST). */
  ids?: string[];
}

export type { CampaignState, RowState };

export { compactLedgerPatch, parseLedgerEntry } from './ledger-patch.js';
import { compactLedgerPatch, parseLedgerEntry } from './ledger-patch.js';

/** Every call id the entry knows: `ids`, which is left out while it would only repeat `id`. */
export function knownIds(e: LedgerEntry | undefined): string[] {
  return e?.ids ?? (e?.id ? [e.id] : []);
}

/** The entry's known call ids with `id` added (when known and new). */
export function knownWith(e: LedgerEntry | undefined, id: string | undefined): string[] {
  const ids = knownIds(e);
  return id && !ids.includes(id) ? [...ids, id] : ids;
}
/** How long an open row's owner is trusted before the reaper looks (ms), by default. */
export const OPEN_LEASE_MS = 60_000;
/** The longest lease of a row between two steps of a hand-over to a dial job (ms). */
const HANDOFF_LEASE_MS = 10_000;
export type RowPatch = Partial<Record<keyof RowRecord, unknown>>;
export type MoveResult = 'applied' | 'finished-campaign' | 'skipped' | 'illegal' | 'no-new-calls';
export interface CampaignInfo {
  campaign: Campaign;
  state: CampaignState;
  /** Data rows in the CSV; known once loading finished. */
  total?: number;
  createdAt?: string;
  finishedAt?: string;
  /** Version of the settings (`config`), bumped by every write of them; 0 when never changed. */
  version: number;
}

type Script = (...args: (string | number)[]) => Promise<unknown>;

/** Typed access to the dialer's Redis state. The only place that spells keys. */
export class Store {
  readonly keys: Keys;
  /** Confirms writes on disk or a replica, on this store's own connection. */
  readonly durability: Durability;
  readonly leaseMs: number;
  /**
   * The lease of a row handed to a dial job that another step must still
   * create or delay (a redial, a retry, a wait for the window): short, so a
   * crash in between is repaired within seconds; the reaper then finds the
   * job waiting and trusts it for much longer.
   */
  readonly handoffLeaseMs: number;
  readonly deadLetters: DeadLetterStore;
  readonly privacy: PrivacyStore;
  readonly suppression: SuppressionStore;
  /** Rate limiters, concurrency caps, recent dials. */
  readonly limits: LimitsStore;
  readonly frequency: FrequencyStore;
  /** Live-call slots (max_live_calls, CALLEASE_MAX_LIVE_CALLS). */
  readonly live: LiveStore;
  readonly server: ServerStore;
  /** Row keys and appended uploads. */
  readonly append: AppendStore;
  /** The settings version running workers and pollers watch, and changes to a running campaign. */
  readonly settings: SettingsStore;
  /** The events outbox, what is not yet delivered, delivery counts. */
  readonly events: EventsStore;
  /** A campaign's deadline and the step that ends its rows `expired`. */
  readonly deadline: DeadlineStore;
  /** Bounded reads for the campaign page's rows table. */
  readonly rowPages: RowPagesStore;
  /** The per-campaign indexes behind status, metrics, webhooks and sweeps (waiting rows, sending entries, call ids, polls). */
  readonly indexes: IndexesStore;
  /** The feed cursor: which queued rows have a dial job yet (dialer/feeder.ts). */
  readonly feed: FeedStore;
  private readonly polls: PollSchedule;
  /** A dial's steps before and after its POST, each in one script. */
  readonly dial: DialStore;
  private readonly scripts: Record<keyof typeof lua, { keys: number; fn: Script }>;

  /**
   * @param opts.leaseMs how long an open row's owner is trusted before the
   *   reaper checks it is still there (ms); default 60 s.
   * @param opts.durableDials DIALER_DURABLE_DIALS, default 'auto'.
   * @param opts.layout key layout (store/keys.ts), default 'flat'.
   */
  constructor(readonly redis: RedisClient, prefix: string, opts: { leaseMs?: number; durableDials?: DurableDials; layout?: KeyLayout } = {}) {
    this.leaseMs = opts.leaseMs ?? OPEN_LEASE_MS;
    this.handoffLeaseMs = Math.min(this.leaseMs, HANDOFF_LEASE_MS);
    this.keys = new Keys(prefix, opts.layout);
    this.durability = new Durability(redis, opts.durableDials ?? 'auto');
    this.deadLetters = new DeadLetterStore(redis, this.keys);
    this.privacy = new PrivacyStore(redis, this.keys);
    this.suppression = new SuppressionStore(redis, this.keys);
    this.limits = new LimitsStore(redis, this.keys);
    this.frequency = new FrequencyStore(redis, this.keys);
    this.live = new LiveStore(redis, this.keys);
    this.server = new ServerStore(redis, this.keys);
    this.append = new AppendStore(redis, this.keys);
    this.settings = new SettingsStore(redis, this.keys);
    this.events = new EventsStore(redis, this.keys);
    this.deadline = new DeadlineStore(redis, this.keys);
    this.rowPages = new RowPagesStore(redis, this.keys);
    this.indexes = new IndexesStore(redis, this.keys);
    this.polls = new PollSchedule(redis, this.keys, this.indexes);
    this.feed = new FeedStore(redis, this.keys);
    const numKeys: Record<keyof typeof lua, number> = {
      ROW_MOVE: 8, ROW_REOPEN: 6, CAMPAIGN_MOVE: 2, LEDGER_CLAIM: 4, LEDGER_BEGIN: 8, LEDGER_MOVE: 4, CLAIM_DUE: 1, FINISH_LOADING: 2, LOAD_ROWS: 4, CANCEL_ROWS: 6, LOAD_LEASE: 1, SCHEDULE_CLAIM: 2,
    };
    const scripts = {} as Record<keyof typeof lua, { keys: number; fn: Script }>;
    for (const name of Object.keys(lua) as (keyof typeof lua)[]) {
      const cmd = `dialer_${name.toLowerCase()}`;
      if (numKeys[name] >= 0) redis.defineCommand(cmd, { numberOfKeys: numKeys[name], lua: lua[name] });
      else redis.defineCommand(cmd, { lua: lua[name] });
      const fn = (redis as unknown as Record<string, Script>)[cmd]!.bind(redis);
      scripts[name] = { keys: numKeys[name], fn };
    }
    this.scripts = scripts;
    this.dial = new DialStore(redis, this);
  }

  // ---- campaigns ------------------------------------------------------------

  async saveCampaign(c: Campaign, state: CampaignState): Promise<void> {
    const res = await this.redis
      .multi()
      .hset(this.keys.campaign(c.name), 'config', JSON.stringify(c), 'state', state)
      .hsetnx(this.keys.campaign(c.name), 'created_at', new Date().toISOString())
      .hincrby(this.keys.campaign(c.name), 'config_version', 1)
      .exec();
    // The campaigns set is an account key (another slot in the spread layout): listed once its hash exists.
    await this.redis.sadd(this.keys.campaigns, c.name);
    // A campaign created now has its indexes from its first row on (an older one is scanned instead),
    // and a feed cursor: its queued rows get their dial jobs a window at a time (one loaded before has none: all fed).
    if (res?.[1]?.[1] === 1) {
      await this.indexes.markIndexed(c.name);
      await this.redis.hset(this.keys.campaign(c.name), FED_FIELD, 0, UNFED_FIELD, 0);
    }
    await this.events.setTarget(c);
  }

  /** Updates a campaign's settings, keeping its state. */
  async saveConfig(c: Campaign): Promise<void> {
    // A new version: running workers and pollers read the settings again.
    await this.redis.multi().hset(this.keys.campaign(c.name), 'config', JSON.stringify(c)).hincrby(this.keys.campaign(c.name), 'config_version', 1).exec();
    await this.events.setTarget(c);
  }

  async listCampaigns(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.campaigns)).sort();
  }

  async getCampaign(id: string): Promise<CampaignInfo | undefined> {
    const h = await this.redis.hgetall(this.keys.campaign(id));
    if (!h.config) return undefined;
    return {
      campaign: JSON.parse(h.config) as Campaign,
      state: (h.state ?? 'running') as CampaignState,
      total: h.total === undefined ? undefined : Number(h.total),
      createdAt: h.created_at,
      finishedAt: h.finished_at,
      version: Number(h.config_version ?? 0),
    };
  }

  async campaignState(id: string): Promise<CampaignState | undefined> {
    return ((await this.redis.hget(this.keys.campaign(id), 'state')) ?? undefined) as CampaignState | undefined;
  }

  /** Moves a campaign along its lifecycle; returns whether it moved and the state now. */
  async moveCampaign(id: string, to: CampaignState): Promise<{ moved: boolean; state: CampaignState | undefined }> {
    const [ok, state] = (await this.scripts.CAMPAIGN_MOVE.fn(this.keys.campaign(id), this.keys.counts(id), to, new Date().toISOString())) as [number, string];
    return { moved: ok === 1, state: (state || undefined) as CampaignState | undefined };
  }

  /** Marks loading finished with `total` data rows; returns the campaign state after (settled when every row is final). */
  async finishLoading(id: string, total: number): Promise<CampaignState> {
    return (await this.scripts.FINISH_LOADING.fn(this.keys.campaign(id), this.keys.counts(id), total, new Date().toISOString())) as CampaignState;
  }

  /** Takes or renews a loader's lease on a campaign; when another loader holds it, who and until when. */
  async loadLease(id: string, owner: string, untilMs: number): Promise<{ held: boolean; owner?: string; until?: number }> {
    const [ok, other, until] = (await this.scripts.LOAD_LEASE.fn(this.keys.campaign(id), owner, untilMs, Date.now())) as [number, string, number];
    return ok === 1 ? { held: true } : { held: false, owner: other, until };
  }

  /** Ends the lease of a loader that is gone. */
  async dropLoadLease(id: string): Promise<void> {
    await this.redis.hdel(this.keys.campaign(id), 'load_owner', 'load_until');
  }

  async loadOwner(id: string): Promise<{ owner?: string; until?: number }> {
    const [owner, until] = await this.redis.hmget(this.keys.campaign(id), 'load_owner', 'load_until');
    return { owner: owner ?? undefined, until: until ? Number(until) : undefined };
  }

  /** One field of the campaign hash (e.g. what a feature recorded for the campaign). */
  async campaignField(id: string, field: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.campaign(id), field)) ?? undefined;
  }

  async setCampaignField(id: string, field: string, value: string): Promise<void> {
    await this.redis.hset(this.keys.campaign(id), field, value);
  }

  /** Rows in each open state (maintained by the lifecycle scripts). */
  async rowStates(id: string): Promise<Record<RowState, number>> {
    const states = ['queued', 'waiting', 'sending', 'placed', 'ambiguous', 'redial-due'] as const;
    const vs = await this.redis.hmget(this.keys.counts(id), ...states.map((s) => `state:${s}`));
    const out = {} as Record<RowState, number>;
    states.forEach((s, i) => (out[s] = Math.max(0, Number(vs[i] ?? 0))));
    return out;
  }

  /** Rows per final outcome, and `finished`. */
  async counts(id: string): Promise<Record<string, number>> {
    const h = await this.redis.hgetall(this.keys.counts(id));
    return Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith('state:')).map(([k, v]) => [k, Number(v)]));
  }

  // ---- rows -----------------------------------------------------------------

  async getRow(id: string, row: number): Promise<RowRecord | undefined> {
    const v = await this.redis.hget(this.keys.rows(id), String(row));
    return v ? decodeRow(v) : undefined;
  }

  /** Rows written so far. */
  async rowCount(id: string): Promise<number> {
    return this.redis.hlen(this.keys.rows(id));
  }

  /** Every row as [row, stored JSON], a batch per HSCAN step (a row may come twice), for scans that filter before decoding (decodeRow; the Lua-read fields keep their names). */
  async *rowBatches(id: string, count = 1000): AsyncGenerator<[string, string][]> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.rows(id), cursor, 'COUNT', count);
      cursor = next;
      const batch: [string, string][] = [];
      for (let i = 0; i < flat.length; i += 2) batch.push([flat[i]!, flat[i + 1]!]);
      if (batch.length) yield batch;
    } while (cursor !== '0');
  }

  async getRows(id: string, rows: number[]): Promise<(RowRecord | undefined)[]> {
    if (rows.length === 0) return [];
    const vs = await this.redis.hmget(this.keys.rows(id), ...rows.map(String));
    return vs.map((v) => (v ? decodeRow(v) : undefined));
  }

  /**
   * Moves a row along its lifecycle (keeping its state when `to` is absent),
   * merging `patch`; `outcome` makes it final and counts it once. `from`
   * limits the states it may come from, `callId` requires the row's call.
   */
  async moveRow(id: string, row: number, m: { to?: RowState; patch?: RowPatch; outcome?: Outcome; from?: RowState[]; callId?: string; leaseMs?: number }): Promise<MoveResult> {
    const now = new Date();
    const r = await this.live.aroundMove(id, row, m, now.getTime() + (m.leaseMs ?? this.leaseMs), () => this.scripts.ROW_MOVE.fn(...this.rowMoveKeys(id), ...this.rowMoveArgs(id, row, m, now)));
    if (m.outcome && (r === 1 || r === 2)) {
      // Every final outcome also lands in the append-only audit record.
      await this.appendAudit(id, { type: 'outcome', row, at: now.toISOString(), outcome: m.outcome, call_id: m.patch?.call_id as string, error: m.patch?.error as string });
    }
    return r === 2 ? 'finished-campaign' : r === 1 ? 'applied' : r === -1 ? 'illegal' : r === -2 ? 'no-new-calls' : 'skipped';
  }

  /**
   * KEYS of ROW_MOVE (also run inside the dial's last step, store/dial.ts).
   * Spread layout: the account live set is in another slot, so the campaign's
   * set stands in for it (with the row as its member, ROW_MOVE's account
   * writes repeat the campaign's) and LiveStore.aroundMove does the account's.
   */
  rowMoveKeys(id: string): string[] {
    const k = this.keys;
    return [k.rows(id), k.counts(id), k.campaign(id), k.dlq(id), k.open(id), k.live(id), k.spread ? k.live(id) : k.liveAccount, k.waiting(id)];
  }

  /** ARGV of ROW_MOVE for the move `m` at `now`. */
  rowMoveArgs(id: string, row: number, m: { to?: RowState; patch?: RowPatch; outcome?: Outcome; from?: RowState[]; callId?: string; leaseMs?: number }, now: Date): (string | number)[] {
    const member = this.keys.spread ? String(row) : `${id}|${row}`;
    return [row, m.to ?? '', encodeRowPatch(m.patch ?? {}), m.outcome ?? '', now.toISOString(), now.getTime(), m.leaseMs ?? this.leaseMs, (m.from ?? []).join(','), m.callId ?? '', member];
  }

  /** A patch to an open row that keeps its state; `outcome` makes it final. */
  async updateRow(id: string, row: number, patch: RowPatch, outcome?: Outcome): Promise<MoveResult> {
    return this.moveRow(id, row, { patch, outcome });
  }

  /** A dead letter back to queued under the dial job `jobId` (only while the campaign takes new calls). */
  async reopenRow(id: string, row: number, expected: Outcome, jobId: string): Promise<boolean> {
    const k = this.keys;
    return (await this.scripts.ROW_REOPEN.fn(k.rows(id), k.counts(id), k.campaign(id), k.dlq(id), k.open(id), k.waiting(id), row, expected, jobId, Date.now(), this.leaseMs)) === 1;
  }

  /**
   * Writes a loaded chunk; per record, 1 when it is new and queued and its
   * dial job must be added now, 2 when it is new and queued above the feed
   * cursor (the feeder adds its job), 0 when nothing is to be dialed.
   */
  async loadRows(id: string, recs: RowRecord[], leaseMs = this.leaseMs): Promise<number[]> {
    if (recs.length === 0) return [];
    const k = this.keys;
    return (await this.scripts.LOAD_ROWS.fn(k.rows(id), k.counts(id), k.campaign(id), k.open(id), Date.now(), leaseMs, ...recs.map(encodeRow))) as number[];
  }

  /** Rows waiting in the queue for their dial job (the lifecycle scripts keep the count). */
  async queuedRows(id: string): Promise<number> {
    return Number((await this.redis.hget(this.keys.counts(id), 'state:queued')) ?? 0);
  }

  /** Open rows whose owner's lease ended before `now`, oldest first. */
  async expiredRows(id: string, now: number, limit: number): Promise<number[]> {
    return (await this.redis.zrangebyscore(this.keys.open(id), '-inf', now, 'LIMIT', 0, limit)).map(Number);
  }

  /** Renews the lease of an open row (only if it is still open). */
  async extendLease(id: string, row: number, untilMs: number): Promise<void> {
    await this.redis.zadd(this.keys.open(id), 'XX', untilMs, String(row));
  }

  /** Takes a row out of the open index (it is final). */
  async dropOpen(id: string, row: number): Promise<void> {
    await this.redis.zrem(this.keys.open(id), String(row));
  }

  /** Every open row of a campaign, in batches (for cancel). */
  async *openRowBatches(id: string, batch = 1000): AsyncGenerator<number[]> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.zscan(this.keys.open(id), cursor, 'COUNT', batch);
      cursor = next;
      const rows: number[] = [];
      for (let i = 0; i < flat.length; i += 2) rows.push(Number(flat[i]));
      if (rows.length) yield rows;
    } while (cursor !== '0');
  }

  /** One run of a recurring campaign at a time: claims `run` unless an earlier run is still open. */
  async claimScheduleRun(schedule: string, run: string): Promise<{ claimed: boolean; open?: string }> {
    for (;;) {
      const active = this.keys.scheduleActive(schedule);
      const prev = (await this.redis.get(active)) ?? '';
      // Spread layout: the previous run's hash is in another slot, so its state is read first and passed in
      // (a run that settles meanwhile is only found open once more: the next tick claims).
      const [r, other] = (this.keys.spread
        ? await this.scripts.SCHEDULE_CLAIM.fn(active, active, prev, run, prev ? ((await this.campaignState(prev)) ?? 'none') : 'none')
        : await this.scripts.SCHEDULE_CLAIM.fn(active, this.keys.campaign(prev || run), prev, run, '')) as [number, string];
      if (r === 1) return { claimed: true };
      if (r === 0) return { claimed: false, open: other };
    }
  }

  /** Removes every trace of a campaign (a load that failed before it started). */
  async deleteCampaign(id: string): Promise<void> {
    const k = this.keys;
    const own = [k.campaign(id), k.rows(id), k.counts(id), k.ledger(id), k.dlq(id), k.dials(id), k.dialsBefore(id), k.open(id), k.limiter(`c:${id}`), k.live(id), k.rowKeys(id), k.feedLock(id), ...this.indexes.keysOf(id), ...OUTCOMES.map((o) => k.rowsByOutcome(id, o))];
    if (k.spread) own.push(k.outboxOf(id));
    // Off the list first (an account key, another slot in the spread layout), then its keys.
    await this.redis.srem(k.campaigns, id);
    if (k.spread) await this.redis.srem(k.eventsCampaigns, id);
    await this.redis.del(...own);
  }

  /** Cancels the given rows a dial job owns unless their number is being dialed; returns how many. */
  async cancelRows(id: string, rows: number[]): Promise<number> {
    if (rows.length === 0) return 0;
    const k = this.keys;
    return (await this.scripts.CANCEL_ROWS.fn(k.rows(id), k.counts(id), k.ledger(id), k.open(id), k.campaign(id), k.waiting(id), new Date().toISOString(), ...rows)) as number;
  }

  // ---- ledger ---------------------------------------------------------------

  /** Claims numbers for rows at load time; per pair, 0 = this row owns it, else the owning row. */
  async claimNumbers(id: string, pairs: [string, number][], now: number): Promise<number[]> {
    if (pairs.length === 0) return [];
    return (await this.scripts.LEDGER_CLAIM.fn(...this.ledgerKeys(id), now, ...pairs.flat())) as number[];
  }

  async ledgerGet(id: string, number: string): Promise<LedgerEntry | undefined> {
    const v = await this.redis.hget(this.keys.ledger(id), number);
    return v ? parseLedgerEntry(v) : undefined;
  }

  /**
   * Atomically steps the number and its row into `sending`. `ok: false` says
   * why not: 'dialed' (the person may already have been called), 'final',
   * 'missing', or the campaign state that forbids dialing now.
   */
  async ledgerBegin(id: string, number: string, now: number, token: string, leaseMs: number): Promise<{ ok: boolean; entry?: LedgerEntry; why: string }> {
    const [ok, v, why] = (await this.scripts.LEDGER_BEGIN.fn(...this.ledgerBeginKeys(id), number, now, token, leaseMs)) as [number, string, string];
    return { ok: ok === 1, entry: v ? parseLedgerEntry(v) : undefined, why };
  }

  /** KEYS of LEDGER_BEGIN (also run inside the dial's first step, store/dial.ts). */
  ledgerBeginKeys(id: string): string[] {
    const k = this.keys;
    return [k.ledger(id), k.rows(id), k.campaign(id), k.counts(id), k.open(id), k.ledgerSending(id), k.ledgerCounts(id), k.callIds(id)];
  }

  /**
   * After `ledgerBegin`, before the POST: true when the `sending` just written
   * is on disk or a replica as far as the server allows (see durability.ts).
   * False: the entry went back to `pending` without using an attempt, and
   * the POST must not go out.
   */
  async ensureDurable(id: string, number: string, begun: LedgerEntry): Promise<boolean> {
    if (await this.durability.confirm()) return true;
    await this.ledgerMove(id, number, ['sending'], { s: 'pending', a: begun.a - 1, t: Date.now() });
    await this.moveRow(id, begun.r, { to: 'queued', from: ['sending'] });
    return false;
  }

  /** Moves an entry to a new state only from one of `from`; returns the new entry or undefined. */
  async ledgerMove(id: string, number: string, from: LedgerState[], patch: Partial<Record<keyof LedgerEntry, unknown>>): Promise<LedgerEntry | undefined> {
    const v = (await this.scripts.LEDGER_MOVE.fn(...this.ledgerKeys(id), number, from.join(','), JSON.stringify(compactLedgerPatch(patch)))) as string | null;
    return v ? parseLedgerEntry(v) : undefined;
  }

  /** The ledger and its indexes, as the ledger scripts take them in KEYS (also DIAL_PLACED, store/dial.ts). */
  ledgerKeys(id: string): [string, string, string, string] {
    const k = this.keys;
    return [k.ledger(id), k.ledgerSending(id), k.ledgerCounts(id), k.callIds(id)];
  }

  /** Every ledger entry of a campaign (HSCAN; the sending entries, counts and call ids are in `indexes`). */
  async *ledgerEntries(id: string): AsyncGenerator<[string, LedgerEntry]> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.ledger(id), cursor, 'COUNT', 1000);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) yield [flat[i]!, parseLedgerEntry(flat[i + 1]!)];
    } while (cursor !== '0');
  }

  // ---- audit ----------------------------------------------------------------

  /** Appends one audit event (XADD: atomic, append-only, survives like the ledger). Empty values are left out; stored as audit-codec.ts says. */
  async appendAudit(id: string, event: Record<string, string | number | undefined | null>): Promise<void> {
    await this.redis.xadd(this.keys.audit(id), '*', ...encodeAuditEvent(event));
  }

  // ---- poll schedule (store/polls.ts) --------------------------------------

  schedulePoll(id: string, row: number, at: number, onlyIfAbsent = false): Promise<void> {
    return this.polls.schedule(id, row, at, onlyIfAbsent);
  }
  isPollScheduled(id: string, row: number): Promise<boolean> {
    return this.polls.isScheduled(id, row);
  }
  unschedulePoll(id: string, row: number): Promise<void> {
    return this.polls.unschedule(id, row);
  }
  async claimDuePolls(now: number, leaseMs: number, limit: number): Promise<{ campaign: string; row: number }[]> {
    return this.polls.claimDue((await this.scripts.CLAIM_DUE.fn(this.keys.polls, now, leaseMs, limit)) as string[]);
  }
  oldestDuePoll(now: number): Promise<number | undefined> {
    return this.polls.oldestDue(now);
  }
  pendingPolls(id?: string): Promise<number> {
    return this.polls.pending(id);
  }

  /** Takes the reaper's turn (one worker at a time, for `ms`). */
  async takeReaperTurn(holder: string, ms: number): Promise<boolean> {
    return (await this.redis.set(this.keys.reaperLock, holder, 'PX', ms, 'NX')) === 'OK';
  }
}
