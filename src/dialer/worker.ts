import { randomUUID } from 'node:crypto';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { CalleaseClient, CreateCallResult } from '../api/client.js';
import type { Campaign } from '../config/campaign.js';
import { ApiError, describeError } from '../errors.js';
import type { DialGate, GateResult } from '../gate/types.js';
import { maskPhone, type Logger } from '../log.js';
import type { Outcome, RowRecord } from '../campaign/row.js';
import type { RedisClient } from '../store/redis.js';
import { knownWith, type LedgerEntry, type RowPatch, type Store } from '../store/store.js';
import { claimNextNumber, isInvalidNumberError, nextNumberPatch, triedWith, triesNext, type NextReason } from '../campaign/alternates.js';
import { sleep } from '../util.js';
import { BACKOFF_TYPE, DIAL_KEEP_JOBS, LEGACY_BACKOFF_TYPE, type DialJobData } from './jobs.js';
import { decideFailure } from './policy.js';
import { rowAssistant } from '../campaign/assistant.js';
import { LiveCampaign } from '../campaign/live.js';
import { diffSettings, settingsOf } from '../config/settings-patch.js';
import { firstLookMs } from '../poller/schedule.js';

export interface DialWorkerDeps {
  store: Store;
  api: CalleaseClient;
  log: Logger;
  connection: RedisClient;
  gate?: DialGate;
  /** Account-wide most POST /calls per second, across campaigns and workers. */
  maxCallsPerSecond?: number;
  /** Account-wide most POST /calls in flight, across campaigns and workers. */
  maxConcurrentCalls?: number;
  /** Account-wide most calls placed and not yet ended, across campaigns and workers. */
  maxLiveCalls?: number;
  /** Lease of a live-call slot (ms); renewed while this worker's POST is under way. Default 30 s. */
  liveLeaseMs?: number;
  /** How long a `sending` ledger entry may be a live request (ms); well above the HTTP timeout. */
  lockMs: number;
  /** BullMQ's lock on a dial job (ms; default `lockMs`): a killed worker's jobs wait this long (plus half) for another worker. */
  jobLockMs?: number;
  /** Called when this worker's write finished the campaign. */
  onCampaignFinished?: (campaignId: string) => void;
}

/** Reservations further ahead than this hand the wait to BullMQ's rate limiter instead of sleeping. */
const MAX_SLOT_WAIT_MS = 2000;
/**
 * Requests are spaced 5% wider than the limit allows, so that a request
 * delayed on its way can't bring one too many inside a sliding second as the
 * API counts it; the mean rate stays at 95% of the limit. Chosen from measured
 * jitter: with three worker processes on two cores, arrivals at the simulator
 * strayed up to ~25 ms from their slots (11 POSTs in 995–997 ms at 10/s, whose
 * slots spanned 1,020 ms under a 2% margin); 5% leaves 50 ms per second's worth.
 */
const RATE_MARGIN = 1.05;
/** The limiter of one campaign's rate (LimitsStore scope). */
export const campaignRateScope = (id: string): string => `c:${id}`;

/** Spacing of a campaign's requests (ms) under its `rate`, margin included. */
export function campaignIntervalMs(rate: Campaign['rate']): number {
  return (RATE_MARGIN * rate.per_seconds * 1000) / rate.calls;
}

/** First lookup of an ambiguous dial. */
const FIRST_RECONCILE_MS = 1000;
/** A campaign (or the account) with every live-call slot taken holds its queue this long before trying again. */
const LIVE_FULL_WAIT_MS = 250;
/** A job of a campaign that may not dial now (paused, loading) looks again after this long. */
const PAUSED_RECHECK_MS = 5000;

/** Carries the policy's backoff to BullMQ's `backoffStrategy`. */
class RetryLater extends Error {
  constructor(readonly delayMs: number, cause: unknown) {
    super(describeError(cause));
    this.name = 'RetryLater';
  }
}

/** A BullMQ worker dialing one campaign's queue. */
export class CampaignWorker {
  readonly worker: Worker<DialJobData>;
  private readonly log: Logger;
  /** The campaign's settings as they are now (`dialer set` reaches a running worker through it). */
  readonly live: LiveCampaign;

  constructor(private readonly deps: DialWorkerDeps, initial: Campaign, version = 0) {
    const campaign = initial;
    this.log = deps.log.child({ campaign: campaign.name });
    this.live = new LiveCampaign(deps.store, { campaign, version }, { log: this.log, onChange: (now, before) => this.onSettings(now, before) });
    this.worker = new Worker<DialJobData>(deps.store.keys.dialQueue(campaign.name), (job, token, signal) => this.process(job, token, signal), {
      connection: deps.connection,
      prefix: deps.store.keys.prefix,
      concurrency: campaign.concurrency,
      lockDuration: deps.jobLockMs ?? deps.lockMs,
      // A stalled job runs again; the ledger makes that harmless (a contact found
      // `sending` is reconciled, never re-sent), so a few re-runs are allowed
      // rather than dead-lettering contacts of a worker that was killed.
      maxStalledCount: 10,
      // BullMQ looks for stalled jobs every 30 s by default; with a short lock a
      // killed worker's jobs (which hold campaign concurrency) would still wait that long.
      stalledInterval: Math.min(30_000, Math.max(1000, (deps.jobLockMs ?? deps.lockMs) / 2)),
      ...DIAL_KEEP_JOBS,
      settings: {
        backoffStrategy: (_attempts: number, type?: string, err?: Error) =>
          (type === BACKOFF_TYPE || type === LEGACY_BACKOFF_TYPE) && err instanceof RetryLater ? err.delayMs : 1000,
      },
    });
    this.worker.on('failed', (job, err) => void this.onFailed(job, err));
    this.worker.on('error', (err) => this.log.error({ err: describeError(err) }, 'dial worker error'));
    this.live.start();
  }

  /**
   * The campaign's settings now: read at each use (rate, retries, poll
   * interval, calling hours via the gate), so a change reaches jobs already
   * running within one look at the settings version.
   */
  get campaign(): Campaign {
    return this.live.current;
  }

  /** A change of settings taken up: what BullMQ holds itself (this worker's concurrency) is set anew. */
  private onSettings(now: Campaign, before: Campaign): void {
    if (now.concurrency !== before.concurrency) this.worker.concurrency = now.concurrency;
    this.log.info({ version: this.live.version, changed: diffSettings(settingsOf(before), settingsOf(now)).map((d) => d.key) }, 'campaign settings changed');
  }

  private async process(job: Job<DialJobData>, token?: string, signal?: AbortSignal): Promise<string> {
    const { store } = this.deps;
    const c = this.campaign;
    const id = c.name;
    const row = job.data.row;
    // Both in flight at once: one round trip of waiting.
    const [rec, state] = await Promise.all([store.getRow(id, row), store.campaignState(id)]);
    if (!rec || rec.outcome) return 'final';
    if (rec.job && rec.job !== job.id) return 'not-owner';
    if (state === 'canceling' || state === 'canceled') {
      await store.cancelRows(id, [row]);
      return 'canceled';
    }
    if (state !== 'running') return this.later(job, token, PAUSED_RECHECK_MS);

    let gate = this.deps.gate ? await this.deps.gate(c, rec) : { action: 'go' as const };
    if (gate.action === 'delay' && this.deps.gate) {
      // Put off under these settings: make sure they are still the settings (a
      // change of calling hours wakes waiting jobs at once, maybe before the
      // next look at the version); a delay reserves nothing, so asking again is safe.
      await this.live.refresh(true);
      if (this.live.current !== c) gate = await this.deps.gate(this.live.current, rec);
    }
    if (gate.action === 'skip') {
      // A suppressed alternate number gives way to the next one (this job dials it).
      if (gate.outcome === 'suppressed' && (await this.nextNumber(rec, { suppressed: gate.reason }, false))) return this.process(job, token, signal);
      await this.finish(row, { error: gate.reason }, gate.outcome);
      return gate.outcome;
    }
    if (gate.action === 'delay') {
      // Outside the window: wait for the next opening without using an attempt.
      await store.moveRow(id, row, { to: 'waiting', patch: { status: 'waiting', error: gate.reason, next_at: gate.nextAt }, leaseMs: store.handoffLeaseMs });
      return this.later(job, token, gate.delayMs);
    }

    // The account-wide cap on requests in flight, shared by every campaign and worker.
    const holder = `${id}|${row}|${job.attemptsStarted}`;
    const cap = this.deps.maxConcurrentCalls;
    if (cap && !(await store.limits.acquire('account', holder, cap, this.deps.lockMs))) {
      await gate.release?.();
      await this.worker.rateLimit(50);
      throw Worker.RateLimitError();
    }
    try {
      // A live-call slot before the rate slot: a rate slot taken and then not used would push every later request back.
      const live = await this.takeLiveSlot(row);
      if (live === 'full') {
        await gate.release?.();
        await this.worker.rateLimit(LIVE_FULL_WAIT_MS);
        throw Worker.RateLimitError();
      }
      const sent = { begun: false };
      try {
        await this.takeSlot(gate, signal);
        return await this.send(job, rec, gate, token, signal, sent);
      } finally {
        // No POST went out under this slot: give it back (once sending, the row's moves do).
        if (live === 'taken' && !sent.begun) await store.live.release(id, row);
      }
    } finally {
      if (cap) await store.limits.release('account', holder);
    }
  }

  /**
   * A slot under `max_live_calls` and CALLEASE_MAX_LIVE_CALLS (taken even
   * without caps, so `live_calls` counts). 'held': the row already has one
   * (another job of it is sending, or a slot its crashed worker left), which
   * this job neither takes nor gives back.
   */
  private async takeLiveSlot(row: number): Promise<'taken' | 'held' | 'full'> {
    const r = await this.deps.store.live.acquire(this.campaign.name, row, { campaign: this.campaign.max_live_calls, account: this.deps.maxLiveCalls }, this.liveLeaseMs);
    return r === 'taken' || r === 'held' ? r : 'full';
  }

  private get liveLeaseMs(): number {
    return this.deps.liveLeaseMs ?? 30_000;
  }

  /** Gives the job back to BullMQ until `delayMs` from now, using no attempt. */
  private async later(job: Job<DialJobData>, token: string | undefined, delayMs: number): Promise<never> {
    await job.moveToDelayed(Date.now() + delayMs, token);
    throw new DelayedError();
  }

  /**
   * Waits for this request's turn under the campaign rate and the account cap.
   * A slot is only taken when it is due now, and the POST follows at once: a
   * slot booked ahead and slept towards would reach the API late by however
   * long the process was busy, bunching requests together.
   */
  private async takeSlot(gate: GateResult & { action: 'go' }, signal?: AbortSignal): Promise<void> {
    for (;;) {
      // The rate as it is now, at each try: a `dialer set` of it applies to requests already waiting.
      const c = this.campaign;
      const limits = [{ scope: campaignRateScope(c.name), intervalMs: campaignIntervalMs(c.rate) }];
      if (this.deps.maxCallsPerSecond) limits.push({ scope: 'account', intervalMs: (RATE_MARGIN * 1000) / this.deps.maxCallsPerSecond });
      // A request may go up to `early` ms before its slot: a waiter woken a little
      // late then still keeps the schedule instead of losing those ms each time
      // (which would drag the mean rate below the limit). Any window then holds at
      // most limit × 1.05 − early/interval requests: below the limit.
      // At least 1 ms: Redis TIME counts whole ms, so above 250/s a smaller allowance
      // turns most reservations into a 1 ms sleep and a retry (many RESERVE_SLOT calls
      // per dial at very high rates). 1 ms ≤ the 5% margin, so no window is over.
      const early = Math.min(5, Math.max(1, Math.min(...limits.map((l) => l.intervalMs)) / 4));
      const slot = await this.deps.store.limits.reserveSlot(limits, early);
      if (slot.reserved) return;
      if (slot.waitMs > MAX_SLOT_WAIT_MS) {
        // Far behind: free this job's place and let BullMQ hold the campaign's queue instead.
        await gate.release?.();
        await this.worker.rateLimit(slot.waitMs - MAX_SLOT_WAIT_MS / 2);
        throw Worker.RateLimitError();
      }
      await sleep(Math.max(1, slot.waitMs - early / 2), signal);
    }
  }

  private async send(job: Job<DialJobData>, rec: RowRecord, gate: GateResult & { action: 'go' }, token: string | undefined, signal: AbortSignal | undefined, sent: { begun: boolean }): Promise<string> {
    const { store } = this.deps;
    const c = this.campaign;
    const id = c.name;
    const row = rec.row;
    // Unique per try of this job, and the same if ioredis resends the command.
    const attemptToken = `${job.id}|${job.attemptsStarted}|${randomUUID()}`;
    const begin = await store.ledgerBegin(id, rec.phone, Date.now(), attemptToken, this.deps.lockMs);
    if (!begin.ok) {
      await gate.release?.();
      if (begin.why === 'final') return 'final';
      if (begin.why === 'canceling' || begin.why === 'canceled') {
        await store.cancelRows(id, [row]);
        return 'canceled';
      }
      if (begin.why === 'missing') {
        await this.finish(row, { error: 'no dial ledger entry for this number (erased?); not dialed' }, 'dead-letter');
        return 'dead-letter';
      }
      if (begin.why === 'expired') {
        // Past the campaign's deadline: this contact is not dialed any more.
        const r = await store.deadline.expireRows(id, [row]);
        if (r.expired.length) await store.appendAudit(id, { type: 'outcome', row, at: new Date().toISOString(), outcome: 'expired', error: 'campaign deadline reached' });
        if (r.settled) this.deps.onCampaignFinished?.(id);
        return 'expired';
      }
      if (begin.why !== 'dialed') return this.later(job, token, PAUSED_RECHECK_MS);
      // Someone already sent (or is sending) to this person. Never again: let the poller find out.
      this.log.warn({ row, ledger: begin.entry?.s }, 'contact already dialed; handing to reconciliation');
      const moved = await store.moveRow(id, row, { to: 'ambiguous', from: ['queued', 'waiting', 'redial-due'], patch: { status: 'ambiguous', job: null } });
      // A call may exist: the slot stays with the row, kept alive by the poll schedule's owners.
      if (moved === 'applied') sent.begun = true;
      await store.schedulePoll(id, row, Date.now() + FIRST_RECONCILE_MS, true);
      return 'already-dialed';
    }
    // From here the row's moves give the live-call slot back; until then this worker keeps it alive.
    sent.begun = true;
    const renew = setInterval(() => void store.live.renew(id, row, this.liveLeaseMs).catch(() => undefined), this.liveLeaseMs / 3);
    try {
      return await this.post(job, rec, gate, begin.entry!, signal, token);
    } finally {
      clearInterval(renew);
    }
  }

  private async post(job: Job<DialJobData>, rec: RowRecord, gate: GateResult & { action: 'go' }, begun: LedgerEntry, signal?: AbortSignal, token?: string): Promise<string> {
    const { store, api } = this.deps;
    const c = this.campaign;
    const id = c.name;
    const row = rec.row;
    // `sending` must survive a Redis crash before anyone's phone can ring; else give the job back.
    if (!(await store.ensureDurable(id, rec.phone, begun))) {
      await gate.release?.();
      this.log.warn({ row, durability: store.durability.reason }, 'Redis could not confirm the dial ledger write; job given back');
      await this.worker.rateLimit(1000);
      throw Worker.RateLimitError();
    }
    const attempt = begun.a;
    const audit = (fields: Record<string, string | number | undefined | null>) =>
      store.appendAudit(id, {
        type: 'dial', row, number: maskPhone(rec.phone), at: new Date().toISOString(), local_time: gate.localTime,
        timezone: rec.timezone, rule: gate.rule, consent: rec.consent, attempt, ...fields,
      });

    let res: CreateCallResult;
    try {
      res = await api.createCall(
        { assistant_id: rowAssistant(c, rec), name: rec.name, phoneNumber: rec.phone, customVariables: Object.entries(rec.vars ?? {}).map(([key, value]) => ({ key, value })) },
        { signal },
      );
    } catch (err) {
      await audit({ http_status: err instanceof ApiError ? err.status : undefined, result: err instanceof ApiError ? err.code : 'error' });
      if (err instanceof ApiError && !err.maybeSent) await gate.release?.();
      return this.onDialError(job, rec, attempt, err, token, signal);
    }
    // The call exists. A failure from here on (Redis down) must not reach the
    // retry policy, which would mark the contact `failed` and dial it again:
    // the job fails, the ledger stays `sending` and reconciliation finds the call.
    const now = Date.now();
    // Issued together, these are in flight at once and Redis runs them in this order.
    await Promise.all([
      store.ledgerMove(id, rec.phone, ['sending'], { s: 'placed', t: now, id: res.id ?? null, n: (begun.n ?? 0) + 1, ids: knownWith(begun, res.id) }),
      store.moveRow(id, row, { to: 'placed', from: ['sending'], patch: { numbers_tried: triedWith(rec.numbers_tried, rec.phone), call_id: res.id ?? null, attempts: attempt, status: 'queued', placed_at: now, error: null, http_status: null, next_at: null, job: null } }),
      // No call ends the moment it is placed: the first look waits (poller/schedule.ts).
      store.schedulePoll(id, row, now + (res.id ? firstLookMs(c) : FIRST_RECONCILE_MS)),
      store.limits.recordDial(id, now, row),
      audit({ call_id: res.id, result: 'placed' }),
    ]);
    this.log.info({ row, attempt, callId: res.id }, 'call placed');
    return 'placed';
  }

  private async onDialError(job: Job<DialJobData>, rec: RowRecord, attempt: number, err: unknown, token?: string, signal?: AbortSignal): Promise<string> {
    const { store } = this.deps;
    const id = this.campaign.name;
    const row = rec.row;
    const policy = { attempts: this.campaign.retry.attempts, backoffMs: this.campaign.retry.backoff_ms, maxBackoffMs: this.campaign.retry.max_backoff_ms };
    const d = decideFailure(err, job.attemptsMade + 1, policy, Math.random());
    const error = describeError(err);
    const status = err instanceof ApiError ? err.status ?? null : null;
    this.log.warn({ row, attempt, decision: d.action, err: error }, 'POST /calls failed');
    switch (d.action) {
      case 'rate-limited':
        // A 429 is not an attempt: give it back, and hold the whole campaign queue.
        await store.ledgerMove(id, rec.phone, ['sending'], { s: 'pending', a: attempt - 1, t: Date.now() });
        await store.moveRow(id, row, { to: 'queued', from: ['sending'] });
        await this.worker.rateLimit(d.delayMs);
        throw Worker.RateLimitError();
      case 'retry':
        await store.ledgerMove(id, rec.phone, ['sending'], { s: 'failed', t: Date.now(), e: error });
        await store.moveRow(id, row, { to: 'queued', from: ['sending'], patch: { attempts: attempt, error, http_status: status }, leaseMs: store.handoffLeaseMs });
        throw new RetryLater(d.delayMs, err);
      case 'dead-letter':
        await store.ledgerMove(id, rec.phone, ['sending'], { s: 'failed', t: Date.now(), e: error });
        // The API says this number is invalid: the row's next number, on this job.
        if (isInvalidNumberError(err) && (await this.nextNumber(rec, { rejected: error }, true, { attempts: attempt, error: d.reason, http_status: status }))) {
          return this.process(job, token, signal);
        }
        await this.finish(row, { attempts: attempt, error: d.reason, http_status: status }, 'dead-letter');
        throw new UnrecoverableError(d.reason);
      case 'ambiguous':
        await store.ledgerMove(id, rec.phone, ['sending'], { s: 'ambiguous', t: Date.now(), e: error });
        await store.moveRow(id, row, { to: 'ambiguous', from: ['sending'], patch: { numbers_tried: triedWith(rec.numbers_tried, rec.phone), attempts: attempt, status: 'ambiguous', error, http_status: status, job: null } });
        await store.schedulePoll(id, row, Date.now() + FIRST_RECONCILE_MS);
        return 'ambiguous';
    }
  }

  /**
   * Moves a row its dial job owns (or one in `sending`, back to `queued`) on
   * to its next number; false when it has none left. See campaign/alternates.ts.
   */
  private async nextNumber(rec: RowRecord, why: NextReason, dialed: boolean, extra: RowPatch = {}): Promise<boolean> {
    const { store } = this.deps;
    if (!triesNext(rec, why)) return false;
    const picked = await claimNextNumber(store, this.campaign.name, rec, typeof extra.attempts === 'number' ? extra.attempts : rec.attempts ?? 0);
    if (!picked) return false;
    const patch = { ...extra, ...nextNumberPatch(this.campaign, rec, picked.next, picked.rest, why, dialed) };
    const r = dialed
      ? await store.moveRow(this.campaign.name, rec.row, { to: 'queued', from: ['sending'], patch })
      : await store.moveRow(this.campaign.name, rec.row, { from: ['queued', 'waiting', 'redial-due'], patch });
    if (r !== 'applied') return false;
    this.log.info({ row: rec.row, left: picked.rest.length }, 'trying the next number');
    return true;
  }

  /** Safety net: a job BullMQ failed on its own (stalled too often) still ends with an outcome. */
  private async onFailed(job: Job<DialJobData> | undefined, err: Error): Promise<void> {
    if (!job || err instanceof UnrecoverableError || err.name === 'UnrecoverableError') return;
    // 'failed' fires on every failed attempt; only a job BullMQ gave up on has `finishedOn`.
    if (!job.finishedOn) return;
    const { store } = this.deps;
    const id = this.campaign.name;
    try {
      const rec = await store.getRow(id, job.data.row);
      if (!rec || rec.outcome) return;
      const entry = await store.ledgerGet(id, rec.phone);
      if (entry && entry.s !== 'pending' && entry.s !== 'failed') {
        await store.schedulePoll(id, rec.row, Date.now(), true);
      } else {
        await this.finish(rec.row, { error: `dial job failed: ${err.message}` }, 'dead-letter');
      }
    } catch (e) {
      this.log.error({ err: describeError(e) }, 'could not settle a failed dial job');
    }
  }

  private async finish(row: number, patch: Partial<Record<keyof RowRecord, unknown>>, outcome: Outcome): Promise<void> {
    const r = await this.deps.store.updateRow(this.campaign.name, row, patch, outcome);
    if (r === 'finished-campaign') this.deps.onCampaignFinished?.(this.campaign.name);
  }

  /** Graceful: in-flight requests finish and record their outcome. `force` aborts them. */
  async close(force = false): Promise<void> {
    this.live.stop();
    if (force) this.worker.cancelAllJobs('worker stopping');
    await this.worker.close(force);
  }
}
