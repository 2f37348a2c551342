import { Queue, type JobsOptions } from 'bullmq';
import type { Campaign } from '../config/campaign.js';
import type { RedisClient } from '../store/redis.js';
import type { Keys } from '../store/keys.js';
import { dialPriority } from '../poller/redial-plan.js';

/** Dial jobs carry only the row number: personal data stays in the row table. */
export interface DialJobData {
  row: number;
}

/**
 * What the dial worker keeps of finished jobs (BullMQ worker options, which
 * apply to every job that sets none itself): the row table and the ledger are
 * the record, so a completed job goes at once; a failed one stays a week for
 * inspection.
 */
export const DIAL_KEEP_JOBS = { removeOnComplete: { count: 0 }, removeOnFail: { age: 7 * 24 * 3600 } } as const;

/**
 * Our own backoff strategy name (see `backoffStrategy` in the worker): one
 * letter, as it is stored in every job's options. Jobs added before carry
 * LEGACY_BACKOFF_TYPE, which the worker still honours.
 */
export const BACKOFF_TYPE = 'd';
export const LEGACY_BACKOFF_TYPE = 'dialer';

/**
 * Deterministic job ids (`<campaign>-<row>[-<suffix>]`), so loading the same
 * list twice, or resuming a crashed load, adds nothing twice.
 */
export function dialJob(c: Campaign, row: number, suffix?: string, delayMs?: number, kind: 'redial' | 'other' = 'other'): { name: string; data: DialJobData; opts: JobsOptions } {
  return {
    name: 'dial',
    data: { row },
    opts: {
      jobId: suffix ? `${c.name}-${row}-${suffix}` : `${c.name}-${row}`,
      attempts: c.retry.attempts,
      backoff: { type: BACKOFF_TYPE },
      delay: delayMs && delayMs > 0 ? delayMs : undefined,
      // `redial.priority`: redials due before (or after) fresh contacts.
      priority: dialPriority(c.redial?.priority, kind),
      // No removeOnComplete / removeOnFail here: the dial worker sets them for
      // every job (DIAL_KEEP_JOBS). Stored options over 64 bytes turn the
      // job's hash from a listpack into a hashtable: 616 B a job instead of ~230.
    },
  };
}

/** One dial queue per campaign: its own rate, concurrency and pause, shared by every worker. */
export class DialQueues {
  private readonly queues = new Map<string, Queue<DialJobData>>();
  constructor(private readonly connection: RedisClient, private readonly keys: Keys, private readonly onError: (err: unknown) => void = () => undefined) {}

  get(campaignId: string): Queue<DialJobData> {
    let q = this.queues.get(campaignId);
    if (!q) {
      q = new Queue<DialJobData>(this.keys.dialQueue(campaignId), { connection: this.connection, prefix: this.keys.dialQueuePrefix });
      // Without a listener BullMQ prints its connection's errors raw (console.error).
      q.on('error', this.onError);
      this.queues.set(campaignId, q);
    }
    return q;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
