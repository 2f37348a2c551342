import { DialerError } from '../errors.js';
import { OUTCOMES, type Outcome } from './row.js';
import type { RowState, Store } from '../store/store.js';
import type { DialQueues } from '../dialer/jobs.js';
import { decodeRow } from '../store/row-codec.js';

export interface CampaignStatus {
  campaign: string;
  state: string;
  /** Data rows in the list (rows loaded so far while loading). */
  total: number;
  /** Rows without a final outcome yet. */
  pending: number;
  finished: number;
  /** Count per final outcome (every outcome listed, zeros included). */
  outcomes: Record<Outcome, number>;
  /** Calls placed and still being followed, or dials being reconciled (POSTs under way included). */
  in_flight: number;
  /** A load of this campaign broke off (its loader is gone): load the list again, or cancel. */
  load_interrupted: boolean;
  /** Open rows in each lifecycle state (campaign/lifecycle.ts). */
  rows_by_state: Record<RowState, number>;
  /** Live-call slots held: calls placed and not yet seen ended, POSTs under way, dials being reconciled. */
  live_calls: number;
  /** The campaign's cap on live calls, when it has one. */
  max_live_calls?: number;
  /** Dial jobs waiting in the queue (including delayed: windows, redials, backoff), and queued rows the feeder has not given a job yet. */
  queued: number;
  /** Of those, delayed until a later time. */
  waiting_for_time: number;
  /** Rows not final whose dial waits for its calling window (or a frequency-cap slot): row status 'waiting'. */
  waiting_for_window: number;
  /** Earliest `next_at` among those rows (ISO, business time); null when none waits. */
  next_opening: string | null;
  dead_letters: number;
  /** POST /calls in the last 60 s. */
  dials_last_minute: number;
  /** Seconds until every row is final at the current dial rate; null when unknown. */
  eta_seconds: number | null;
  results: string;
  /** The campaign's deadline (schedule.end_at|end_after, ISO); null without one. Past it, rows not dialed end `expired`. */
  deadline: string | null;
  created_at?: string;
  finished_at?: string;
  /** Present while rows are packed in the archive (`dialer archive`; dialer worker does it DIALER_ARCHIVE_AFTER_MINUTES after the end): how many, since when (ISO). Reads are the same; a write unpacks them first. */
  archived?: { rows: number; since: string };
}

export async function campaignStatus(store: Store, queues: DialQueues, id: string): Promise<CampaignStatus & Record<Outcome, number>> {
  const info = await store.getCampaign(id);
  if (!info) throw new DialerError('CAMPAIGN_NOT_FOUND', `no campaign named "${id}" (see "dialer status" for the list)`);
  const counts = await store.counts(id);
  const total = info.total ?? (await store.rowCount(id));
  const finished = counts.finished ?? 0;
  const outcomes = Object.fromEntries(OUTCOMES.map((o) => [o, counts[o] ?? 0])) as Record<Outcome, number>;
  const now = Date.now();
  const [byState, dials, jobCounts, waiting, live, deadlineMs, unfed] = await Promise.all([
    store.rowStates(id),
    store.limits.dialsLastMinute(id, now),
    queues.get(id).getJobCounts('wait', 'delayed', 'prioritized', 'waiting-children'),
    waitingRows(store, id),
    store.live.count(id, now),
    store.deadline.deadlineMs(id),
    store.feed.unfed(id),
  ]);
  const inFlight = byState.sending + byState.placed + byState.ambiguous;
  const pending = Math.max(0, total - finished);
  const toDial = Math.max(0, pending - inFlight);
  const eta = pending === 0 ? 0 : dials > 0 ? Math.round((toDial / dials) * 60) : null;
  return {
    campaign: id,
    state: info.state,
    total,
    pending,
    finished,
    ...outcomes,
    outcomes,
    in_flight: inFlight,
    load_interrupted: info.state === 'loading' && total > 0 && ((await store.loadOwner(id)).until ?? 0) < now,
    rows_by_state: byState,
    live_calls: live,
    ...(info.campaign.max_live_calls ? { max_live_calls: info.campaign.max_live_calls } : {}),
    // The rows the feeder has not given a job yet wait their turn too (dialer/feeder.ts).
    queued: (jobCounts.wait ?? 0) + (jobCounts.delayed ?? 0) + (jobCounts.prioritized ?? 0) + unfed,
    waiting_for_time: jobCounts.delayed ?? 0,
    waiting_for_window: waiting.count,
    next_opening: waiting.next,
    dead_letters: await store.deadLetters.count(id),
    dials_last_minute: dials,
    eta_seconds: eta,
    results: info.campaign.resultsPath,
    deadline: deadlineMs === undefined ? null : new Date(deadlineMs).toISOString(),
    created_at: info.createdAt,
    finished_at: info.finishedAt,
    ...(info.archived ? { archived: { rows: info.archived.rows, since: new Date(info.archived.sinceMs).toISOString() } } : {}),
  };
}

/**
 * Rows the dial gate put off (calling window, frequency cap) and when the first of
 * them may go: from the campaign's waiting index (store/index-lua.ts), the same
 * cost at any size; a campaign created before the index existed is scanned.
 */
async function waitingRows(store: Store, id: string): Promise<{ count: number; next: string | null }> {
  if (await store.indexes.indexed(id)) return store.indexes.waiting(id);
  return scanWaitingRows(store, id);
}

/**
 * The same from a scan of the rows hash (rows are skipped by substring before
 * any JSON is parsed; HSCAN may repeat a field, hence the set). Tests compare the index with it.
 */
export async function scanWaitingRows(store: Store, id: string): Promise<{ count: number; next: string | null }> {
  const seen = new Set<string>();
  let next: string | null = null;
  for await (const batch of store.rowBatches(id, 2000)) {
    for (const [row, v] of batch) {
      if (!v.includes('"status":"waiting"')) continue;
      const r = decodeRow(v);
      if (r.outcome || r.status !== 'waiting' || seen.has(row)) continue;
      seen.add(row);
      if (r.next_at && (next === null || r.next_at < next)) next = r.next_at;
    }
  }
  return { count: seen.size, next };
}
