import type { LedgerEntry } from '../store/store.js';
import { JOB_OWNED, POLL_OWNED, type CampaignState, type RowState } from './lifecycle.js';

/** Times a row may get a new dial job because its own was gone, before it is dead-lettered. */
export const MAX_REAPS = 3;

export interface ReapInput {
  state: RowState;
  campaign: CampaignState;
  /** Whether the row's dial job still exists and can run (undefined: not looked up). */
  jobAlive?: boolean;
  /** Whether the poll schedule holds the row. */
  pollScheduled?: boolean;
  entry?: LedgerEntry;
  now: number;
  /** A `sending` entry younger than this may still be a live request. */
  lockMs: number;
  reaped: number;
}

export type ReapAction =
  | { action: 'drop' }
  | { action: 'extend' }
  | { action: 'cancel' }
  | { action: 'requeue' }
  | { action: 'dead-letter'; error: string }
  | { action: 'poll' }
  | { action: 'to-ambiguous' }
  | { action: 'to-placed'; callId?: string };

/** What the reaper does with an open row whose lease ran out: the owner's check, pure. */
export function decideReap(i: ReapInput): ReapAction {
  if (i.state === 'final') return { action: 'drop' };
  const canceling = i.campaign === 'canceling' || i.campaign === 'canceled';
  if ((JOB_OWNED as RowState[]).includes(i.state)) {
    if (canceling) return { action: 'cancel' };
    if (i.jobAlive) return { action: 'extend' };
    if (i.reaped >= MAX_REAPS) return { action: 'dead-letter', error: `its dial job was lost ${i.reaped + 1} times` };
    return { action: 'requeue' };
  }
  if ((POLL_OWNED as RowState[]).includes(i.state)) return i.pollScheduled ? { action: 'extend' } : { action: 'poll' };
  // sending: the worker holding the POST died, or the step after it was lost.
  const s = i.entry?.s;
  if (s === 'sending') return i.now - i.entry!.t < i.lockMs ? { action: 'extend' } : { action: 'to-ambiguous' };
  if (s === 'placed') return { action: 'to-placed', callId: i.entry!.id };
  if (s === 'ambiguous') return { action: 'to-ambiguous' };
  // The ledger says nothing was sent (a 429 or a definite failure whose row step was lost).
  if (canceling) return { action: 'cancel' };
  return i.reaped >= MAX_REAPS ? { action: 'dead-letter', error: `its dial job was lost ${i.reaped + 1} times` } : { action: 'requeue' };
}
