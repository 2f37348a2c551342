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
 * Our own backoff strategy name (see `backoffStrategy` in the worker). Jobs
 * added now store none: the worker gives each job the campaign's retries as
 * it takes it (withRetries). Jobs added before carry `d` or LEGACY_BACKOFF_TYPE
 * in their options, which the worker still honours.
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
      delay: delayMs && delayMs > 0 ? delayMs : undefined,
      // `redial.priority`: redials due before (or after) fresh contacts.
      priority: dialPriority(c.redial?.priority, kind),
      // No removeOnComplete / removeOnFail, attempts or backoff here: the dial
      // worker sets them for every job (DIAL_KEEP_JOBS, withRetries). Stored
      // options over 64 bytes turn the job's hash from a listpack into a
      // hashtable: 616 B a job instead of ~230; attempts and backoff alone are 32 B.
    },
  };
}

/**
 * The campaign's retries on a dial job the worker took (BullMQ reads them
 * from the job object when the attempt fails): the settings of now, not of
 * when the job was added. A job added before keeps the ones it stored.
 */
export function withRetries<J extends { opts: JobsOptions }>(job: J, c: Pick<Campaign, 'retry'>): J {
  // BullMQ stores a job without attempts as attempts 0.
  if (!job.opts.attempts) job.opts.attempts = c.retry.attempts;
  job.opts.backoff ??= { type: BACKOFF_TYPE };
  return job;
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

  /**
   * A dial job's state in O(1) Redis work, for the reaper. BullMQ's
   * getJobState finds a waiting job with LPOS over the wait list, O(queue
   * length): at 1,000,000 queued rows each look cost Redis milliseconds, and
   * the reaper's walk kept Redis busy even with the campaign paused. Here a job
   * whose hash exists and that is neither completed, failed nor active waits
   * (wait, paused, delayed or prioritized); the active list holds at most the
   * workers' concurrency.
   */
  async jobState(campaignId: string, jobId: string): Promise<'completed' | 'failed' | 'active' | 'waiting' | 'unknown'> {
    const q = this.get(campaignId);
    // The queue's connection: on a Cluster its keys share our prefix's slot, so one MULTI holds them.
    const r = await this.connection.multi()
      .zscore(q.toKey('completed'), jobId).zscore(q.toKey('failed'), jobId).exists(q.toKey(jobId)).lpos(q.toKey('active'), jobId)
      .exec();
    const failed = r?.find(([e]) => e);
    if (!r || failed) throw failed?.[0] ?? new Error('job state look-up aborted');
    const [completed, gaveUp, exists, active] = r.map(([, v]) => v);
    if (completed !== null) return 'completed';
    if (gaveUp !== null) return 'failed';
    if (!exists) return 'unknown';
    return active !== null ? 'active' : 'waiting';
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
