import { Queue, type JobsOptions } from 'bullmq';
import type { RedisClient } from '../store/redis.js';
import type { Keys } from '../store/keys.js';
import type { DialerEvent } from './types.js';

/** A delivery job: the event as it is sent, and where. The secret never goes into Redis. */
export interface EventJobData {
  event: DialerEvent;
  url: string;
}

/** Our backoff strategy's name (the delivery worker's `backoffStrategy`). */
export const EVENTS_BACKOFF = 'events';

export function eventsQueue(connection: RedisClient, keys: Keys): Queue<EventJobData> {
  const q = new Queue<EventJobData>(keys.eventsQueue, { connection, prefix: keys.prefix });
  // Without a listener BullMQ prints its connection's errors raw (console.error); the runtime's outage log tells them.
  q.on('error', () => undefined);
  return q;
}

/**
 * The job of one event: its id is the event id, so an outbox entry relayed
 * twice (a crash between the enqueue and the outbox trim) is one job. A
 * delivered job is kept an hour (so a late second relay still finds it); a
 * job out of attempts stays in BullMQ's failed set: the events dead letters.
 */
export function eventJob(data: EventJobData, attempts: number): { name: string; data: EventJobData; opts: JobsOptions } {
  return {
    name: data.event.type,
    data,
    opts: {
      jobId: data.event.id,
      attempts,
      backoff: { type: EVENTS_BACKOFF },
      removeOnComplete: { age: 3600, count: 20_000 },
      removeOnFail: false,
    },
  };
}
