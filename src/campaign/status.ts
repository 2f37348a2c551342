import { DialerError } from '../errors.js';
import { OUTCOMES, type Outcome } from '../results/row.js';
import type { Store } from '../store/store.js';
import type { DialQueues } from '../dialer/jobs.js';

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
  /** Calls placed and still being followed, or dials being reconciled. */
  in_flight: number;
  /** Dial jobs waiting in the queue (including delayed: windows, redials, backoff). */
  queued: number;
  /** Of those, delayed until a later time. */
  waiting_for_time: number;
  dead_letters: number;
  /** POST /calls in the last 60 s. */
  dials_last_minute: number;
  /** Seconds until every row is final at the current dial rate; null when unknown. */
  eta_seconds: number | null;
  results: string;
  created_at?: string;
  finished_at?: string;
}

export async function campaignStatus(store: Store, queues: DialQueues, id: string): Promise<CampaignStatus & Record<Outcome, number>> {
  const info = await store.getCampaign(id);
  if (!info) throw new DialerError('CAMPAIGN_NOT_FOUND', `no campaign named "${id}" (see "dialer status" for the list)`);
  const counts = await store.counts(id);
  const total = info.total ?? (await store.redis.hlen(store.keys.rows(id)));
  const finished = counts.finished ?? 0;
  const outcomes = Object.fromEntries(OUTCOMES.map((o) => [o, counts[o] ?? 0])) as Record<Outcome, number>;
  const now = Date.now();
  const [inFlight, dials, jobCounts] = await Promise.all([
    store.pendingPolls(id),
    store.redis.zcount(store.keys.dials(id), now - 60_000, '+inf'),
    queues.get(id).getJobCounts('wait', 'delayed', 'prioritized', 'waiting-children'),
  ]);
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
    queued: (jobCounts.wait ?? 0) + (jobCounts.delayed ?? 0) + (jobCounts.prioritized ?? 0),
    waiting_for_time: jobCounts.delayed ?? 0,
    dead_letters: await store.redis.zcard(store.keys.dlq(id)),
    dials_last_minute: dials,
    eta_seconds: eta,
    results: info.campaign.resultsPath,
    created_at: info.createdAt,
    finished_at: info.finishedAt,
  };
}
