import type { Queue } from 'bullmq';
import { describeError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { sleep } from '../util.js';
import { EventDelivery, type DeliveryInfo } from './delivery.js';
import { eventsQueue, type EventJobData } from './queue.js';
import { relayOnce } from './relay.js';

export interface EventsServiceOptions {
  onDelivered?: (i: DeliveryInfo) => void;
}

/**
 * What every `dialer worker` (and `dialer run`, `serve --with-workers`) runs
 * for outbound events: the relay from the outbox into the delivery queue,
 * and the delivery worker.
 */
export class EventsService {
  private readonly stop = new AbortController();
  private readonly queue: Queue<EventJobData>;
  private delivery?: EventDelivery;
  private loop?: Promise<void>;

  constructor(private readonly rt: Runtime, private readonly opts: EventsServiceOptions = {}) {
    this.queue = eventsQueue(rt.redis, rt.store.keys);
  }

  start(): void {
    const { rt } = this;
    this.delivery = new EventDelivery({ store: rt.store, log: rt.log, connection: rt.redis, settings: rt.env.events, onDelivered: this.opts.onDelivered });
    this.loop = this.relay();
  }

  private async relay(): Promise<void> {
    const { rt } = this;
    while (!this.stop.signal.aborted) {
      let n = 0;
      try {
        n = await relayOnce({ store: rt.store, queue: this.queue, attempts: rt.env.events.attempts });
      } catch (e) {
        rt.log.error({ err: describeError(e) }, 'events relay failed; trying again');
      }
      // A full batch: there is more right away.
      if (n < 200) await sleep(rt.env.events.relayMs, this.stop.signal).catch(() => undefined);
    }
  }

  /** Waits until no event of `campaign` is left to deliver, at most `ms`; returns how many still wait. */
  async drain(campaign: string, ms: number): Promise<number> {
    const end = Date.now() + ms;
    for (;;) {
      const left = await this.rt.store.events.pendingFor(campaign);
      if (left === 0 || Date.now() >= end) return left;
      await sleep(100);
    }
  }

  async close(force = false): Promise<void> {
    this.stop.abort();
    await this.loop;
    await Promise.allSettled([this.delivery?.close(force), this.queue.close()]);
    this.rt.log.debug('events service closed');
  }
}
