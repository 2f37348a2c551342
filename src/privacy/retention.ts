import type { DialQueues } from '../dialer/jobs.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CampaignInfo, Store } from '../store/store.js';
import { Periodic } from '../util.js';
import { blankEvents } from './events.js';
import { rewriteResultsFiles } from './files.js';
import { eraseInCampaign } from './forget.js';
import { rowStub } from './redact.js';

export interface RetentionDeps {
  store: Store;
  log: Logger;
  /** When given, a purged campaign's BullMQ queue (failed jobs and their error texts) is removed too. */
  queues?: DialQueues;
}

export interface PurgeOptions {
  /** Business time (ms) the ages are measured at. */
  now: number;
  /** DIALER_RETENTION_DAYS: for campaigns without `retention_days`; unset = keep them. */
  defaultDays?: number;
  dryRun?: boolean;
  /** Only these campaigns (default: all). */
  campaigns?: string[];
}

export interface PurgeEntry {
  campaign: string;
  action: 'purged' | 'would-purge' | 'kept';
  /** Why kept; or the finish time the age was measured from. */
  reason: string;
  rows?: number;
  results?: string[];
}

const DAY_MS = 86_400_000;

/**
 * `dialer purge`: the personal data of finished campaigns past their
 * retention goes. Kept: the campaign (its config holds no personal data), the
 * counts, one stub per row (row, outcome, attempts, duration, end reason,
 * times, call id, HTTP status — so `export` still gives one line per input
 * row) and the audit stream without its masked numbers. Gone: names, numbers,
 * variables, summaries, transcripts, recordings, the ledger, the dead
 * letters, the dial-rate set and the BullMQ queue. Results files on this
 * machine are rendered again from the stubs.
 */
export async function purgeExpired(deps: RetentionDeps, opts: PurgeOptions): Promise<PurgeEntry[]> {
  const { store } = deps;
  const out: PurgeEntry[] = [];
  for (const id of opts.campaigns ?? (await store.listCampaigns())) {
    const info = await store.getCampaign(id);
    if (!info) {
      out.push({ campaign: id, action: 'kept', reason: 'no such campaign' });
      continue;
    }
    const verdict = await due(store, info, opts);
    if (verdict.keep) {
      out.push({ campaign: id, action: 'kept', reason: verdict.keep });
      continue;
    }
    const rows = await store.rowCount(id);
    if (opts.dryRun) {
      out.push({ campaign: id, action: 'would-purge', reason: verdict.reason, rows });
      continue;
    }
    const results = await purgeCampaign(deps, info);
    deps.log.info({ campaign: id, rows }, 'personal data purged (retention)');
    out.push({ campaign: id, action: 'purged', reason: verdict.reason, rows, results });
  }
  return out;
}

/** What the purge decision needs to know about one campaign. */
export interface PurgeFacts {
  state: CampaignInfo['state'];
  purged: boolean;
  /** Retention in days (the campaign's, else the default). */
  days?: number;
  total?: number;
  finished: number;
  /** When the campaign ended (ISO): finished_at, else its last activity, else its creation. */
  endedAt?: string;
}

/** Whether a campaign is past its retention, and since when: the decision, pure (time a parameter). */
export function decidePurge(f: PurgeFacts, now: number): { keep?: string; reason: string } {
  if (f.purged) return { keep: 'already purged', reason: '' };
  if (f.state !== 'done' && f.state !== 'canceled') return { keep: `not finished (${f.state})`, reason: '' };
  if (f.days === undefined) return { keep: 'no retention_days and no DIALER_RETENTION_DAYS', reason: '' };
  if (f.state === 'canceled' && f.finished < (f.total ?? Infinity)) return { keep: 'canceled, but calls are still in progress', reason: '' };
  const at = f.endedAt ? Date.parse(f.endedAt) : NaN;
  if (!Number.isFinite(at)) return { keep: 'finish time unknown', reason: '' };
  const until = at + f.days * DAY_MS;
  if (now < until) return { keep: `kept until ${new Date(until).toISOString()} (${f.days} days)`, reason: '' };
  return { reason: `finished ${new Date(at).toISOString()}, ${f.days} days retention` };
}

/** The facts of one campaign, read from Redis, then the decision. */
async function due(store: Store, info: CampaignInfo, opts: PurgeOptions): Promise<{ keep?: string; reason: string }> {
  const id = info.campaign.name;
  const ended = info.state === 'done' || info.state === 'canceled';
  const facts: PurgeFacts = {
    state: info.state,
    purged: await store.privacy.isPurged(id),
    days: info.campaign.retention_days ?? opts.defaultDays,
    total: info.total,
    finished: ended ? ((await store.counts(id)).finished ?? 0) : 0,
    endedAt: ended ? info.finishedAt ?? (await lastActivity(store, id)) ?? info.createdAt : undefined,
  };
  return decidePurge(facts, opts.now);
}

/** A canceled campaign has no finished_at: its last audit event (a stream id is a time) stands in. */
async function lastActivity(store: Store, id: string): Promise<string | undefined> {
  const ms = await store.privacy.lastAuditMs(id);
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

async function purgeCampaign(deps: RetentionDeps, info: CampaignInfo): Promise<string[]> {
  const { store } = deps;
  const id = info.campaign.name;
  await store.privacy.stubRows(id, rowStub);
  await store.privacy.dropNumberKeys(id);
  await store.privacy.dropAuditField(id, 'number');
  await deps.queues?.get(id).obliterate({ force: true }).catch((e: unknown) => deps.log.warn({ campaign: id, err: describeError(e) }, 'could not remove the dial queue'));
  const now = new Date().toISOString();
  await store.privacy.markPurged(id, now);
  await store.appendAudit(id, { type: 'purge', at: now });
  return rewriteResultsFiles(store, id, info.campaign);
}

/**
 * Finishes erasures that waited for a call in flight (`forget` during a call)
 * or that the worker's erased-number gate ended: once a queued row is final,
 * its number goes from the campaign like any erased number.
 */
export async function completePendingErasures(deps: RetentionDeps): Promise<number> {
  const { store } = deps;
  let done = 0;
  for (const { member, campaign: id, row } of await store.privacy.pendingErasures()) {
    const rec = await store.getRow(id, row);
    if (rec && !rec.outcome) continue; // call still in flight
    if (rec?.phone) {
      const info = await store.getCampaign(id);
      const e = await eraseInCampaign(store, id, [rec.phone], info?.campaign.default_country as Parameters<typeof eraseInCampaign>[3]);
      await store.frequency.erase(rec.phone);
      if (info) {
        await rewriteResultsFiles(store, id, info.campaign);
        await blankEvents(store, info.campaign, e.erasedRows);
      }
      done += e.rows;
    }
    await store.privacy.erasureDone(member);
  }
  return done;
}

export interface RetentionServiceOptions {
  /** DIALER_RETENTION_DAYS. */
  defaultDays?: number;
  /** Business clock (DIALER_NOW aware); default Date.now. */
  now?: () => number;
  /** How often pending erasures are finished (ms); default 10 min. */
  checkMs?: number;
  /** How often the purge runs, once across all workers (ms); default 24 h. */
  purgeEveryMs?: number;
  /** Delay before the first round (ms); default 30 s, so a restart loop doesn't hammer Redis. */
  firstDelayMs?: number;
}

/**
 * Runs in `dialer worker`: finishes pending erasures every few minutes and,
 * once a day across every worker (a Redis lock taken with SET NX PX), purges
 * campaigns past their retention.
 */
export class RetentionService {
  private readonly periodic: Periodic;

  constructor(private readonly deps: RetentionDeps, private readonly opts: RetentionServiceOptions = {}) {
    this.periodic = new Periodic(opts.firstDelayMs ?? 30_000, opts.checkMs ?? 600_000, () => this.tick());
  }

  start(): void {
    this.periodic.start();
  }

  /** One round; returns whether this process ran the purge. */
  async tick(): Promise<boolean> {
    const { store, log } = this.deps;
    try {
      const n = await completePendingErasures(this.deps);
      if (n) log.info({ rows: n }, 'pending erasures completed');
      const every = this.opts.purgeEveryMs ?? DAY_MS;
      if (!(await store.privacy.takeRetentionTurn(String(process.pid), every))) return false;
      const r = await purgeExpired(this.deps, { now: (this.opts.now ?? Date.now)(), defaultDays: this.opts.defaultDays });
      const purged = r.filter((e) => e.action === 'purged').map((e) => e.campaign);
      log.info({ purged }, 'retention purge ran');
      return true;
    } catch (e) {
      log.error({ err: describeError(e) }, 'retention round failed; next round will try again');
      return false;
    }
  }

  close(): Promise<void> {
    return this.periodic.close();
  }
}
