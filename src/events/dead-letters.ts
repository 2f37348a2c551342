import type { Job } from 'bullmq';
import type { Runtime } from '../runtime.js';
import { eventsQueue, type EventJobData } from './queue.js';

type EventsRuntime = Pick<Runtime, 'redis' | 'store'>;

/** One event that ran out of delivery attempts. */
export interface EventDeadLetter {
  id: string;
  type: string;
  campaign: string;
  /** When the transition happened. */
  created: string;
  attempts: number;
  /** The last attempt's failure. */
  error: string;
  failed_at: string | null;
  url: string;
}

const PAGE = 500;

/** Every failed job of the events queue (of one campaign), page by page. */
async function failedJobs(rt: EventsRuntime, campaign: string | undefined, each: (job: Job<EventJobData>) => Promise<void>): Promise<void> {
  const queue = eventsQueue(rt.redis, rt.store.keys);
  try {
    // Retrying moves jobs out of the failed set while we page: collect first, then act.
    const all: Job<EventJobData>[] = [];
    for (let start = 0; ; start += PAGE) {
      const jobs = await queue.getFailed(start, start + PAGE - 1);
      all.push(...jobs.filter((j) => j && (!campaign || j.data.event.campaign === campaign)));
      if (jobs.length < PAGE) break;
    }
    for (const j of all) await each(j);
  } finally {
    await queue.close();
  }
}

/** `dialer events list`: the events dead letters, oldest transition first. */
export async function listEventDeadLetters(rt: EventsRuntime, o: { campaign?: string } = {}): Promise<EventDeadLetter[]> {
  const out: EventDeadLetter[] = [];
  await failedJobs(rt, o.campaign, async (j) => {
    const e = j.data.event;
    out.push({
      id: e.id, type: e.type, campaign: e.campaign, created: e.created, attempts: j.attemptsMade,
      error: j.failedReason ?? '', failed_at: j.finishedOn ? new Date(j.finishedOn).toISOString() : null, url: j.data.url,
    });
  });
  return out.sort((a, b) => a.created.localeCompare(b.created));
}

/** `dialer events retry`: each dead letter back to the queue with its attempts afresh; a running worker delivers it. */
export async function retryEventDeadLetters(rt: EventsRuntime, o: { campaign?: string } = {}): Promise<{ retried: string[] }> {
  const retried: string[] = [];
  await failedJobs(rt, o.campaign, async (j) => {
    await rt.store.events.requeued(j.data.event.id, Date.parse(j.data.event.created));
    await j.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    retried.push(j.data.event.id);
  });
  return { retried };
}

/** Dead letters per campaign (metrics). */
export async function countEventDeadLetters(rt: EventsRuntime): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  await failedJobs(rt, undefined, async (j) => void m.set(j.data.event.campaign, (m.get(j.data.event.campaign) ?? 0) + 1));
  return m;
}
