import type { Campaign } from '../config/campaign.js';
import type { Outcome, RowRecord } from '../campaign/row.js';
import { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import * as lua from './scripts.js';

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
}

export type CampaignState = 'loading' | 'running' | 'paused' | 'canceled' | 'done';
export interface CampaignInfo {
  campaign: Campaign;
  state: CampaignState;
  /** Data rows in the CSV; known once loading finished. */
  total?: number;
  createdAt?: string;
  finishedAt?: string;
}

type Script = (...args: (string | number)[]) => Promise<unknown>;

/** Typed access to the dialer's Redis state. The only place that spells keys. */
export class Store {
  readonly keys: Keys;
  private readonly scripts: Record<keyof typeof lua, { keys: number; fn: Script }>;

  constructor(readonly redis: RedisClient, prefix: string) {
    this.keys = new Keys(prefix);
    const numKeys: Record<keyof typeof lua, number> = {
      ROW_UPDATE: 4, ROW_REOPEN: 4, LEDGER_CLAIM: 1, LEDGER_BEGIN: 2, LEDGER_MOVE: 1, RESERVE_SLOT: -1, CLAIM_DUE: 1, FINISH_LOADING: 2, LOAD_ROWS: 2, CANCEL_ROWS: 3, SEMAPHORE_ACQUIRE: 1,
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
  }

  // ---- campaigns ------------------------------------------------------------

  async saveCampaign(c: Campaign, state: CampaignState): Promise<void> {
    await this.redis
      .multi()
      .sadd(this.keys.campaigns, c.name)
      .hset(this.keys.campaign(c.name), 'config', JSON.stringify(c), 'state', state)
      .hsetnx(this.keys.campaign(c.name), 'created_at', new Date().toISOString())
      .exec();
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
    };
  }

  async campaignState(id: string): Promise<CampaignState | undefined> {
    return ((await this.redis.hget(this.keys.campaign(id), 'state')) ?? undefined) as CampaignState | undefined;
  }

  async setCampaignState(id: string, state: CampaignState): Promise<void> {
    await this.redis.hset(this.keys.campaign(id), 'state', state);
  }

  /** Marks loading finished with `total` data rows; true when the campaign is already done (e.g. every row rejected). */
  async finishLoading(id: string, total: number): Promise<boolean> {
    return (await this.scripts.FINISH_LOADING.fn(this.keys.campaign(id), this.keys.counts(id), total, new Date().toISOString())) === 1;
  }

  async counts(id: string): Promise<Record<string, number>> {
    const h = await this.redis.hgetall(this.keys.counts(id));
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  }

  // ---- rows -----------------------------------------------------------------

  async getRow(id: string, row: number): Promise<RowRecord | undefined> {
    const v = await this.redis.hget(this.keys.rows(id), String(row));
    return v ? (JSON.parse(v) as RowRecord) : undefined;
  }

  async getRows(id: string, rows: number[]): Promise<(RowRecord | undefined)[]> {
    if (rows.length === 0) return [];
    const vs = await this.redis.hmget(this.keys.rows(id), ...rows.map(String));
    return vs.map((v) => (v ? (JSON.parse(v) as RowRecord) : undefined));
  }

  /**
   * Applies `patch` to a row unless it is final; `outcome` makes it final and
   * counts it once. Returns 'applied', 'finished-campaign' or 'already-final'.
   */
  async updateRow(id: string, row: number, patch: Partial<Record<keyof RowRecord, unknown>>, outcome?: Outcome): Promise<'applied' | 'finished-campaign' | 'already-final'> {
    const k = this.keys;
    const now = new Date();
    const r = await this.scripts.ROW_UPDATE.fn(k.rows(id), k.counts(id), k.campaign(id), k.dlq(id), row, JSON.stringify(patch), outcome ?? '', now.toISOString(), now.getTime());
    if (outcome && r !== 0) {
      // Every final outcome also lands in the append-only audit record.
      await this.appendAudit(id, { type: 'outcome', row, at: now.toISOString(), outcome, call_id: patch.call_id as string, error: patch.error as string });
    }
    return r === 2 ? 'finished-campaign' : r === 1 ? 'applied' : 'already-final';
  }

  async reopenRow(id: string, row: number, expected: Outcome): Promise<boolean> {
    const k = this.keys;
    return (await this.scripts.ROW_REOPEN.fn(k.rows(id), k.counts(id), k.campaign(id), k.dlq(id), row, expected)) === 1;
  }

  /** Writes a loaded chunk; per record, true when it is in progress and needs a dial job. */
  async loadRows(id: string, recs: RowRecord[]): Promise<boolean[]> {
    if (recs.length === 0) return [];
    const r = (await this.scripts.LOAD_ROWS.fn(this.keys.rows(id), this.keys.counts(id), ...recs.map((x) => JSON.stringify(x)))) as number[];
    return r.map((x) => x === 1);
  }

  /** Removes every trace of a campaign (a load that failed before it started). */
  async deleteCampaign(id: string): Promise<void> {
    const k = this.keys;
    await this.redis.multi().del(k.campaign(id), k.rows(id), k.counts(id), k.ledger(id), k.dlq(id), k.dials(id), k.limiter(`c:${id}`)).srem(k.campaigns, id).exec();
  }

  /** Cancels the given rows unless their number is already being dialed; returns how many. */
  async cancelRows(id: string, rows: number[]): Promise<number> {
    if (rows.length === 0) return 0;
    return (await this.scripts.CANCEL_ROWS.fn(this.keys.rows(id), this.keys.counts(id), this.keys.ledger(id), ...rows)) as number;
  }

  // ---- ledger ---------------------------------------------------------------

  /** Claims numbers for rows at load time; per pair, 0 = this row owns it, else the owning row. */
  async claimNumbers(id: string, pairs: [string, number][], now: number): Promise<number[]> {
    if (pairs.length === 0) return [];
    return (await this.scripts.LEDGER_CLAIM.fn(this.keys.ledger(id), now, ...pairs.flat())) as number[];
  }

  async ledgerGet(id: string, number: string): Promise<LedgerEntry | undefined> {
    const v = await this.redis.hget(this.keys.ledger(id), number);
    return v ? (JSON.parse(v) as LedgerEntry) : undefined;
  }

  /** Atomically steps into `sending`; `ok: false` means the person may already have been called. */
  async ledgerBegin(id: string, number: string, now: number): Promise<{ ok: boolean; entry?: LedgerEntry }> {
    const [ok, v] = (await this.scripts.LEDGER_BEGIN.fn(this.keys.ledger(id), this.keys.rows(id), number, now)) as [number, string];
    return { ok: ok === 1, entry: v ? (JSON.parse(v) as LedgerEntry) : undefined };
  }

  /** Moves an entry to a new state only from one of `from`; returns the new entry or undefined. */
  async ledgerMove(id: string, number: string, from: LedgerState[], patch: Partial<Record<keyof LedgerEntry, unknown>>): Promise<LedgerEntry | undefined> {
    const v = (await this.scripts.LEDGER_MOVE.fn(this.keys.ledger(id), number, from.join(','), JSON.stringify(patch))) as string | null;
    return v ? (JSON.parse(v) as LedgerEntry) : undefined;
  }

  /** Every ledger entry of a campaign (HSCAN, for sweeps and status). */
  async *ledgerEntries(id: string): AsyncGenerator<[string, LedgerEntry]> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.ledger(id), cursor, 'COUNT', 1000);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) yield [flat[i]!, JSON.parse(flat[i + 1]!) as LedgerEntry];
    } while (cursor !== '0');
  }

  // ---- audit ----------------------------------------------------------------

  /** Appends one audit event (XADD: atomic, append-only, survives like the ledger). Empty values are left out. */
  async appendAudit(id: string, event: Record<string, string | number | undefined | null>): Promise<void> {
    const flat = Object.entries(event).filter(([, v]) => v !== undefined && v !== null && v !== '').flatMap(([k, v]) => [k, String(v)]);
    await this.redis.xadd(this.keys.audit(id), '*', ...flat);
  }

  // ---- rate limiting --------------------------------------------------------

  /** Reserves the next request slot across limiters. */
  async reserveSlot(limits: { scope: string; intervalMs: number }[], maxWaitMs: number): Promise<{ reserved: boolean; waitMs: number }> {
    const fn = this.scripts.RESERVE_SLOT.fn as (...a: (string | number)[]) => Promise<[number, number]>;
    const [reserved, waitMs] = await fn(limits.length, ...limits.map((l) => this.keys.limiter(l.scope)), ...limits.map((l) => l.intervalMs), maxWaitMs);
    return { reserved: reserved === 1, waitMs };
  }

  /** Takes a place under a concurrency cap (e.g. account-wide calls in flight); false when full. */
  async acquire(scope: string, holder: string, limit: number, leaseMs: number): Promise<boolean> {
    return (await this.scripts.SEMAPHORE_ACQUIRE.fn(this.keys.semaphore(scope), holder, limit, leaseMs)) === 1;
  }

  async release(scope: string, holder: string): Promise<void> {
    await this.redis.zrem(this.keys.semaphore(scope), holder);
  }

  async recordDial(id: string, now: number, row: number): Promise<void> {
    const k = this.keys.dials(id);
    await this.redis.multi().zadd(k, now, `${now}:${row}`).zremrangebyscore(k, '-inf', now - 60_000).exec();
  }

  // ---- poll schedule --------------------------------------------------------

  async schedulePoll(id: string, row: number, at: number, onlyIfAbsent = false): Promise<void> {
    if (onlyIfAbsent) await this.redis.zadd(this.keys.polls, 'NX', at, `${id}|${row}`);
    else await this.redis.zadd(this.keys.polls, at, `${id}|${row}`);
  }

  async unschedulePoll(id: string, row: number): Promise<void> {
    await this.redis.zrem(this.keys.polls, `${id}|${row}`);
  }

  async claimDuePolls(now: number, leaseMs: number, limit: number): Promise<{ campaign: string; row: number }[]> {
    const members = (await this.scripts.CLAIM_DUE.fn(this.keys.polls, now, leaseMs, limit)) as string[];
    return members.map((m) => {
      const i = m.lastIndexOf('|');
      return { campaign: m.slice(0, i), row: Number(m.slice(i + 1)) };
    });
  }

  async pendingPolls(id?: string): Promise<number> {
    if (!id) return this.redis.zcard(this.keys.polls);
    let n = 0;
    let cursor = '0';
    do {
      const [next, items] = await this.redis.zscan(this.keys.polls, cursor, 'MATCH', `${id}|*`, 'COUNT', 1000);
      cursor = next;
      n += items.length / 2;
    } while (cursor !== '0');
    return n;
  }
}
