import { decideReap } from '../campaign/reap.js';
import { rowStateOf } from '../campaign/lifecycle.js';
import { syncQueue } from '../campaign/control.js';
import { enforceDeadline, syncDeadline } from '../campaign/deadline.js';
import { queuedLeaseMs } from '../campaign/queue-lease.js';
import { untilStartMs, type Campaign } from '../config/campaign.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import { dialJob, type DialQueues } from './jobs.js';
import { endUnfed } from './feeder.js';

export interface ReaperDeps {
  store: Store;
  queues: DialQueues;
  log: Logger;
  lockMs: number;
  /** Business time (DIALER_NOW aware), for a deadline given as `end_at` and a requeued row's `start_at`. */
  now?: () => number;
  /** Called when the reaper's step (a deadline's expiry) finished the campaign. */
  onCampaignFinished?: (campaignId: string) => void;
}

const BATCH = 500;
/** The fewest leases a row whose job waits in the queue is trusted before the next check. */
const WAITING_JOB_RECHECK = 10;
const DEAD_JOB_STATES = new Set(['completed', 'failed', 'unknown']);

/**
 * Finds open rows whose owner is gone (a crash between two steps, a job
 * BullMQ gave up on or that was removed, a campaign no worker serves) and
 * gives each one an owner again. Reads only rows whose lease ran out (the
 * open index), so it costs nothing while owners keep their rows.
 * Also puts BullMQ's pause flag back in line with the campaign state.
 */
export async function reapCampaign(deps: ReaperDeps, id: string, now = Date.now()): Promise<number> {
  const { store, log } = deps;
  const info = await store.getCampaign(id);
  if (!info) return 0;
  await syncQueue(deps, id, info.state);
  // The deadline: the config's as read now; past it, the rows nobody is dialing end `expired`.
  const deadlineMs = await syncDeadline(store, info.campaign, deps.now?.() ?? now, info.createdAt ? Date.parse(info.createdAt) : undefined);
  await enforceDeadline(deps, id, deadlineMs, now);
  if (info.state === 'canceling' && info.total === undefined) {
    // Canceled while loading, and the loader is gone: the rows it wrote are the list.
    const lease = await store.loadOwner(id);
    if (!lease.until || lease.until < now) await store.finishLoading(id, await store.rowCount(id));
  }
  // A cancel that stopped half-way: the rows not fed yet end too (fed ones are open, below).
  if (info.state === 'canceling') await endUnfed(store, id, 'cancel', (rows) => store.cancelRows(id, rows));
  const rows = await store.expiredRows(id, now, BATCH);
  if (rows.length === 0) return 0;
  const recs = await store.getRows(id, rows);
  let acted = 0;
  let queued: number | undefined; // read once a pass, when a waiting job is first met
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const rec = recs[i];
    if (!rec) {
      await store.dropOpen(id, row);
      continue;
    }
    const state = rowStateOf(rec);
    const jobState = rec.job && state !== 'final' ? await deps.queues.jobState(id, rec.job) : 'unknown';
    const [entry, pollScheduled] = await Promise.all([store.ledgerGet(id, rec.phone), store.isPollScheduled(id, row)]);
    const d = decideReap({
      state, campaign: info.state, jobAlive: !DEAD_JOB_STATES.has(jobState), pollScheduled, entry,
      now, lockMs: deps.lockMs, reaped: rec.reaped ?? 0,
    });
    if (d.action === 'extend') {
      // A job still waiting its turn is looked at again when the campaign's rate
      // should have reached it (at least ten leases later): a long queue then
      // costs the reaper about one check per row, not one every few minutes.
      const waiting = jobState === 'waiting';
      // Only the window is queued ahead of it (dialer/feeder.ts), or every queued row in a campaign loaded before the feeder.
      if (waiting) queued ??= Math.max(0, (await store.queuedRows(id)) - (await store.feed.unfed(id)));
      const trust = waiting ? Math.max(store.leaseMs * WAITING_JOB_RECHECK, queuedLeaseMs(info.campaign, queued!, store.leaseMs)) : store.leaseMs;
      await store.extendLease(id, row, now + trust);
      continue;
    }
    // The batch was read before the job, ledger and poll look-ups: a worker or
    // poller may have moved the row since (the head of the queue is dialed
    // while the reaper walks it). Act only on a row still as it was decided on.
    const fresh = await store.getRow(id, row);
    if (!fresh || rowStateOf(fresh) !== state || fresh.job !== rec.job) continue;
    acted++;
    log.warn({ campaign: id, row, state, action: d.action }, 'open row without an owner; reaping');
    switch (d.action) {
      case 'drop':
        await store.dropOpen(id, row);
        break;
      case 'cancel':
        if ((await store.cancelRows(id, [row])) === 0) await store.extendLease(id, row, now + store.leaseMs);
        break;
      case 'requeue':
        await requeue(deps, info.campaign, row, state, (rec.reaped ?? 0) + 1, untilStartMs(info.campaign.schedule, deps.now?.() ?? now));
        break;
      case 'dead-letter':
        await store.moveRow(id, row, { outcome: 'dead-letter', patch: { error: d.error, job: null } });
        break;
      case 'poll':
        await store.schedulePoll(id, row, now, true);
        await store.extendLease(id, row, now + store.leaseMs);
        break;
      case 'to-ambiguous':
        await store.ledgerMove(id, rec.phone, ['sending'], { s: 'ambiguous', t: now, e: 'worker stopped mid-request' });
        await store.moveRow(id, row, { to: 'ambiguous', from: ['sending'], patch: { status: 'ambiguous', job: null } });
        await store.schedulePoll(id, row, now, true);
        break;
      case 'to-placed':
        await store.moveRow(id, row, { to: 'placed', from: ['sending'], patch: { call_id: d.callId ?? null, status: 'queued', placed_at: entry?.t ?? now, job: null } });
        await store.schedulePoll(id, row, now, true);
        break;
    }
  }
  return acted;
}

/** A new dial job for `row`, delayed by `delayMs` when positive (the campaign's start is still ahead). */
async function requeue(deps: ReaperDeps, c: Campaign, row: number, state: string, n: number, delayMs: number): Promise<void> {
  const job = dialJob(c, row, `k${n}`, delayMs);
  const to = state === 'sending' ? 'queued' : undefined;
  const r = await deps.store.moveRow(c.name, row, { to, from: [state as 'queued'], patch: { job: job.opts.jobId, reaped: n } });
  if (r === 'applied') await deps.queues.get(c.name).add(job.name, job.data, job.opts);
}

/** One reaping pass over the given campaigns (or every open one), by one worker at a time. */
export async function reap(deps: ReaperDeps, holder: string, everyMs: number, campaigns?: string[]): Promise<number> {
  const { store } = deps;
  if (!(await store.takeReaperTurn(holder, Math.max(500, everyMs - 100)))) return 0;
  let n = 0;
  for (const id of campaigns ?? (await store.listCampaigns())) {
    const state = await store.campaignState(id);
    if (!state || state === 'done' || state === 'canceled') continue;
    n += await reapCampaign(deps, id);
  }
  return n;
}
