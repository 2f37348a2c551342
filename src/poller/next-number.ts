import type { Campaign } from '../config/campaign.js';
import type { Logger } from '../log.js';
import type { Outcome, RowRecord } from '../campaign/row.js';
import { claimNextNumber, nextNumberPatch, triesNext } from '../campaign/alternates.js';
import { dialJob, type DialQueues } from '../dialer/jobs.js';
import type { RowPatch, Store } from '../store/store.js';

/**
 * After a call ended `no-answer`, `busy` or `failed` on a row with numbers
 * left to try: the next number gets a dial job at once (the gate holds it
 * until that number's window opens and its frequency cap allows). The
 * previous number's ledger entry stays `placed`: it is never dialed again
 * for this row. Returns whether the row moved on.
 */
export async function tryNextNumber(deps: { store: Store; queues: DialQueues; log: Logger }, c: Campaign, rec: RowRecord, outcome: Outcome, last: RowPatch): Promise<boolean> {
  const { store } = deps;
  if (!triesNext(rec, { outcome })) return false;
  const picked = await claimNextNumber(store, c.name, rec, rec.attempts ?? 0);
  if (!picked) return false;
  // One id per number left, so a poll that runs twice adds the same job.
  const job = dialJob(c, rec.row, `next${picked.rest.length}`);
  // As for a redial: the poll lets go before the job can exist; the hand-over lease covers a crash in between.
  await store.unschedulePoll(c.name, rec.row);
  const r = await store.moveRow(c.name, rec.row, {
    to: 'redial-due', from: ['placed'], leaseMs: store.handoffLeaseMs,
    patch: { ...last, ...nextNumberPatch(c, rec, picked.next, picked.rest, { outcome }, true), next_at: null, job: job.opts.jobId },
  });
  if (r !== 'applied') return false;
  await deps.queues.get(c.name).add(job.name, job.data, job.opts);
  deps.log.info({ campaign: c.name, row: rec.row, outcome, left: picked.rest.length, skipped: picked.skipped.length }, 'trying the next number');
  return true;
}
