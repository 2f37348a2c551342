import type { Readable } from 'node:stream';
import { ScheduleService } from './campaign/schedule.js';
import { detachSmsActions, ensureSmsActions } from './campaign/sms-actions.js';
import { campaignStatus, type CampaignStatus } from './campaign/status.js';
import type { Campaign } from './config/campaign.js';
import { WorkerService } from './dialer/service.js';
import { coerceError, describeError } from './errors.js';
import { loadCampaign, loaderRunning, type LoadDeps, type LoadSummary } from './loader/load.js';
import { cancelCampaign, type CancelReport } from './campaign/control.js';
import { Poller } from './poller/poller.js';
import { RetentionService } from './privacy/retention.js';
import { ArchiveService } from './campaign/archive.js';
import { writeResults, type ResultsFormat } from './results/export.js';
import type { Runtime } from './runtime.js';
import { createDialGate, createLoadScreen } from './gate/index.js';
import { resolveEvents } from './config/events.js';
import type { DeliveryInfo } from './events/delivery.js';
import { EventsService } from './events/service.js';
import { sleep } from './util.js';

/**
 * The one composition root of the dial path: how a campaign is loaded and
 * which services dial, poll and look after it, wired the same way for
 * `dialer run|load|worker|poller`, `dialer serve --with-workers`, schedule
 * ticks, uploads and the tests. It owns the services it starts (not the
 * runtime: whoever opened that closes it, after `close()`).
 */

export interface DialerOptions {
  /** How often the worker service looks for new campaigns and stale dials (ms). @defaultValue 1000 */
  workerScanMs?: number;
  /** How often the poller looks for due work (ms). @defaultValue 250 */
  pollerTickMs?: number;
  /** Told of every event this process delivers (metrics). */
  onEventDelivered?: (i: DeliveryInfo) => void;
}

export interface WorkerOptions {
  /** Dial only these campaigns (default: every campaign in Redis). Such a worker runs no schedule ticks: scheduled runs get new names. */
  campaigns?: string[];
  /**
   * The dial loop alone, for a process that sees its campaign to the end
   * itself (`runToEnd`, tests): no schedule ticks, no retention, and nothing
   * done when a campaign finishes. Default: everything `dialer worker` runs.
   */
  bare?: boolean;
}

export interface PollerOptions {
  /** Most GET /calls in flight. @defaultValue 20 */
  concurrency?: number;
  /** Nothing done when a campaign finishes (the caller writes its results). */
  bare?: boolean;
  /** Told when a poll makes a campaign's last row final (also when `bare`). */
  onFinished?: (campaignId: string) => void;
}

export interface RunProgress {
  load: LoadSummary;
  status: CampaignStatus;
  /** The last report: the campaign ended or the run was stopped. */
  final: boolean;
}

export interface RunToEndOptions {
  /** Aborting stops the run gracefully (in-flight dials finish); the results so far are written. */
  signal?: AbortSignal;
  onProgress?: (p: RunProgress) => void;
  /** @defaultValue 'csv' */
  format?: ResultsFormat;
}

export interface RunToEndResult {
  load: LoadSummary;
  status: CampaignStatus;
  results: { rows: number; file: string };
  interrupted: boolean;
}

/** What a caller of `load` may set: everything in LoadDeps but the wiring. */
export type LoadOptions = Omit<LoadDeps, 'store' | 'queues' | 'log' | 'now' | 'screen'>;

/** A started service, as `close()` sees it. */
interface Part {
  close(force?: boolean): Promise<void>;
}

export class Dialer {
  private readonly parts = new Set<Part>();
  /** Finish hooks in flight: `close()` lets them end before the runtime goes. */
  private readonly finishing = new Set<Promise<void>>();
  private closing?: Promise<void>;
  private forced?: Promise<void>;

  constructor(readonly rt: Runtime, private readonly opts: DialerOptions = {}) {}

  /**
   * Loads a campaign's contacts (its CSV, or `input`) through the load screen:
   * the only place LoadDeps are put together. `options`: the loader's own
   * switches, passed through as they are.
   */
  load(c: Campaign, input?: Readable, options: LoadOptions = {}): Promise<LoadSummary> {
    const { rt } = this;
    // The events target is resolved here, once, and kept with the campaign: it turns the campaign's outbox on.
    let resolved: Campaign;
    try {
      const events = resolveEvents(c, rt.env.events);
      resolved = events ? { ...c, events } : c;
    } catch (e) {
      return Promise.reject(e);
    }
    return loadCampaign({ ...options, store: rt.store, queues: rt.queues, log: rt.log, now: () => rt.clock.now(), screen: createLoadScreen(rt), feedWindowMax: rt.env.feedWindowMax }, resolved, input);
  }

  /** Outbound events: the outbox relay and the delivery worker (events/service.ts). */
  startEvents(): EventsService {
    this.open();
    const svc = this.track(new EventsService(this.rt, { onDelivered: this.opts.onEventDelivered }));
    svc.start();
    return svc;
  }

  /**
   * `cancel`: the contacts not yet dialed end `canceled` (campaign/control.ts).
   * A campaign whose load broke off has only part of its list in Redis: its
   * CSV is read to the end, so every row of it ends `canceled` (or with its
   * load verdict) and the results keep one row per row of the file. When the
   * file can't be read here, the rows loaded are the list.
   */
  async cancel(id: string, opts: { waitMs?: number } = {}): Promise<CancelReport> {
    const { rt } = this;
    const before = await rt.store.getCampaign(id);
    const r = await cancelCampaign(rt, id, opts);
    if (before?.state === 'loading' && before.total === undefined && !(await loaderRunning(rt.store, id))) {
      try {
        await this.load(before.campaign, undefined, { completeCanceled: true });
      } catch (e) {
        rt.log.warn({ campaign: id, err: describeError(e) }, 'could not read the rest of the list of a canceled load; the rows loaded are the list');
      }
      return { ...r, state: (await rt.store.campaignState(id)) ?? r.state };
    }
    return r;
  }

  /**
   * What `dialer worker` runs: a WorkerService behind the dial gate and, unless
   * `bare`, schedule ticks (when not limited to named campaigns), retention,
   * and on each campaign's finish its results file and SMS-action detach.
   */
  startWorkers(o: WorkerOptions = {}): WorkerService {
    const { rt } = this;
    this.open();
    rt.api(); // refuse at once, not at the first campaign, when the API settings are unsafe
    const svc = this.track(new WorkerService(rt, {
      campaigns: o.campaigns, scanMs: this.opts.workerScanMs, gate: createDialGate(rt),
      onCampaignFinished: o.bare ? undefined : this.onFinished,
    }));
    svc.start();
    if (o.bare) return svc;
    this.startEvents();
    // Scheduled runs get new campaign names: a worker limited to named campaigns leaves them to others.
    if (!o.campaigns) this.track(new ScheduleService(rt, { load: (run) => this.load(run) })).start();
    this.track(new RetentionService({ store: rt.store, log: rt.log, queues: rt.queues }, { defaultDays: rt.env.retentionDays, now: () => rt.clock.now() })).start();
    this.track(new ArchiveService({ store: rt.store, log: rt.log }, { afterMs: rt.env.archiveAfterMs, now: () => rt.clock.now() })).start();
    return svc;
  }

  /** What `dialer poller` runs: placed calls followed to their outcome; unless `bare`, a campaign's finish handled as in `startWorkers`. */
  startPoller(o: PollerOptions = {}): Poller {
    const { rt } = this;
    this.open();
    const poller = this.track(new Poller({
      store: rt.store, api: rt.api(), log: rt.log, queues: rt.queues, lockMs: rt.env.lockMs, liveLeaseMs: rt.env.liveLeaseMs,
      concurrency: o.concurrency, tickMs: this.opts.pollerTickMs,
      onCampaignFinished: (id) => {
        o.onFinished?.(id);
        if (!o.bare) this.onFinished(id);
      },
    }));
    poller.start();
    return poller;
  }

  /**
   * `dialer run`: attach the SMS actions, load, dial and poll in this process
   * until every row is final (or `signal` aborts), then write the results in
   * `format` and, on a finished run, detach the SMS actions.
   */
  async runToEnd(c: Campaign, o: RunToEndOptions = {}): Promise<RunToEndResult> {
    const { rt } = this;
    rt.api(); // no usable API settings: fail before anything is loaded
    const parts: Part[] = [];
    const stop = async () => {
      await Promise.all(parts.map((p) => p.close()));
      for (const p of parts.splice(0)) this.parts.delete(p);
    };
    try {
      await ensureSmsActions(rt, c);
      const load = await this.load(c);
      const events = this.startEvents();
      // The poll that makes the last row final cuts the wait short: no up-to-250 ms lag at the end.
      let wake = new AbortController();
      const onAbort = () => wake.abort();
      o.signal?.addEventListener('abort', onAbort, { once: true });
      parts.push(this.startWorkers({ campaigns: [c.name], bare: true }), this.startPoller({ bare: true, onFinished: (id) => id === c.name && wake.abort() }), events);
      let status = await campaignStatus(rt.store, rt.queues, c.name);
      while (status.state !== 'done' && status.state !== 'canceled' && !o.signal?.aborted) {
        o.onProgress?.({ load, status, final: false });
        if (wake.signal.aborted) wake = new AbortController();
        await sleep(250, wake.signal).catch(() => undefined);
        status = await campaignStatus(rt.store, rt.queues, c.name);
      }
      o.signal?.removeEventListener('abort', onAbort);
      // Each step of the way out is logged (debug): a run that hangs there shows where.
      rt.log.debug({ campaign: c.name, state: status.state, interrupted: Boolean(o.signal?.aborted) }, 'run over; shutting down');
      o.onProgress?.({ load, status, final: true });
      if (!o.signal?.aborted) {
        // The campaign's last events go out before the process ends; what can't (a receiver down) waits in Redis for a `dialer worker`.
        const left = await events.drain(c.name, rt.env.events.drainMs);
        if (left > 0) rt.log.warn({ campaign: c.name, events: left }, 'events not delivered yet; a running "dialer worker" delivers them');
        rt.log.debug({ campaign: c.name, left }, 'events drained');
      }
      await stop();
      rt.log.debug({ campaign: c.name }, 'workers, poller and events stopped');
      const results = await writeResults(rt.store, c.name, c.resultsPath, o.format);
      rt.log.debug({ campaign: c.name, file: results.file, rows: results.rows }, 'results written');
      if (c.detach_actions_on_finish && !o.signal?.aborted) await detachSmsActions(rt, c.name);
      return { load, status: await campaignStatus(rt.store, rt.queues, c.name), results, interrupted: Boolean(o.signal?.aborted) };
    } finally {
      await stop();
    }
  }

  /**
   * Stops every service started here. The first call drains (in-flight dials
   * finish and record their outcome) and a repeat gets the same promise;
   * `force` aborts in-flight work, even while a drain is under way. Every step
   * runs even if another fails; the first failure is thrown at the end.
   */
  close(force = false): Promise<void> {
    if (force) return (this.forced ??= this.shutdown(true));
    return (this.closing ??= this.forced ?? this.shutdown(false));
  }

  private async shutdown(force: boolean): Promise<void> {
    const steps = await Promise.allSettled([...this.parts].map((p) => p.close(force)));
    // After the services: no new finish hook starts now. A forced stop doesn't wait for them.
    if (!force) await Promise.allSettled([...this.finishing]);
    const errors = steps.flatMap((s) => (s.status === 'rejected' ? [coerceError(s.reason)] : []));
    for (const e of errors.slice(1)) this.rt.log.error({ err: describeError(e) }, 'shutdown step failed');
    if (errors[0]) throw errors[0];
  }

  private open(): void {
    if (this.closing || this.forced) throw new Error('the dialer is closed');
  }

  private track<T extends Part>(part: T): T {
    this.parts.add(part);
    return part;
  }

  private readonly onFinished = (id: string): void => {
    const p: Promise<void> = this.finished(id).finally(() => this.finishing.delete(p));
    this.finishing.add(p);
  };

  /** A finished campaign: its results file where its config says, then its SMS actions detached (when asked). */
  private async finished(id: string): Promise<void> {
    const { rt } = this;
    const fail = (what: string) => (e: unknown) => void rt.log.error({ campaign: id, err: describeError(e) }, what);
    const info = await rt.store.getCampaign(id).catch(fail('could not read the finished campaign'));
    if (!info) return;
    const r = await writeResults(rt.store, id, info.campaign.resultsPath).catch(fail('could not write results'));
    if (r) rt.log.info({ campaign: id, file: r.file, rows: r.rows }, 'campaign finished; results written');
    if (info.campaign.detach_actions_on_finish) await detachSmsActions(rt, id).catch(fail('could not detach SMS actions'));
  }
}
