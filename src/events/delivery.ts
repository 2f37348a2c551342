import { Worker, type Job } from 'bullmq';
import got from 'got';
import type { EventsEnv } from '../config/events.js';
import { eventBackoffMs } from '../config/events.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RedisClient } from '../store/redis.js';
import type { Store } from '../store/store.js';
import { EVENTS_BACKOFF, type EventJobData } from './queue.js';
import { SIGNATURE_HEADER, signature } from './sign.js';
import { CLOSE_WAIT_MS, closeWorker } from '../store/close.js';

/** What one successful delivery tells the metrics. */
export interface DeliveryInfo {
  campaign: string;
  type: string;
  /** From the transition to the receiver's 2xx (ms). */
  lagMs: number;
  /** Attempts it took (1 = first try). */
  attempts: number;
}

export interface DeliveryDeps {
  store: Store;
  log: Logger;
  connection: RedisClient;
  settings: EventsEnv;
  onDelivered?: (i: DeliveryInfo) => void;
}

/** A non-2xx answer or a transport failure; BullMQ retries it with our backoff. */
class DeliveryFailed extends Error {
  override name = 'DeliveryFailed';
}

/**
 * The BullMQ worker that POSTs events to their receivers, signed at each
 * attempt (a fresh timestamp). Any 2xx is a delivery; anything else is
 * retried after `eventBackoffMs` until the attempts run out, then the job
 * stays in the failed set (`dialer events list|retry`). A worker killed
 * mid-delivery leaves the job active: BullMQ's stalled check gives it to
 * another worker, so the event may arrive twice, always with the same id.
 */
export class EventDelivery {
  readonly worker: Worker<EventJobData>;

  constructor(private readonly deps: DeliveryDeps) {
    const s = deps.settings;
    const lockDuration = Math.max(5000, s.timeoutMs * 2);
    this.worker = new Worker<EventJobData>(deps.store.keys.eventsQueue, (job) => this.deliver(job), {
      connection: deps.connection,
      prefix: deps.store.keys.prefix,
      concurrency: s.concurrency,
      lockDuration,
      stalledInterval: Math.max(1000, Math.min(30_000, lockDuration / 2)),
      // A delivery that stalls (its worker died) runs again; at-least-once allows that, losing the event does not.
      maxStalledCount: 1000,
      settings: { backoffStrategy: (made: number, type?: string) => (type === EVENTS_BACKOFF ? eventBackoffMs(s, made) : 1000) },
    });
    this.worker.on('error', (err) => deps.log.error({ err: describeError(err) }, 'event delivery worker error'));
  }

  private async deliver(job: Job<EventJobData>): Promise<void> {
    const { store, settings } = this.deps;
    const { event, url } = job.data;
    const attempt = job.attemptsMade + 1;
    const final = attempt >= (job.opts.attempts ?? 1);
    try {
      if (!settings.secret) throw new DeliveryFailed('DIALER_EVENTS_SECRET is not set in this process; events cannot be signed');
      const body = JSON.stringify(event);
      const res = await got.post(url, {
        body,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'callease-dialer-events',
          [SIGNATURE_HEADER]: signature(settings.secret, body, Math.floor(Date.now() / 1000)),
          'Callease-Dialer-Event-Id': event.id,
          'Callease-Dialer-Event-Type': event.type,
          'Callease-Dialer-Attempt': String(attempt),
        },
        timeout: { request: settings.timeoutMs },
        retry: { limit: 0 },
        throwHttpErrors: false,
        followRedirect: false,
      });
      if (res.statusCode < 200 || res.statusCode >= 300) throw new DeliveryFailed(`receiver answered ${res.statusCode}`);
    } catch (e) {
      const reason = e instanceof DeliveryFailed ? e.message : `no answer: ${describeError(e)}`;
      await store.events.attemptFailed(event.id, event.campaign, final);
      if (final) this.deps.log.warn({ campaign: event.campaign, event: event.id, attempts: attempt, reason }, 'event dead-lettered after its last attempt');
      throw new DeliveryFailed(reason);
    }
    await store.events.delivered(event.id, event.campaign);
    this.deps.onDelivered?.({ campaign: event.campaign, type: event.type, lagMs: Date.now() - Date.parse(event.created), attempts: attempt });
  }

  /** In-flight deliveries finish (each bounded by the receiver timeout); `force` aborts them. */
  close(force = false): Promise<void> {
    return closeWorker(this.worker, force, this.deps.log, 'events', this.deps.settings.timeoutMs + CLOSE_WAIT_MS);
  }
}
