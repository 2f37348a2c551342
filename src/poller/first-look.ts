import type { CallDetails } from '../api/client.js';
import type { Campaign } from '../config/campaign.js';

/** Calls seen ended before a campaign's own first-look time is trusted. */
const MIN_SAMPLES = 20;
/** The latest call lengths kept per campaign. */
const KEEP = 200;
/** Never earlier than this after placing: no call ends the moment it is placed. */
export const EARLIEST_LOOK_MS = 1000;

/**
 * Per-call lookups: when to take the first look at a placed call, learned from
 * the campaign's own calls. Each look is a GET, so the default is one poll
 * interval; once at least MIN_SAMPLES calls were seen ended (API `ended_at`
 * minus our placing time), the first look comes at the 90th percentile of
 * their lengths, between 1 s and the interval. So a campaign of short calls
 * (most calls over before one interval) is followed closely for about one
 * GET a call, ≤ 1.1 (a tenth may need a second look), and one of long calls
 * looks exactly as before. `poll.first_look_seconds` overrides it.
 */
export class FirstLookLearner {
  private readonly lengths = new Map<string, number[]>();

  /** Notes a call seen ended; calls without an end time teach nothing. */
  observe(campaign: string, placedAt: number | undefined, call: CallDetails): void {
    const ended = call.endedAt ? Date.parse(call.endedAt) : NaN;
    if (placedAt === undefined || !Number.isFinite(ended)) return;
    const list = this.lengths.get(campaign) ?? [];
    list.push(Math.max(0, ended - placedAt));
    if (list.length > KEEP) list.shift();
    this.lengths.set(campaign, list);
  }

  /** The first look after placing (ms) for this campaign's calls now. */
  firstLookMs(c: Campaign): number {
    const interval = c.poll.interval_seconds * 1000;
    if (c.poll.first_look_seconds !== undefined) return c.poll.first_look_seconds * 1000;
    const list = this.lengths.get(c.name);
    if (!list || list.length < MIN_SAMPLES) return interval;
    const sorted = [...list].sort((a, b) => a - b);
    const p90 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.9) - 1)]!;
    return Math.min(interval, Math.max(EARLIEST_LOOK_MS, p90));
  }

  forget(campaign: string): void {
    this.lengths.delete(campaign);
  }
}
