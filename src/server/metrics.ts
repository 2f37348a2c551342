import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RequestInfo } from '../api/types.js';
import { describeError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { OUTCOMES } from '../campaign/row.js';
import type { LedgerState } from '../store/store.js';
import { mergeExposition } from './exposition.js';
import { EventMetrics } from './event-metrics.js';

const LEDGER_STATES: LedgerState[] = ['pending', 'sending', 'placed', 'failed', 'ambiguous'];
const JOB_STATES = ['wait', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed'] as const;
/** A ledger is scanned whole (HSCAN); a busy scrape interval must not turn into a Redis load. */
const LEDGER_CACHE_MS = 15_000;

/**
 * Prometheus metrics. Campaign figures are read from Redis at scrape time, so
 * they cover every worker and poller on this Redis, wherever they run. The
 * Callease API figures (latency, 429s, retries) are counted from the client's
 * `onRequest` hook and so cover only the workers and poller running in this
 * process (`serve --with-workers`).
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly ledgerCache = new Map<string, { at: number; state: string; counts: Record<string, number> }>();

  private readonly g = {
    state: this.gauge('dialer_campaign_state', 'Current state of each campaign (1 for the state it is in)', ['campaign', 'state']),
    rows: this.gauge('dialer_campaign_rows', 'Data rows of the campaign\'s contact list', ['campaign']),
    pending: this.gauge('dialer_campaign_pending_rows', 'Rows without a final outcome yet', ['campaign']),
    unfed: this.gauge('dialer_campaign_unfed_rows', 'Queued rows the feeder has not given a dial job yet (beyond the campaign\'s window of jobs; 0 for a campaign loaded before the feeder)', ['campaign']),
    outcomes: this.gauge('dialer_call_outcomes', 'Rows with a final outcome, by outcome (from the campaign\'s counts hash; includes rows never dialed such as rejected or duplicate)', ['campaign', 'outcome']),
    deadLetters: this.gauge('dialer_dead_letters', 'Rows on the campaign\'s dead-letter list', ['campaign']),
    queue: this.gauge('dialer_queue_jobs', 'Dial jobs in the campaign\'s BullMQ queue, by state', ['campaign', 'state']),
    ledger: this.gauge('dialer_ledger_entries', 'Dial ledger entries (one per distinct number), by state', ['campaign', 'state']),
    dials: this.gauge('dialer_dials_last_minute', 'POST /calls sent in the last 60 s', ['campaign']),
    live: this.gauge('dialer_live_calls', 'Live-call slots held: calls placed and not yet seen ended (POSTs under way and dials being reconciled included)', ['campaign']),
    liveMax: this.gauge('dialer_live_calls_limit', 'The campaign\'s max_live_calls (only campaigns that set it)', ['campaign']),
    accountLive: this.gauge('dialer_account_live_calls', 'Live-call slots held over every campaign (what CALLEASE_MAX_LIVE_CALLS caps)', []),
    accountLiveMax: this.gauge('dialer_account_live_calls_limit', 'CALLEASE_MAX_LIVE_CALLS of the process serving /metrics (absent when unset)', []),
    polls: this.gauge('dialer_polls_scheduled', 'Calls and ambiguous dials on the poll schedule', []),
    workers: this.gauge('dialer_workers_alive', 'Worker processes that sent a heartbeat recently', []),
    pollLag: this.gauge('dialer_poll_lag_seconds', 'How long the most overdue call on the poll schedule has waited past its due time (0 when none is overdue)', []),
  };
  /** Outbound events: backlog, delivery lag, dead letters, deliveries. */
  readonly events: EventMetrics;

  readonly apiLatency = new Histogram({
    name: 'dialer_api_request_duration_seconds',
    help: 'Callease API requests made by this process, by route and HTTP status ("none" when no answer came)',
    labelNames: ['route', 'status'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({ name: 'dialer_api_rate_limited_total', help: 'Callease API answers 429 seen by this process', labelNames: ['route'], registers: [this.registry] });
  readonly retries = new Counter({ name: 'dialer_api_retries_total', help: 'Transport-level retries of idempotent Callease API requests made by this process', labelNames: ['route'], registers: [this.registry] });
  readonly apiErrors = new Counter({ name: 'dialer_api_errors_total', help: 'Failed Callease API requests made by this process, by error code', labelNames: ['route', 'code'], registers: [this.registry] });
  readonly webhooks = new Counter({ name: 'dialer_webhooks_received_total', help: 'Webhook deliveries accepted, by whether a row matched their call id', labelNames: ['matched'], registers: [this.registry] });

  constructor(private readonly rt: Runtime, private readonly workerStaleMs: number) {
    collectDefaultMetrics({ register: this.registry, prefix: 'dialer_process_' });
    this.events = new EventMetrics(rt, this.registry);
  }

  private gauge(name: string, help: string, labelNames: string[]): Gauge {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  /** For CalleaseClient.onRequest. */
  observe(i: RequestInfo): void {
    this.apiLatency.observe({ route: i.route, status: i.status === undefined ? 'none' : String(i.status) }, i.durationMs / 1000);
    if (i.status === 429) this.rateLimited.inc({ route: i.route });
    if (i.retries > 0) this.retries.inc({ route: i.route }, i.retries);
    if (i.errorCode) this.apiErrors.inc({ route: i.route, code: i.errorCode });
  }

  /** The exposition text: our registry plus BullMQ's own export of every campaign queue. */
  async render(): Promise<string> {
    const ids = await this.snapshot();
    const bull = await Promise.all(ids.map((id) => this.rt.queues.get(id).exportPrometheusMetrics({ campaign: id }).catch((e: unknown) => {
      this.rt.log.warn({ campaign: id, err: describeError(e) }, 'BullMQ metrics export failed');
      return '';
    })));
    return mergeExposition([await this.registry.metrics(), ...bull]);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private async snapshot(): Promise<string[]> {
    const { store } = this.rt;
    const ids = await store.listCampaigns();
    for (const gauge of Object.values(this.g)) gauge.reset();
    const now = Date.now();
    for (const id of ids) {
      const info = await store.getCampaign(id);
      if (!info) continue;
      const [counts, total, dlq, dials, jobs, ledger, live, unfed] = await Promise.all([
        store.counts(id),
        info.total ?? store.rowCount(id),
        store.deadLetters.count(id),
        store.limits.dialsLastMinute(id, now),
        this.rt.queues.get(id).getJobCounts(...JOB_STATES),
        this.ledgerCounts(id, info.state),
        store.live.count(id, now),
        store.feed.unfed(id),
      ]);
      this.g.state.set({ campaign: id, state: info.state }, 1);
      this.g.rows.set({ campaign: id }, total);
      this.g.pending.set({ campaign: id }, Math.max(0, total - (counts.finished ?? 0)));
      this.g.unfed.set({ campaign: id }, unfed);
      for (const o of OUTCOMES) this.g.outcomes.set({ campaign: id, outcome: o }, counts[o] ?? 0);
      this.g.deadLetters.set({ campaign: id }, dlq);
      this.g.dials.set({ campaign: id }, dials);
      this.g.live.set({ campaign: id }, live);
      if (info.campaign.max_live_calls) this.g.liveMax.set({ campaign: id }, info.campaign.max_live_calls);
      for (const s of JOB_STATES) this.g.queue.set({ campaign: id, state: s }, jobs[s] ?? 0);
      for (const s of LEDGER_STATES) this.g.ledger.set({ campaign: id, state: s }, ledger[s] ?? 0);
    }
    this.g.polls.set(await store.pendingPolls());
    this.g.accountLive.set(await store.live.accountCount(now));
    if (this.rt.env.maxLiveCalls) this.g.accountLiveMax.set(this.rt.env.maxLiveCalls);
    const due = await store.oldestDuePoll(now);
    this.g.pollLag.set(due === undefined ? 0 : Math.max(0, (now - due) / 1000));
    await this.events.snapshot(ids, now);
    this.g.workers.set(await store.server.liveWorkers(now - this.workerStaleMs));
    for (const id of this.ledgerCache.keys()) if (!ids.includes(id)) this.ledgerCache.delete(id);
    return ids;
  }

  /** From the counts the ledger scripts keep; a campaign older than them is scanned (a finished one once). */
  private async ledgerCounts(id: string, state: string): Promise<Record<string, number>> {
    if (await this.rt.store.indexes.indexed(id)) return this.rt.store.indexes.ledgerCounts(id);
    const hit = this.ledgerCache.get(id);
    if (hit && hit.state === state && (state === 'done' || Date.now() - hit.at < LEDGER_CACHE_MS)) return hit.counts;
    const counts: Record<string, number> = {};
    for await (const [, e] of this.rt.store.ledgerEntries(id)) counts[e.s] = (counts[e.s] ?? 0) + 1;
    this.ledgerCache.set(id, { at: Date.now(), state, counts });
    return counts;
  }
}
