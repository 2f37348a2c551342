import type { CampaignState, RowState } from '../campaign/lifecycle.js';
import type { Campaign } from '../config/campaign.js';
import { OUTCOMES, type Outcome, type RowRecord } from '../campaign/row.js';
import { AppendStore } from './append.js';
import { ArchiveStore } from './archive.js';
import { CampaignRecords, type CampaignInfo } from './campaign-records.js';
import { DeadLetterStore } from './dead-letters.js';
import { EventsStore } from './events.js';
import { FeedStore } from './feed.js';
import { DeadlineStore } from './deadline.js';
import { DialStore } from './dial.js';
import { Durability, type DurableDials } from './durability.js';
import { FrequencyStore } from './frequency.js';
import { IndexesStore } from './indexes.js';
import { PollSchedule } from './polls.js';
import { Keys, type KeyLayout } from './keys.js';
import { LedgerStore, type LedgerEntry, type LedgerState } from './ledger.js';
import { LimitsStore } from './limits.js';
import { LiveStore } from './live.js';
import { defineScript, type Script } from './lua.js';
import { PrivacyStore } from './privacy.js';
import { RowPagesStore } from './row-pages.js';
import type { RedisClient } from './redis.js';
import { CANCEL_ROWS, CLAIM_DUE, LOAD_ROWS, ROW_MOVE, ROW_REOPEN } from './row-scripts.js';
import { decodeRow, encodeRow, encodeRowPatch } from './row-codec.js';
import { encodeAuditEvent } from './audit-codec.js';
import { ServerStore } from './server.js';
import { SettingsStore } from './settings.js';
import { SuppressionStore } from './suppression.js';

export type { CampaignState, RowState };
export type { CampaignInfo } from './campaign-records.js';
export { knownIds, knownWith, type LedgerEntry, type LedgerState } from './ledger.js';
export { compactLedgerPatch, parseLedgerEntry } from './ledger-patch.js';

/** How long an open row's owner is trusted before the reaper looks (ms), by default. */
export const OPEN_LEASE_MS = 60_000;
/** The longest lease of a row between two steps of a hand-over to a dial job (ms). */
const HANDOFF_LEASE_MS = 10_000;
export type RowPatch = Partial<Record<keyof RowRecord, unknown>>;
export type MoveResult = 'applied' | 'finished-campaign' | 'skipped' | 'illegal' | 'no-new-calls';

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
  /** Packed finished campaigns (store/archive.ts). */
  readonly archive: ArchiveStore;
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
  /** The campaign hash and counts behind the campaign methods below. */
  private readonly campaignRecords: CampaignRecords;
  /** The dial ledger behind the ledger methods below. */
  private readonly ledger: LedgerStore;
  private readonly scripts: { rowMove: Script; rowReopen: Script; loadRows: Script; cancelRows: Script; claimDue: Script };

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
    this.archive = new ArchiveStore(redis, this.keys);
    this.deadLetters = new DeadLetterStore(redis, this.keys);
    this.privacy = new PrivacyStore(redis, this.keys, this.archive);
    this.suppression = new SuppressionStore(redis, this.keys);
    this.limits = new LimitsStore(redis, this.keys);
    this.frequency = new FrequencyStore(redis, this.keys);
    this.live = new LiveStore(redis, this.keys);
    this.server = new ServerStore(redis, this.keys);
    this.append = new AppendStore(redis, this.keys);
    this.settings = new SettingsStore(redis, this.keys);
    this.events = new EventsStore(redis, this.keys);
    this.deadline = new DeadlineStore(redis, this.keys);
    this.rowPages = new RowPagesStore(redis, this.keys, this.archive);
    this.indexes = new IndexesStore(redis, this.keys);
    this.polls = new PollSchedule(redis, this.keys, this.indexes);
    this.feed = new FeedStore(redis, this.keys);
    this.campaignRecords = new CampaignRecords(redis, this.keys, this.indexes, this.events);
    this.ledger = new LedgerStore(redis, this.keys, this.archive);
    this.scripts = {
      rowMove: defineScript(redis, 'dialer_row_move', 8, ROW_MOVE),
      rowReopen: defineScript(redis, 'dialer_row_reopen', 6, ROW_REOPEN),
      loadRows: defineScript(redis, 'dialer_load_rows', 4, LOAD_ROWS),
      cancelRows: defineScript(redis, 'dialer_cancel_rows', 6, CANCEL_ROWS),
      claimDue: defineScript(redis, 'dialer_claim_due', 1, CLAIM_DUE),
    };
    this.dial = new DialStore(redis, this);
  }

  // ---- campaigns (store/campaign-records.ts) -------------------------------

  saveCampaign(c: Campaign, state: CampaignState): Promise<void> {
    return this.campaignRecords.saveCampaign(c, state);
  }
  saveConfig(c: Campaign): Promise<void> {
    return this.campaignRecords.saveConfig(c);
  }
  listCampaigns(): Promise<string[]> {
    return this.campaignRecords.listCampaigns();
  }
  getCampaign(id: string): Promise<CampaignInfo | undefined> {
    return this.campaignRecords.getCampaign(id);
  }
  campaignState(id: string): Promise<CampaignState | undefined> {
    return this.campaignRecords.campaignState(id);
  }
  moveCampaign(id: string, to: CampaignState): Promise<{ moved: boolean; state: CampaignState | undefined }> {
    return this.campaignRecords.moveCampaign(id, to);
  }
  finishLoading(id: string, total: number, opts: { keepLease?: boolean } = {}): Promise<CampaignState> {
    return this.campaignRecords.finishLoading(id, total, opts);
  }
  loadLease(id: string, owner: string, untilMs: number): Promise<{ held: boolean; owner?: string; until?: number }> {
    return this.campaignRecords.loadLease(id, owner, untilMs);
  }
  dropLoadLease(id: string): Promise<void> {
    return this.campaignRecords.dropLoadLease(id);
  }
  loadOwner(id: string): Promise<{ owner?: string; until?: number }> {
    return this.campaignRecords.loadOwner(id);
  }
  campaignField(id: string, field: string): Promise<string | undefined> {
    return this.campaignRecords.campaignField(id, field);
  }
  setCampaignField(id: string, field: string, value: string): Promise<void> {
    return this.campaignRecords.setCampaignField(id, field, value);
  }
  rowStates(id: string): Promise<Record<RowState, number>> {
    return this.campaignRecords.rowStates(id);
  }
  counts(id: string): Promise<Record<string, number>> {
    return this.campaignRecords.counts(id);
  }
  claimScheduleRun(schedule: string, run: string): Promise<{ claimed: boolean; open?: string }> {
    return this.campaignRecords.claimScheduleRun(schedule, run);
  }

  // ---- rows -----------------------------------------------------------------

  async getRow(id: string, row: number): Promise<RowRecord | undefined> {
    return (await this.getRows(id, [row]))[0];
  }

  /** Rows written so far (in the hash and in archive blocks). */
  async rowCount(id: string): Promise<number> {
    const [[, inHash], [, inBlocks]] = (await this.redis.multi().hlen(this.keys.rows(id)).hget(this.keys.campaign(id), 'z_rows').exec()) as [[unknown, number], [unknown, string | null]];
    return Number(inHash) + Number(inBlocks ?? 0);
  }

  /**
   * Every row as [row, stored JSON], a batch per HSCAN step or archive block
   * (a row may come twice), for scans that filter before decoding
   * (decodeRow; the Lua-read fields keep their names). The blocks are read
   * before the hash and those added meanwhile after it, so a row that moves
   * between them during the scan is still seen.
   */
  async *rowBatches(id: string, count = 1000): AsyncGenerator<[string, string][]> {
    const seen = new Set<string>();
    const blocks = async function* (this: Store): AsyncGenerator<[string, string][]> {
      for (const name of await this.archive.rowBlockNames(id)) {
        if (seen.has(name)) continue;
        seen.add(name);
        const batch = await this.archive.rowBlock(id, name);
        if (batch?.length) yield batch;
      }
    }.bind(this);
    yield* blocks();
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.rows(id), cursor, 'COUNT', count);
      cursor = next;
      const batch: [string, string][] = [];
      for (let i = 0; i < flat.length; i += 2) batch.push([flat[i]!, flat[i + 1]!]);
      if (batch.length) yield batch;
    } while (cursor !== '0');
    yield* blocks();
  }

  async getRows(id: string, rows: number[]): Promise<(RowRecord | undefined)[]> {
    if (rows.length === 0) return [];
    const vs = await this.redis.hmget(this.keys.rows(id), ...rows.map(String));
    if (vs.some((v) => v === null)) await this.archive.fillRows(id, rows, vs);
    return vs.map((v) => (v ? decodeRow(v) : undefined));
  }

  /**
   * Moves a row along its lifecycle (keeping its state when `to` is absent),
   * merging `patch`; `outcome` makes it final and counts it once. `from`
   * limits the states it may come from, `callId` requires the row's call.
   */
  async moveRow(id: string, row: number, m: { to?: RowState; patch?: RowPatch; outcome?: Outcome; from?: RowState[]; callId?: string; leaseMs?: number }): Promise<MoveResult> {
    const now = new Date();
    const r = await this.live.aroundMove(id, row, m, now.getTime() + (m.leaseMs ?? this.leaseMs), () => this.scripts.rowMove(...this.rowMoveKeys(id), ...this.rowMoveArgs(id, row, m, now)));
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
    return (await this.scripts.rowReopen(k.rows(id), k.counts(id), k.campaign(id), k.dlq(id), k.open(id), k.waiting(id), row, expected, jobId, Date.now(), this.leaseMs)) === 1;
  }

  /**
   * Writes a loaded chunk; per record, 1 when it is new and queued and its
   * dial job must be added now, 2 when it is new and queued above the feed
   * cursor (the feeder adds its job), 0 when nothing is to be dialed.
   */
  async loadRows(id: string, recs: RowRecord[], leaseMs = this.leaseMs): Promise<number[]> {
    if (recs.length === 0) return [];
    const k = this.keys;
    return (await this.scripts.loadRows(k.rows(id), k.counts(id), k.campaign(id), k.open(id), Date.now(), leaseMs, ...recs.map(encodeRow))) as number[];
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

  /** Removes every trace of a campaign (a load that failed before it started). */
  async deleteCampaign(id: string): Promise<void> {
    const k = this.keys;
    const own = [...(await this.archive.keysOf(id)), k.campaign(id), k.rows(id), k.counts(id), k.ledger(id), k.dlq(id), k.dials(id), k.dialsBefore(id), k.open(id), k.limiter(`c:${id}`), k.live(id), k.rowKeys(id), k.feedLock(id), ...this.indexes.keysOf(id), ...OUTCOMES.map((o) => k.rowsByOutcome(id, o))];
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
    return (await this.scripts.cancelRows(k.rows(id), k.counts(id), k.ledger(id), k.open(id), k.campaign(id), k.waiting(id), new Date().toISOString(), ...rows)) as number;
  }

  // ---- ledger (store/ledger.ts) ---------------------------------------------

  claimNumbers(id: string, pairs: [string, number][], now: number): Promise<number[]> {
    return this.ledger.claimNumbers(id, pairs, now);
  }
  ledgerGet(id: string, number: string): Promise<LedgerEntry | undefined> {
    return this.ledger.ledgerGet(id, number);
  }
  ledgerBegin(id: string, number: string, now: number, token: string, leaseMs: number): Promise<{ ok: boolean; entry?: LedgerEntry; why: string }> {
    return this.ledger.ledgerBegin(id, number, now, token, leaseMs);
  }
  ledgerBeginKeys(id: string): string[] {
    return this.ledger.ledgerBeginKeys(id);
  }
  ledgerMove(id: string, number: string, from: LedgerState[], patch: Partial<Record<keyof LedgerEntry, unknown>>): Promise<LedgerEntry | undefined> {
    return this.ledger.ledgerMove(id, number, from, patch);
  }
  ledgerKeys(id: string): [string, string, string, string] {
    return this.ledger.ledgerKeys(id);
  }
  ledgerEntries(id: string): AsyncGenerator<[string, LedgerEntry]> {
    return this.ledger.ledgerEntries(id);
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
    return this.polls.claimDue((await this.scripts.claimDue(this.keys.polls, now, leaseMs, limit)) as string[]);
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
