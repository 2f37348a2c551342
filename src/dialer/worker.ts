import { randomUUID } from 'node:crypto';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { CalleaseClient, CreateCallResult } from '../api/client.js';
import { untilStartMs, type Campaign } from '../config/campaign.js';
import { ApiError, describeError } from '../errors.js';
import type { DialGate, GateResult } from '../gate/types.js';
import { maskPhone, type Logger } from '../log.js';
import type { Outcome, RowRecord } from '../campaign/row.js';
import type { RedisClient } from '../store/redis.js';
import { knownWith, type LedgerEntry, type RowPatch, type Store } from '../store/store.js';
import { claimNextNumber, nextNumberPatch, triedWith, triesNext, type NextReason } from '../campaign/alternates.js';
import pLimit from 'p-limit';
import { sleep } from '../util.js';
import { BACKOFF_TYPE, DIAL_KEEP_JOBS, LEGACY_BACKOFF_TYPE, withRetries, type DialJobData } from './jobs.js';
import { FIRST_RECONCILE_MS, onDialError, RetryLater, type FailureContext } from './failure.js';
import { dialLimits, earlyMs } from './rate.js';
import type { DialBegin } from '../store/dial.js';
import { rowAssistant } from '../campaign/assistant.js';
import { LiveCampaign } from '../campaign/live.js';
import { diffSettings, settingsOf } from '../config/settings-patch.js';
import { firstLookMs } from '../poller/schedule.js';
import { CLOSE_WAIT_MS, closeWorker } from '../store/close.js';

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
  /** Business time (DIALER_NOW aware), for the campaign's `start_at`. Default Date.now. */
  now?: () => number;
}

/** Reservations further ahead than this hand the wait to BullMQ's rate limiter instead of sleeping. */
const MAX_SLOT_WAIT_MS = 2000;
/** A campaign (or the account) with every live-call slot taken holds its queue this long before trying again. */
const LIVE_FULL_WAIT_MS = 250;
/** A job of a campaign that may not dial now (paused, loading) looks again after this long. */
const PAUSED_RECHECK_MS = 5000;

type Go = GateResult & { action: 'go' };
type Refusal = Exclude<GateResult, { action: 'go' }>;
type Begun = DialBegin & { step: 'ok' | 'refused' | 'gate' };

/** A BullMQ worker dialing one campaign's queue. */
export class CampaignWorker {
  readonly worker: Worker<DialJobData>;
  private readonly log: Logger;
  /** The campaign's settings as they are now (`dialer set` reaches a running worker through it). */
  readonly live: LiveCampaign;
  /** Whose turn it is to ask for the next rate slot, among this process's jobs of the campaign (see begin). */
  private readonly turn = pLimit(1);

  constructor(private readonly deps: DialWorkerDeps, initial: Campaign, version = 0) {
    const campaign = initial;
    this.log = deps.log.child({ campaign: campaign.name });
    this.live = new LiveCampaign(deps.store, { campaign, version }, { log: this.log, onChange: (now, before) => this.onSettings(now, before) });
    this.worker = new Worker<DialJobData>(deps.store.keys.dialQueue(campaign.name), (job, token, signal) => this.process(job, token, signal), {
      connection: deps.connection,
      prefix: deps.store.keys.dialQueuePrefix,
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
    withRetries(job, c);
    const id = c.name;
    const row = job.data.row;
    const [rec, state] = await store.dial.read(id, row);
    if (!rec || rec.outcome) return 'final';
    if (rec.job && rec.job !== job.id) return 'not-owner';
    if (state === 'canceling' || state === 'canceled') {
      await store.cancelRows(id, [row]);
      return 'canceled';
    }
    if (state !== 'running') return this.later(job, token, PAUSED_RECHECK_MS);
    // Nobody is dialed before the campaign's start_at, whatever queued the job early (a requeue, a retry by hand).
    const untilStart = untilStartMs(c.schedule, this.deps.now?.() ?? Date.now());
    if (untilStart > 0) return this.later(job, token, untilStart);

    // The gate's Redis checks are left to DIAL_BEGIN where the layout allows (one round trip less).
    const gate = this.deps.gate ? await this.deps.gate(c, rec, { defer: true }) : { action: 'go' as const };
    if (gate.action !== 'go') return this.gated(job, token, signal, c, rec, gate);

    // The account-wide cap on requests in flight, shared by every campaign and worker.
    const holder = `${id}|${row}|${job.attemptsStarted}`;
    const cap = this.deps.maxConcurrentCalls;
    if (cap && !(await store.limits.acquire('account', holder, cap, this.deps.lockMs))) {
      await gate.release?.();
      await this.worker.rateLimit(50);
      throw Worker.RateLimitError();
    }
    let out: string | Refusal;
    try {
      out = await this.send(job, rec, gate, token, signal);
    } finally {
      if (cap) await store.limits.release('account', holder);
    }
    // The gate's checks refused inside DIAL_BEGIN: the same verdict as had the gate made them itself.
    return typeof out === 'string' ? out : this.gated(job, token, signal, c, rec, out);
  }

  /** A gate's refusal (decided under the settings `c`): the row ends, moves to its next number, or waits. */
  private async gated(job: Job<DialJobData>, token: string | undefined, signal: AbortSignal | undefined, c: Campaign, rec: RowRecord, gate: Refusal): Promise<string> {
    const { store } = this.deps;
    const row = rec.row;
    if (gate.action === 'delay') {
      // Put off under these settings: make sure they are still the settings (a
      // change of calling hours wakes waiting jobs at once, maybe before the
      // next look at the version); a delay reserves nothing, so asking again is safe.
      await this.live.refresh(true);
      if (this.live.current !== c) return this.process(job, token, signal);
      // Outside the window: wait for the next opening without using an attempt.
      await store.moveRow(c.name, row, { to: 'waiting', patch: { status: 'waiting', error: gate.reason, next_at: gate.nextAt }, leaseMs: store.handoffLeaseMs });
      return this.later(job, token, gate.delayMs);
    }
    // A suppressed alternate number gives way to the next one (this job dials it).
    if (gate.outcome === 'suppressed' && (await this.nextNumber(rec, { suppressed: gate.reason }, false))) return this.process(job, token, signal);
    await this.finish(row, { error: gate.reason }, gate.outcome);
    return gate.outcome;
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
   * The step into `sending` (store/dial.ts DIAL_BEGIN): a live-call slot
   * under `max_live_calls` and CALLEASE_MAX_LIVE_CALLS (taken even without
   * caps, so `live_calls` counts; a row that already holds one keeps it), this
   * request's turn under the campaign rate and the account cap, and the
   * ledger entry, in one step. A slot is only taken when it is due now, and
   * the POST follows at once: a slot booked ahead and slept towards would
   * reach the API late by however long the process was busy, bunching
   * requests together.
   */
  private async begin(rec: RowRecord, gate: Go, attemptToken: string, signal?: AbortSignal): Promise<Begun> {
    const first = await this.tryBegin(rec, gate, attemptToken);
    if (first.done) return first.done;
    // Waiting for a rate slot: one job of this process at a time asks Redis
    // for it, the others wait their turn here. Each polling DIAL_BEGIN on its
    // own, every waiter woke for the same slot and all but one tried again:
    // ~33 tries a dial at 200/s with 50 jobs in flight.
    const ahead = this.turn.activeCount + this.turn.pendingCount;
    if (first.waitMs + ahead * first.intervalMs > MAX_SLOT_WAIT_MS) await this.handOff(gate, first.waitMs + ahead * first.intervalMs - MAX_SLOT_WAIT_MS / 2);
    return this.turn(async () => {
      let waitMs = first.waitMs;
      for (;;) {
        // Woken well inside the allowance: a timer fires late on a busy process, and a slot taken late is lost.
        await sleep(Math.max(1, waitMs - first.earlyMs * 0.75), signal);
        const r = await this.tryBegin(rec, gate, attemptToken);
        if (r.done) return r.done;
        waitMs = r.waitMs;
      }
    });
  }

  /** One DIAL_BEGIN: done (slot taken, or refused), or how long until the next slot. */
  private async tryBegin(rec: RowRecord, gate: Go, attemptToken: string): Promise<{ done: Begun } | { done?: undefined; waitMs: number; intervalMs: number; earlyMs: number }> {
    // The rate as it is now, at each try: a `dialer set` of it applies to requests already waiting.
    const c = this.campaign;
    const limits = dialLimits(c, this.deps.maxCallsPerSecond);
    const early = earlyMs(limits);
    const r = await this.deps.store.dial.begin(c.name, {
      number: rec.phone, row: rec.row, token: attemptToken, lockMs: this.deps.lockMs,
      caps: { campaign: c.max_live_calls, account: this.deps.maxLiveCalls }, liveLeaseMs: this.liveLeaseMs, limits, earlyMs: early,
      gate: gate.deferred?.check,
    });
    if (r.step === 'ok' || r.step === 'refused' || r.step === 'gate') return { done: r };
    if (r.step === 'live-full') return this.handOff(gate, LIVE_FULL_WAIT_MS);
    if (r.waitMs > MAX_SLOT_WAIT_MS) return this.handOff(gate, r.waitMs - MAX_SLOT_WAIT_MS / 2);
    return { waitMs: r.waitMs, intervalMs: Math.max(...limits.map((l) => l.intervalMs)), earlyMs: early };
  }

  /**
   * Every live-call slot taken, or far behind the rate: free this job's place
   * and let BullMQ hold the campaign's queue instead.
   */
  private async handOff(gate: Go, holdMs: number): Promise<never> {
    await gate.release?.();
    // Whole ms: BullMQ sets it as a PX expiry, and a fractional one is refused (ERR not an integer).
    await this.worker.rateLimit(Math.ceil(holdMs));
    throw Worker.RateLimitError();
  }

  /** The dial from DIAL_BEGIN on; a refusal of the gate's checks inside it is handed back (see gated). */
  private async send(job: Job<DialJobData>, rec: RowRecord, asked: Go, token: string | undefined, signal: AbortSignal | undefined): Promise<string | Refusal> {
    const { store } = this.deps;
    const id = this.campaign.name;
    const row = rec.row;
    // Unique per try of this job, and the same if ioredis resends the command.
    const attemptToken = `${job.id}|${job.attemptsStarted}|${randomUUID()}`;
    const begin = await this.begin(rec, asked, attemptToken, signal);
    if (begin.step === 'gate') return (await asked.deferred!.settle(begin.gate)) as Refusal;
    // Checked inside DIAL_BEGIN: the slot it took (its `release`) comes with the gate's verdict.
    const gate = begin.step === 'ok' && asked.deferred ? ((await asked.deferred.settle(begin.gate!)) as Go) : asked;
    if (begin.step === 'refused') {
      // Nothing was taken (no live-call slot, no rate slot).
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
      // A call may exist: the move takes the row a live-call slot, kept alive by the poll schedule's owners.
      await store.moveRow(id, row, { to: 'ambiguous', from: ['queued', 'waiting', 'redial-due'], patch: { status: 'ambiguous', job: null } });
      await store.schedulePoll(id, row, Date.now() + FIRST_RECONCILE_MS, true);
      return 'already-dialed';
    }
    // From here the row's moves give the live-call slot back; until then this worker keeps it alive.
    const renew = setInterval(() => void store.live.renew(id, row, this.liveLeaseMs).catch(() => undefined), this.liveLeaseMs / 3);
    try {
      return await this.post(job, rec, gate, begin.entry, signal, token);
    } finally {
      clearInterval(renew);
    }
  }

  private async post(job: Job<DialJobData>, rec: RowRecord, gate: Go, begun: LedgerEntry, signal?: AbortSignal, token?: string): Promise<string> {
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
    const event = (fields: Record<string, string | number | undefined | null>) => ({
      type: 'dial', row, number: maskPhone(rec.phone), at: new Date().toISOString(), local_time: gate.localTime,
      timezone: rec.timezone, rule: gate.rule, consent: rec.consent, attempt, ...fields,
    });

    let res: CreateCallResult;
    try {
      // At debug level, the moment the request leaves (bench/rate.ts compares it with the API's receive time).
      this.log.debug({ row, attempt }, 'POST /calls sent');
      res = await api.createCall(
        { assistant_id: rowAssistant(c, rec), name: rec.name, phoneNumber: rec.phone, customVariables: Object.entries(rec.vars ?? {}).map(([key, value]) => ({ key, value })) },
        { signal },
      );
    } catch (err) {
      await store.appendAudit(id, event({ http_status: err instanceof ApiError ? err.status : undefined, result: err instanceof ApiError ? err.code : 'error' }));
      if (err instanceof ApiError && !err.maybeSent) await gate.release?.();
      return onDialError(this.failureContext(job, token, signal), job, rec, attempt, err);
    }
    // The call exists. A failure from here on (Redis down) must not reach the
    // retry policy, which would mark the contact `failed` and dial it again:
    // the job fails, the ledger stays `sending` and reconciliation finds the call.
    const now = Date.now();
    await store.dial.placed(id, {
      number: rec.phone, row, now: new Date(now),
      // `sent` only dates a POST whose outcome is unknown (sending, ambiguous): a placed entry goes without it (16 B an entry).
      ledger: { from: ['sending'], patch: { s: 'placed', t: now, sent: null, id: res.id ?? null, n: (begun.n ?? 0) + 1, ids: knownWith(begun, res.id) } },
      rowPatch: { numbers_tried: triedWith(rec.numbers_tried, rec.phone), call_id: res.id ?? null, attempts: attempt, status: 'queued', placed_at: now, error: null, http_status: null, next_at: null, job: null },
      // No call ends the moment it is placed: the first look waits (poller/schedule.ts).
      pollAt: now + (res.id ? firstLookMs(c) : FIRST_RECONCILE_MS),
      audit: event({ call_id: res.id, result: 'placed' }),
    });
    this.log.info({ row, attempt, callId: res.id }, 'call placed');
    return 'placed';
  }

  private failureContext(job: Job<DialJobData>, token?: string, signal?: AbortSignal): FailureContext {
    return {
      store: this.deps.store, log: this.log, campaign: this.campaign, worker: this.worker,
      nextNumber: (rec, why, dialed, extra) => this.nextNumber(rec, why, dialed, extra),
      finish: (row, patch, outcome) => this.finish(row, patch, outcome),
      again: () => this.process(job, token, signal),
    };
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

  /** Graceful: in-flight requests finish and record their outcome (bounded by `lockMs`). `force` aborts them. */
  async close(force = false): Promise<void> {
    this.live.stop();
    if (force) this.worker.cancelAllJobs('worker stopping');
    await closeWorker(this.worker, force, this.log, 'dial', this.deps.lockMs + CLOSE_WAIT_MS);
    this.log.debug('dial worker closed');
  }
}
