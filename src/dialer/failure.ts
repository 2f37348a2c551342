import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Outcome, RowRecord } from '../campaign/row.js';
import { isInvalidNumberError, triedWith, type NextReason } from '../campaign/alternates.js';
import type { Campaign } from '../config/campaign.js';
import { ApiError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RowPatch, Store } from '../store/store.js';
import type { DialJobData } from './jobs.js';
import { decideFailure } from './policy.js';

/** First lookup of an ambiguous dial. */
export const FIRST_RECONCILE_MS = 1000;

/** Carries the policy's backoff to BullMQ's `backoffStrategy`. */
export class RetryLater extends Error {
  constructor(readonly delayMs: number, cause: unknown) {
    super(describeError(cause));
    this.name = 'RetryLater';
  }
}

/** What a failed POST's handling needs from the worker that sent it. */
export interface FailureContext {
  store: Store;
  log: Logger;
  campaign: Campaign;
  worker: Worker<DialJobData>;
  /** The row's next number (see CampaignWorker.nextNumber); false when it has none. */
  nextNumber(rec: RowRecord, why: NextReason, dialed: boolean, extra: RowPatch): Promise<boolean>;
  finish(row: number, patch: RowPatch, outcome: Outcome): Promise<void>;
  /** Runs the job again from the start (on the row's next number). */
  again(): Promise<string>;
}

/**
 * A POST /calls that failed: the retry policy decides (campaign `retry`),
 * the ledger entry leaves `sending` and the row moves to match.
 */
export async function onDialError(ctx: FailureContext, job: Job<DialJobData>, rec: RowRecord, attempt: number, err: unknown): Promise<string> {
  const { store, campaign } = ctx;
  const id = campaign.name;
  const row = rec.row;
  const policy = { attempts: campaign.retry.attempts, backoffMs: campaign.retry.backoff_ms, maxBackoffMs: campaign.retry.max_backoff_ms };
  const d = decideFailure(err, job.attemptsMade + 1, policy, Math.random());
  const error = describeError(err);
  const status = err instanceof ApiError ? err.status ?? null : null;
  ctx.log.warn({ row, attempt, decision: d.action, err: error }, 'POST /calls failed');
  switch (d.action) {
    case 'rate-limited':
      // A 429 is not an attempt: give it back, and hold the whole campaign queue.
      await store.ledgerMove(id, rec.phone, ['sending'], { s: 'pending', a: attempt - 1, t: Date.now() });
      await store.moveRow(id, row, { to: 'queued', from: ['sending'] });
      await ctx.worker.rateLimit(d.delayMs);
      throw Worker.RateLimitError();
    case 'retry':
      await store.ledgerMove(id, rec.phone, ['sending'], { s: 'failed', t: Date.now(), e: error });
      await store.moveRow(id, row, { to: 'queued', from: ['sending'], patch: { attempts: attempt, error, http_status: status }, leaseMs: store.handoffLeaseMs });
      throw new RetryLater(d.delayMs, err);
    case 'dead-letter':
      await store.ledgerMove(id, rec.phone, ['sending'], { s: 'failed', t: Date.now(), e: error });
      // The API says this number is invalid: the row's next number, on this job.
      if (isInvalidNumberError(err) && (await ctx.nextNumber(rec, { rejected: error }, true, { attempts: attempt, error: d.reason, http_status: status }))) {
        return ctx.again();
      }
      await ctx.finish(row, { attempts: attempt, error: d.reason, http_status: status }, 'dead-letter');
      throw new UnrecoverableError(d.reason);
    case 'ambiguous':
      await store.ledgerMove(id, rec.phone, ['sending'], { s: 'ambiguous', t: Date.now(), e: error });
      await store.moveRow(id, row, { to: 'ambiguous', from: ['sending'], patch: { numbers_tried: triedWith(rec.numbers_tried, rec.phone), attempts: attempt, status: 'ambiguous', error, http_status: status, job: null } });
      await store.schedulePoll(id, row, Date.now() + FIRST_RECONCILE_MS);
      return 'ambiguous';
  }
}
