import type { Campaign } from '../config/campaign.js';
import type { Outcome, RowRecord } from '../campaign/row.js';
import type { DeferredGateCheck } from '../store/frequency.js';

/** What the checks made immediately before each POST decided. */
export type GateResult =
  | {
      action: 'go';
      /** The window rule that allowed the call, for the audit record. */
      rule?: string;
      /** Contact's local time, ISO. */
      localTime?: string;
      /** Gives back what the gate reserved (a frequency-cap slot) when the POST surely placed no call. */
      release?: () => Promise<void>;
      /**
       * Asked with `defer`: the gate's Redis checks (erased, suppressed, the
       * frequency slot) are left to the dial's first step (store/dial.ts
       * DIAL_BEGIN, given `check`); `settle` turns what it answered into the
       * gate's verdict: a refusal as the gate gives it, or go with `release`.
       */
      deferred?: { check: DeferredGateCheck; settle: (answer: number[]) => Promise<GateResult> };
    }
  /** Not now: try again in `delayMs` (real time); `nextAt` is the opening in business time (ISO). */
  | { action: 'delay'; delayMs: number; nextAt: string; reason: string }
  | { action: 'skip'; outcome: Outcome; reason: string };
/**
 * Checks run immediately before each POST (consent, erasure, suppression,
 * calling window, frequency cap). `defer`: leave the Redis checks to the dial's
 * first step when the local ones let the call go (see `deferred`).
 */
export type DialGate = (campaign: Campaign, rec: RowRecord, opts?: { defer?: boolean }) => Promise<GateResult>;

/**
 * A load-time check: returns the row unchanged, or final (with `outcome`) when it must not be dialed.
 * `prefetch`, when there, checks a chunk's numbers in Redis at once before the screen
 * runs on each of its rows (one round trip for the chunk instead of one per row).
 */
export type Screen = ((c: Campaign, rec: RowRecord) => Promise<RowRecord>) & {
  prefetch?: (c: Campaign, recs: RowRecord[]) => Promise<void>;
};
