import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { describeError } from '../errors.js';
import type { DeliveryInfo } from '../events/delivery.js';
import { countEventDeadLetters } from '../events/dead-letters.js';
import type { Runtime } from '../runtime.js';

/** Dead letters are counted by reading the failed jobs; a busy scrape interval must not turn that into load. */
const DEAD_CACHE_MS = 15_000;

/**
 * Outbound events in /metrics. Backlog, dead letters and delivery counts are
 * read from Redis at scrape time (every process's deliveries); the delivery
 * lag histogram covers the deliveries made in this process (`serve --with-workers`).
 */
export class EventMetrics {
  private dead?: { at: number; counts: Map<string, number> };
  private readonly undelivered: Gauge;
  private readonly oldest: Gauge;
  private readonly deadLetters: Gauge;
  private readonly delivered: Counter;
  private readonly failed: Counter;
  readonly lag: Histogram;

  constructor(private readonly rt: Runtime, registry: Registry) {
    const registers = [registry];
    this.undelivered = new Gauge({ name: 'dialer_events_undelivered', help: 'Events not yet delivered, by stage: outbox (not yet relayed) or queue (waiting, retrying or being sent)', labelNames: ['stage'], registers });
    this.oldest = new Gauge({ name: 'dialer_events_oldest_undelivered_seconds', help: 'Age of the oldest event not yet delivered (0 when none): the delivery lag across every process', registers });
    this.deadLetters = new Gauge({ name: 'dialer_events_dead_letters', help: 'Events that ran out of delivery attempts (dialer events list|retry)', labelNames: ['campaign'], registers });
    this.delivered = new Counter({ name: 'dialer_events_delivered_total', help: 'Events delivered (a 2xx from the receiver), by every process', labelNames: ['campaign'], registers });
    this.failed = new Counter({ name: 'dialer_events_failed_attempts_total', help: 'Event delivery attempts that failed (non-2xx, no answer), by every process', labelNames: ['campaign'], registers });
    this.lag = new Histogram({
      name: 'dialer_events_delivery_lag_seconds',
      help: 'From the transition to the receiver 2xx, for events delivered by this process',
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    });
  }

  /** For the delivery worker's onDelivered. */
  observe(i: DeliveryInfo): void {
    this.lag.observe(Math.max(0, i.lagMs) / 1000);
  }

  async snapshot(campaigns: string[], now: number): Promise<void> {
    const { store } = this.rt;
    const [backlog, stats, dead] = await Promise.all([store.events.backlog(), store.events.stats(), this.deadCounts()]);
    this.undelivered.set({ stage: 'outbox' }, backlog.outbox);
    this.undelivered.set({ stage: 'queue' }, backlog.undelivered);
    this.oldest.set(backlog.oldestAt === undefined ? 0 : Math.max(0, (now - backlog.oldestAt) / 1000));
    this.deadLetters.reset();
    this.delivered.reset();
    this.failed.reset();
    for (const id of new Set([...campaigns, ...dead.keys()])) {
      this.deadLetters.set({ campaign: id }, dead.get(id) ?? 0);
      this.delivered.inc({ campaign: id }, stats[`delivered:${id}`] ?? 0);
      this.failed.inc({ campaign: id }, stats[`failed:${id}`] ?? 0);
    }
  }

  private async deadCounts(): Promise<Map<string, number>> {
    if (this.dead && Date.now() - this.dead.at < DEAD_CACHE_MS) return this.dead.counts;
    try {
      this.dead = { at: Date.now(), counts: await countEventDeadLetters(this.rt) };
    } catch (e) {
      this.rt.log.warn({ err: describeError(e) }, 'could not count events dead letters');
    }
    return this.dead?.counts ?? new Map();
  }
}
