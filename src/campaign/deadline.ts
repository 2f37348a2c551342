import { startAtMs, type Campaign, type Schedule } from '../config/campaign.js';
import { parseDuration } from '../config/duration.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import type { DialQueues } from '../dialer/jobs.js';
import { endUnfed } from '../dialer/feeder.js';

/**
 * Campaign deadlines (`schedule.end_at` | `schedule.end_after`).
 *
 * At the deadline, contacts not yet dialed and redials not yet made end
 * `expired`; calls in flight finish with their real outcome (a redial they
 * would get is not made); the campaign then ends `done` and its results are
 * written. The deadline lives in the campaign hash as real-clock ms
 * (`deadline_ms`), computed once from the config (business time, DIALER_NOW
 * aware) and computed again whenever the config's deadline text changes.
 * Two places enforce it: the script that steps a row into `sending` refuses
 * past it (by Redis's clock), so no row is dialed after the deadline even by
 * a worker that knows nothing of it; and the reaper, run by every worker,
 * ends the remaining rows, so a crash of any process loses nothing.
 */

/** The deadline as written, `end_at:<iso>` or `end_after:<duration>`; undefined without one. */
export function deadlineSpec(s: Schedule | undefined): string | undefined {
  if (s?.end_at !== undefined) return `end_at:${s.end_at}`;
  if (s?.end_after !== undefined) return `end_after:${s.end_after}`;
  return undefined;
}

/**
 * The deadline in real-clock ms. `startMs`: the campaign's start (real ms);
 * `offsetMs`: business time minus real time (DIALER_NOW), for `end_at`.
 */
export function resolveDeadline(s: Schedule | undefined, startMs: number, offsetMs = 0): number | undefined {
  if (s?.end_at !== undefined) return Date.parse(s.end_at) - offsetMs;
  if (s?.end_after !== undefined) {
    const ms = parseDuration(s.end_after);
    return ms === undefined ? undefined : startMs + ms;
  }
  return undefined;
}

/** A cron run's schedule: only its deadline (`end_after` then counts from the run's own start). */
export function runDeadline(s: Schedule | undefined): Schedule | undefined {
  if (s?.end_at !== undefined) return { end_at: s.end_at };
  if (s?.end_after !== undefined) return { end_after: s.end_after };
  return undefined;
}

/**
 * Records the campaign's start (once) and brings `deadline_ms` in line with
 * the config's deadline. `businessNow`: the process's business time.
 */
export async function syncDeadline(store: Store, c: Campaign, businessNow: number, fallbackStartMs?: number): Promise<number | undefined> {
  const realNow = Date.now();
  const offset = businessNow - realNow;
  const spec = deadlineSpec(c.schedule);
  const cur = await store.deadline.get(c.name);
  if (cur.of === spec) return cur.deadlineMs;
  let startMs = cur.startMs;
  if (startMs === undefined) {
    const startAt = startAtMs(c.schedule);
    startMs = startAt !== undefined ? startAt - offset : fallbackStartMs ?? realNow;
    await store.deadline.recordStart(c.name, startMs);
  }
  const deadlineMs = resolveDeadline(c.schedule, startMs, offset);
  await store.deadline.setDeadline(c.name, deadlineMs, spec);
  return deadlineMs;
}

export interface DeadlineDeps {
  store: Store;
  queues: DialQueues;
  log: Logger;
  onCampaignFinished?: (campaignId: string) => void;
}

/** Past the deadline: ends every open row nobody is dialing `expired` and clears the campaign's waiting jobs. Returns how many ended. */
export async function enforceDeadline(deps: DeadlineDeps, id: string, deadlineMs: number | undefined, now = Date.now()): Promise<number> {
  if (deadlineMs === undefined || now < deadlineMs) return 0;
  const { store } = deps;
  let n = 0;
  let settled = false;
  const expire = async (rows: number[]) => {
    const r = await store.deadline.expireRows(id, rows);
    n += r.expired.length;
    settled ||= r.settled;
    const at = new Date().toISOString();
    for (const row of r.expired) await store.appendAudit(id, { type: 'outcome', row, at, outcome: 'expired', error: 'campaign deadline reached' });
    return r.expired.length;
  };
  // The queued rows not fed to a dial job yet (dialer/feeder.ts), then every open row
  // (past the deadline nothing is fed any more, so a row fed meanwhile is open by then).
  await endUnfed(store, id, 'expire', expire);
  for await (const rows of store.openRowBatches(id)) await expire(rows);
  if (n === 0) return 0;
  // Their rows are final: the jobs left would only wake up to find that out.
  await deps.queues.get(id).drain(true).catch(() => undefined);
  deps.log.info({ campaign: id, expired: n, deadline: new Date(deadlineMs).toISOString() }, 'campaign deadline reached; rows not dialed end expired');
  if (settled) deps.onCampaignFinished?.(id);
  return n;
}
