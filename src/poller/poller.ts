import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import type { CalleaseClient, CallDetails } from '../api/client.js';
import type { Campaign } from '../config/campaign.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Outcome, RowRecord } from '../campaign/row.js';
import { knownIds, knownWith, type Store } from '../store/store.js';
import { sleep } from '../util.js';
import { dialJob, type DialQueues } from '../dialer/jobs.js';
import { keepLiveSlots } from '../dialer/live-slots.js';
import { matchCall } from './reconcile.js';
import { ambiguousRedials, decideAfterCall, decideReconcile, type ReconcileInput } from './decide.js';
import { POLL_OWNED, rowStateOf } from '../campaign/lifecycle.js';
import { mapCallStatus } from './status.js';
import { addToSuppression } from '../gate/index.js';
import { detectOptOut } from '../safety/index.js';
import { keptCallText } from '../campaign/call-text.js';
import { tryNextNumber } from './next-number.js';
import { rowAssistant } from '../campaign/assistant.js';
import { LiveCampaign } from '../campaign/live.js';
import { ApiError } from '../errors.js';
import { BatchLookup, type Lookup } from './batch.js';
import { BATCH_TICK_MS, retryDelayMs } from './schedule.js';
import { FirstLookLearner } from './first-look.js';

export interface PollerDeps {
  store: Store;
  api: CalleaseClient;
  log: Logger;
  queues: DialQueues;
  /** Most GET /calls in flight (p-limit). */
  concurrency?: number;
  /** A `sending` ledger entry younger than this may still be a live request. */
  lockMs: number;
  /** How often the loop looks for due work (ms). */
  tickMs?: number;
  onCampaignFinished?: (campaignId: string) => void;
  /** Lease of a live-call slot (ms, DIALER_LIVE_LEASE_MS); the poller keeps alive those of the calls it follows. Default 30 s. */
  liveLeaseMs?: number;
}

export type PollerState = 'starting' | 'running' | 'stopping' | 'stopped';

/** Starts the ledger error of a contact an ambiguous dial left uncalled, to be redialed. */
const REDIAL_MARK = 'not found after ambiguous dial: ';
/** A claimed entry comes back to the schedule by itself if this process dies. */
const LEASE_MS = 30_000;
const BATCH = 200;

/**
 * Follows placed calls to their final status with GET /calls, and finds out
 * what happened to ambiguous dials. Work comes from a Redis schedule (sorted
 * set) that any number of pollers share.
 */
export class Poller {
  state: PollerState = 'starting';
  lastError?: string;
  private readonly limit;
  private readonly stop = new AbortController();
  private loop?: Promise<void>;
  /** Each campaign's settings as they are now (a change is seen within SETTINGS_CHECK_MS). */
  private readonly campaigns = new Map<string, { live: LiveCampaign; at: number }>();
  private readonly batch: BatchLookup;
  private readonly firstLook = new FirstLookLearner();

  constructor(private readonly deps: PollerDeps) {
    this.limit = pLimit(deps.concurrency ?? 20);
    // Every in-flight GET listens on the one stop signal.
    setMaxListeners(0, this.stop.signal);
    this.batch = new BatchLookup(deps.api, deps.log);
  }

  start(): void {
    this.state = 'running';
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const tickMs = this.deps.tickMs ?? 250;
    let lastKeep = 0;
    while (this.state === 'running') {
      try {
        if (Date.now() - lastKeep >= 1000) {
          lastKeep = Date.now();
          // The campaigns this poller followed a call of in the last minute.
          const recent = [...this.campaigns].filter(([, v]) => lastKeep - v.at < 60_000).map(([id]) => id);
          await keepLiveSlots(this.deps.store, recent, this.deps.liveLeaseMs ?? 30_000);
        }
        const due = await this.deps.store.claimDuePolls(Date.now(), LEASE_MS, BATCH);
        await this.pollDue(due);
        this.lastError = undefined;
        if (due.length === BATCH) continue;
        // Batched, a tick gathers the calls that came due meanwhile into one GET.
        await sleep(this.batch.enabled ? Math.max(tickMs, BATCH_TICK_MS) : tickMs, this.stop.signal);
      } catch (e) {
        if (this.stop.signal.aborted) break;
        this.lastError = describeError(e);
        this.deps.log.error({ err: this.lastError }, 'poll loop error; backing off');
        await sleep(Math.min(5000, tickMs * 8), this.stop.signal).catch(() => undefined);
      }
    }
    this.state = 'stopped';
  }

  private async campaign(id: string): Promise<Campaign | undefined> {
    const hit = this.campaigns.get(id);
    if (hit) {
      // `at`: when this poller last followed a call of the campaign.
      hit.at = Date.now();
      await hit.live.refresh();
      if (!hit.live.gone) return hit.live.current;
      this.campaigns.delete(id);
      this.firstLook.forget(id);
      return undefined;
    }
    const info = await this.deps.store.getCampaign(id);
    if (info) this.campaigns.set(id, { live: new LiveCampaign(this.deps.store, info, { log: this.deps.log }), at: Date.now() });
    return info?.campaign;
  }

  /**
   * The polls just claimed. Batched (CALLEASE_CALLS_BATCH): the rows are read
   * first, the placed calls among them looked up many per GET, and each row
   * then handled with its answer; a call the answer lacks gets its own GET.
   */
  private async pollDue(due: { campaign: string; row: number }[]): Promise<void> {
    if (!this.batch.enabled) {
      await Promise.all(due.map((d) => this.limit(() => this.pollOne(d.campaign, d.row))));
      return;
    }
    const loaded = await Promise.all(due.map((d) => this.limit(() => this.load(d.campaign, d.row))));
    const rows = loaded.filter((x): x is Loaded => x !== undefined);
    const placed = rows.filter((x) => x.callId);
    const answers = await this.batch.lookup(placed.map((x) => ({ callId: x.callId!, placedAt: x.rec.placed_at ?? Date.now() })), this.stop.signal);
    await Promise.all(rows.map((x) => this.limit(() => this.handle(x, x.callId ? answers.get(x.callId) : undefined))));
  }

  /** One look at one row. Every path either finishes the row or puts it back on the schedule. */
  async pollOne(id: string, row: number): Promise<void> {
    const x = await this.load(id, row);
    if (x) await this.handle(x);
  }

  /** The row and its campaign, when the poll schedule owns it; otherwise its poll is dropped. */
  private async load(id: string, row: number): Promise<Loaded | undefined> {
    const { store } = this.deps;
    const c = await this.campaign(id);
    const rec = c && (await store.getRow(id, row));
    // Only a row whose state the poll schedule owns is looked at (a redial due shows its last call, already settled).
    const state = rec ? rowStateOf(rec) : 'final';
    if (!c || !rec || (!(POLL_OWNED as string[]).includes(state) && state !== 'sending')) {
      await store.unschedulePoll(id, row);
      return undefined;
    }
    return { c, rec, callId: rec.call_id && state === 'placed' ? rec.call_id : undefined };
  }

  private async handle({ c, rec, callId }: Loaded, pre?: Lookup): Promise<void> {
    try {
      if (callId) await this.follow(c, rec, callId, pre);
      else await this.reconcile(c, rec);
    } catch (e) {
      this.deps.log.warn({ campaign: c.name, row: rec.row, err: describeError(e) }, 'poll failed; will try again');
      // A 429's Retry-After is kept to: the next look waits at least that long.
      await this.deps.store.schedulePoll(c.name, rec.row, Date.now() + retryDelayMs(c, e instanceof ApiError ? e.retryAfterMs : undefined));
    }
  }

  /** Follows a placed call; `pre` is what a batched lookup said about it (none: a GET of its own). */
  private async follow(c: Campaign, rec: RowRecord, callId: string, pre?: Lookup): Promise<void> {
    const { store, api } = this.deps;
    const placedAt = rec.placed_at ?? Date.now();
    const overdue = Date.now() - placedAt > c.poll.timeout_minutes * 60_000;
    // Per-call, a first look earlier than the campaign's calls usually end waits for that time, without a GET.
    if (!pre && rec.status === 'queued' && rec.placed_at !== undefined) {
      const due = rec.placed_at + this.firstLook.firstLookMs(c);
      if (Date.now() < due - 50) return store.schedulePoll(c.name, rec.row, due);
    }
    let call: CallDetails | undefined;
    try {
      if (pre?.kind === 'failed') throw pre.error;
      call = pre?.kind === 'found' ? pre.call : await api.getCall(callId, { signal: this.stop.signal });
    } catch (e) {
      // A call whose lookups always fail still ends, `unknown`, at the poll timeout.
      if (!overdue || this.stop.signal.aborted) throw e;
      return this.finish(c, rec, { error: `call ${callId} could not be looked up for ${c.poll.timeout_minutes} min: ${describeError(e)}` }, 'unknown');
    }
    const status = call ? mapCallStatus(call.status, call.endedReason) : { final: false as const };
    if (call && status.final) {
      this.firstLook.observe(c.name, rec.placed_at, call);
      // The opt-out check in finish reads the whole text; the row keeps what the campaign keeps.
      const last = keptCallText(c, details(call));
      if (await tryNextNumber(this.deps, c, rec, status.outcome, last)) return;
      if (await this.redial(c, rec, status.outcome, last)) return;
      return this.finish(c, rec, details(call), status.outcome);
    }
    if (overdue) {
      return this.finish(c, rec, { error: `call still ${call?.status ?? 'not found'} after ${c.poll.timeout_minutes} min` }, 'unknown');
    }
    if (call && call.status !== rec.status) await store.moveRow(c.name, rec.row, { from: ['placed'], patch: { status: call.status } });
    await store.schedulePoll(c.name, rec.row, Date.now() + c.poll.interval_seconds * 1000);
  }

  private async reconcile(c: Campaign, rec: RowRecord): Promise<void> {
    const { store, api, log } = this.deps;
    const entry = await store.ledgerGet(c.name, rec.phone);
    const input: ReconcileInput = {
      entry, now: Date.now(), lockMs: this.deps.lockMs, graceMs: c.ambiguous_grace_seconds * 1000,
      timeoutMs: c.poll.timeout_minutes * 60_000, maxAmbiguousRedials: ambiguousRedials(c.on_ambiguous, c.retry.attempts),
    };
    let d = decideReconcile(input);
    if (d.action === 'lookup' && entry) {
      const sentAt = entry.sent ?? entry.t;
      try {
        const calls = await api.listCalls({ phoneNumber: rec.phone, assistantId: rowAssistant(c, rec), createdAfter: new Date(sentAt - 5000).toISOString() }, { signal: this.stop.signal });
        const { match, candidates } = matchCall(calls, { phone: rec.phone, assistantId: rowAssistant(c, rec), sentAt, known: knownIds(entry) });
        if (candidates > 1) log.warn({ campaign: c.name, row: rec.row, candidates }, 'several calls match an ambiguous dial; adopting the earliest');
        input.lookup = { found: match ? { id: match.id, status: match.status } : undefined };
      } catch (e) {
        if (this.stop.signal.aborted) throw e;
        input.lookup = { failed: describeError(e) };
      }
      d = decideReconcile(input);
    }
    const now = Date.now();
    switch (d.action) {
      case 'not-sent':
        if (rowStateOf(rec) !== 'ambiguous') return store.unschedulePoll(c.name, rec.row);
        // The ledger says no call exists (a redial decided below whose job a dying
        // poller never queued, or a step lost between two writes): give the row a dial job.
        if (!entry) return this.finish(c, rec, { error: 'no dial ledger entry for this number (erased?); not dialed' }, 'unknown');
        return this.queueAmbiguousRedial(c, rec, entry.a);
      case 'lookup':
      case 'wait':
        return store.schedulePoll(c.name, rec.row, d.action === 'wait' ? d.atMs : now);
      case 'adopt': {
        const n = (entry?.n ?? 0) + (d.countCall ? 1 : 0);
        await store.ledgerMove(c.name, rec.phone, ['sending', 'ambiguous', 'placed'], { s: 'placed', id: d.callId, t: now, n, ids: knownWith(entry, d.callId) });
        await store.moveRow(c.name, rec.row, { to: 'placed', from: ['ambiguous', 'sending', 'placed'], patch: { call_id: d.callId, status: d.status ?? 'queued', attempts: entry?.a, placed_at: rec.placed_at ?? entry?.sent ?? now, error: null } });
        log.info({ campaign: c.name, row: rec.row, callId: d.callId }, 'ambiguous dial reconciled: call found');
        return store.schedulePoll(c.name, rec.row, now);
      }
      case 'unknown':
        return this.finish(c, rec, { error: d.error, attempts: entry?.a }, 'unknown');
      case 'redial': {
        // The lookup says no call exists, so another POST places only one.
        const moved = await store.ledgerMove(c.name, rec.phone, ['sending', 'ambiguous'], { s: 'pending', t: now, e: `${REDIAL_MARK}${d.why}`, amb: (entry?.amb ?? 0) + 1 });
        if (moved) return this.queueAmbiguousRedial(c, rec, moved.a, d.why);
        return store.schedulePoll(c.name, rec.row, now);
      }
    }
  }

  /** The dial job after an ambiguous dial found no call; its id is fixed by the attempts so far. */
  private async queueAmbiguousRedial(c: Campaign, rec: RowRecord, attempts: number, why?: string): Promise<void> {
    const { store } = this.deps;
    const job = dialJob(c, rec.row, `r${attempts}`);
    const error = why ? `no call found after: ${why}; redialing (on_ambiguous: ${c.on_ambiguous})` : rec.error;
    // The poll lets go first: once the job exists its call may be placed, and
    // polled, at once (a poll of the new call must not be taken away). A crash
    // in between leaves the row ambiguous without a poll: the reaper gives it one.
    await store.unschedulePoll(c.name, rec.row);
    const r = await store.moveRow(c.name, rec.row, { to: 'redial-due', from: ['ambiguous', 'sending'], patch: { status: 'redialing', error, job: job.opts.jobId }, leaseMs: store.handoffLeaseMs });
    if (r === 'no-new-calls') {
      await this.finish(c, rec, { error: `${error ?? 'no call found after an unknown result'}; not redialed: the campaign was canceled` }, 'unknown');
      return;
    }
    if (r === 'applied') await this.deps.queues.get(c.name).add(job.name, job.data, job.opts);
  }

  /**
   * Schedules another call for an outcome the redial plan redials, after its
   * wait (the dial gate keeps it inside the calling window and the frequency
   * cap). The plan comes from the campaign's config as read now.
   * The row shows the last call meanwhile. A canceled campaign gets none.
   */
  private async redial(c: Campaign, rec: RowRecord, outcome: Outcome, last: Partial<Record<keyof RowRecord, unknown>>): Promise<boolean> {
    const { store } = this.deps;
    const [entry, deadlineMs] = await Promise.all([store.ledgerGet(c.name, rec.phone), store.deadline.deadlineMs(c.name)]);
    const d = decideAfterCall(c.redial, outcome, entry?.n ?? 1, { redials: rec.redials, nowMs: Date.now(), deadlineMs });
    if (d.action !== 'redial') {
      if (d.why) this.deps.log.info({ campaign: c.name, row: rec.row, outcome }, d.why);
      return false;
    }
    if (!(await store.ledgerMove(c.name, rec.phone, ['placed'], { s: 'pending', t: Date.now() }))) return false;
    const job = dialJob(c, rec.row, d.jobSuffix, d.delayMs, 'redial');
    // As above: the poll lets go before the redial's job can exist.
    await store.unschedulePoll(c.name, rec.row);
    const r = await store.moveRow(c.name, rec.row, {
      to: 'redial-due', from: ['placed'], leaseMs: store.handoffLeaseMs,
      patch: { ...last, status: `redial after ${outcome}`, next_at: new Date(Date.now() + d.delayMs).toISOString(), job: job.opts.jobId, ...(d.redials ? { redials: d.redials } : {}) },
    });
    if (r !== 'applied') {
      await store.ledgerMove(c.name, rec.phone, ['pending'], { s: 'placed', t: Date.now() });
      return false;
    }
    await this.deps.queues.get(c.name).add(job.name, job.data, job.opts);
    this.deps.log.info({ campaign: c.name, row: rec.row, outcome, calls: entry?.n ?? 1 }, 'redial scheduled');
    return true;
  }

  private async finish(c: Campaign, rec: RowRecord, patch: Partial<Record<keyof RowRecord, unknown>>, outcome: Outcome): Promise<void> {
    // The person asked not to be called again: no campaign calls this number any more.
    if (detectOptOut(patch) && (await addToSuppression(this.deps.store, rec.phone))) this.deps.log.info({ campaign: c.name, row: rec.row }, 'opt-out heard; number added to the suppression list');
    // placed_at only times the polls of a call in progress: a final row does without it (19 bytes a row).
    const r = await this.deps.store.updateRow(c.name, rec.row, { ...keptCallText(c, patch), next_at: null, job: null, placed_at: null }, outcome);
    await this.deps.store.unschedulePoll(c.name, rec.row);
    if (r === 'finished-campaign') this.deps.onCampaignFinished?.(c.name);
  }

  /** Stops taking work, lets in-flight polls finish; idempotent. */
  async close(): Promise<void> {
    if (this.state === 'running' || this.state === 'starting') {
      this.state = 'stopping';
      this.stop.abort(new Error('poller stopping'));
    }
    await this.loop?.catch(() => undefined);
    this.state = 'stopped';
    this.deps.log.debug('poller closed');
  }
}

interface Loaded {
  c: Campaign;
  rec: RowRecord;
  /** Set when the row is a placed call to follow. */
  callId?: string;
}

/** The results fields a finished call fills in. */
function details(call: CallDetails): Partial<Record<keyof RowRecord, unknown>> {
  return {
    status: call.status,
    duration_seconds: call.durationSeconds ?? null,
    ended_reason: call.endedReason ?? null,
    started_at: call.startedAt ?? null,
    ended_at: call.endedAt ?? null,
    summary: call.summary ?? null,
    transcript: call.transcript ?? null,
    recording_url: call.recordingUrl ?? null,
    cost: call.cost ?? null,
    error: null,
  };
}

