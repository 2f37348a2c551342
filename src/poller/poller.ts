import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import type { CalleaseClient, CallDetails } from '../api/client.js';
import type { Campaign } from '../config/campaign.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Outcome, RowRecord } from '../campaign/row.js';
import type { Store } from '../store/store.js';
import { sleep } from '../util.js';
import { dialJob, type DialQueues } from '../dialer/jobs.js';
import { matchCall } from './reconcile.js';
import { mapCallStatus } from './status.js';
import { addToSuppression } from '../gate/index.js';
import { detectOptOut } from '../safety/index.js';

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
  private readonly campaigns = new Map<string, { c: Campaign; at: number }>();

  constructor(private readonly deps: PollerDeps) {
    this.limit = pLimit(deps.concurrency ?? 20);
    // Every in-flight GET listens on the one stop signal.
    setMaxListeners(0, this.stop.signal);
  }

  start(): void {
    this.state = 'running';
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const tick = this.deps.tickMs ?? 250;
    while (this.state === 'running') {
      try {
        const due = await this.deps.store.claimDuePolls(Date.now(), LEASE_MS, BATCH);
        await Promise.all(due.map((d) => this.limit(() => this.pollOne(d.campaign, d.row))));
        this.lastError = undefined;
        if (due.length === BATCH) continue;
        await sleep(tick, this.stop.signal);
      } catch (e) {
        if (this.stop.signal.aborted) break;
        this.lastError = describeError(e);
        this.deps.log.error({ err: this.lastError }, 'poll loop error; backing off');
        await sleep(Math.min(5000, tick * 8), this.stop.signal).catch(() => undefined);
      }
    }
    this.state = 'stopped';
  }

  private async campaign(id: string): Promise<Campaign | undefined> {
    const hit = this.campaigns.get(id);
    if (hit && Date.now() - hit.at < 5000) return hit.c;
    const info = await this.deps.store.getCampaign(id);
    if (info) this.campaigns.set(id, { c: info.campaign, at: Date.now() });
    return info?.campaign;
  }

  /** One look at one row. Every path either finishes the row or puts it back on the schedule. */
  async pollOne(id: string, row: number): Promise<void> {
    const { store, log } = this.deps;
    const c = await this.campaign(id);
    const rec = c && (await store.getRow(id, row));
    if (!c || !rec || rec.outcome) return store.unschedulePoll(id, row);
    // A row waiting for its redial shows its last call; that call is already settled.
    if (rec.status?.startsWith('redial after')) return store.unschedulePoll(id, row);
    try {
      if (rec.call_id) await this.follow(c, rec, rec.call_id);
      else await this.reconcile(c, rec);
    } catch (e) {
      log.warn({ campaign: id, row, err: describeError(e) }, 'poll failed; will try again');
      await store.schedulePoll(id, row, Date.now() + c.poll.interval_seconds * 1000);
    }
  }

  private async follow(c: Campaign, rec: RowRecord, callId: string): Promise<void> {
    const { store, api } = this.deps;
    const call = await api.getCall(callId, { signal: this.stop.signal });
    const status = call ? mapCallStatus(call.status, call.endedReason) : { final: false as const };
    if (call && status.final) {
      if (await this.redial(c, rec, status.outcome, details(call))) return;
      return this.finish(c, rec, details(call), status.outcome);
    }
    const placedAt = rec.placed_at ?? Date.now();
    if (Date.now() - placedAt > c.poll.timeout_minutes * 60_000) {
      return this.finish(c, rec, { error: `call still ${call?.status ?? 'not found'} after ${c.poll.timeout_minutes} min` }, 'unknown');
    }
    if (call && call.status !== rec.status) await store.updateRow(c.name, rec.row, { status: call.status });
    await store.schedulePoll(c.name, rec.row, Date.now() + c.poll.interval_seconds * 1000);
  }

  private async reconcile(c: Campaign, rec: RowRecord): Promise<void> {
    const { store, api, log } = this.deps;
    const entry = await store.ledgerGet(c.name, rec.phone);
    if (!entry || entry.s === 'pending' || entry.s === 'failed') {
      // Never sent: a dial job owns this row, nothing to look for. Except a
      // redial decided below whose job a dying poller never queued (the entry
      // still carries the redial's mark; a dial clears it): queue it now, under
      // the same job id, so a job already queued is not doubled.
      if (entry?.s === 'pending' && entry.e?.startsWith(REDIAL_MARK)) await this.queueRedial(c, rec.row, entry.a);
      return store.unschedulePoll(c.name, rec.row);
    }
    const now = Date.now();
    if (entry.s === 'sending' && now - entry.t < this.deps.lockMs) {
      return store.schedulePoll(c.name, rec.row, entry.t + this.deps.lockMs);
    }
    const sentAt = entry.sent ?? entry.t;
    let calls: CallDetails[];
    try {
      calls = await api.listCalls({ phoneNumber: rec.phone, assistantId: c.assistant_id, createdAfter: new Date(sentAt - 5000).toISOString() }, { signal: this.stop.signal });
    } catch (e) {
      // A lookup that keeps failing must not hold the row open forever; nor may it
      // lead to a blind redial: past the poll timeout the row ends `unknown`.
      if (now - sentAt <= c.poll.timeout_minutes * 60_000) throw e;
      return this.finish(c, rec, { error: `could not find out whether a call was placed (${entry.e ?? 'ambiguous dial'}); lookup failing: ${describeError(e)}`, attempts: entry.a }, 'unknown');
    }
    const { match, candidates } = matchCall(calls, { phone: rec.phone, assistantId: c.assistant_id, sentAt });
    if (match) {
      if (candidates > 1) log.warn({ campaign: c.name, row: rec.row, candidates }, 'several calls match an ambiguous dial; adopting the earliest');
      await store.ledgerMove(c.name, rec.phone, ['sending', 'ambiguous', 'placed'], { s: 'placed', id: match.id, t: now });
      await store.updateRow(c.name, rec.row, { call_id: match.id, status: match.status, attempts: entry.a, placed_at: sentAt, error: null });
      log.info({ campaign: c.name, row: rec.row, callId: match.id }, 'ambiguous dial reconciled: call found');
      return store.schedulePoll(c.name, rec.row, now);
    }
    if (now - sentAt < c.ambiguous_grace_seconds * 1000) {
      return store.schedulePoll(c.name, rec.row, now + Math.min(2000, c.poll.interval_seconds * 1000));
    }
    const why = entry.e ?? 'the request\'s outcome is unknown';
    if (entry.s === 'placed' || c.on_ambiguous === 'skip') {
      const error = entry.s === 'placed'
        ? `call placed but its id was never found within ${c.ambiguous_grace_seconds}s`
        : `POST /calls may have placed a call (${why}); none found within ${c.ambiguous_grace_seconds}s; not redialed (on_ambiguous: skip)`;
      return this.finish(c, rec, { error, attempts: entry.a }, 'unknown');
    }
    // on_ambiguous: redial — the lookup says no call exists, so another POST places only one.
    const moved = await store.ledgerMove(c.name, rec.phone, ['sending', 'ambiguous'], { s: 'pending', t: now, e: `${REDIAL_MARK}${why}` });
    if (moved) {
      await this.queueRedial(c, rec.row, entry.a);
      await store.updateRow(c.name, rec.row, { status: 'redialing', error: `no call found after: ${why}; redialing (on_ambiguous: redial)` });
    }
    await store.unschedulePoll(c.name, rec.row);
  }

  /** The dial job of an `on_ambiguous: redial`; its id is fixed by the attempts so far. */
  private async queueRedial(c: Campaign, row: number, attempts: number): Promise<void> {
    const job = dialJob(c, row, `r${attempts}`);
    await this.deps.queues.get(c.name).add(job.name, job.data, job.opts);
  }

  /**
   * Schedules another attempt for a redialable outcome, `after_minutes` later
   * (the dial gate keeps it inside the calling window and the frequency cap).
   * The row shows the last call meanwhile.
   */
  private async redial(c: Campaign, rec: RowRecord, outcome: Outcome, last: Partial<Record<keyof RowRecord, unknown>>): Promise<boolean> {
    const { store } = this.deps;
    if (!c.redial || !(c.redial.outcomes as string[]).includes(outcome)) return false;
    const entry = await store.ledgerGet(c.name, rec.phone);
    const calls = entry?.n ?? 1;
    if (calls > c.redial.max) return false;
    const moved = await store.ledgerMove(c.name, rec.phone, ['placed'], { s: 'pending', t: Date.now() });
    if (!moved) return false;
    const delay = c.redial.after_minutes * 60_000;
    await store.updateRow(c.name, rec.row, { ...last, status: `redial after ${outcome}`, next_at: new Date(Date.now() + delay).toISOString() });
    const job = dialJob(c, rec.row, `redial${calls}`, delay);
    await this.deps.queues.get(c.name).add(job.name, job.data, job.opts);
    await store.unschedulePoll(c.name, rec.row);
    this.deps.log.info({ campaign: c.name, row: rec.row, outcome, calls }, 'redial scheduled');
    return true;
  }

  private async finish(c: Campaign, rec: RowRecord, patch: Partial<Record<keyof RowRecord, unknown>>, outcome: Outcome): Promise<void> {
    // The person asked not to be called again: no campaign calls this number any more.
    if (detectOptOut(patch) && (await addToSuppression(this.deps.store, rec.phone))) this.deps.log.info({ campaign: c.name, row: rec.row }, 'opt-out heard; number added to the suppression list');
    const r = await this.deps.store.updateRow(c.name, rec.row, { ...patch, next_at: null }, outcome);
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
  }
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
    error: null,
  };
}

