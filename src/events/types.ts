import type { CampaignState } from '../campaign/lifecycle.js';

/** Every event the dialer sends. */
export const EVENT_TYPES = [
  'campaign.started', 'campaign.paused', 'campaign.resumed', 'campaign.canceled', 'campaign.finished',
  'contact.finished',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
export type CampaignEventType = Exclude<EventType, 'contact.finished'>;

/** What a receiver gets: the body of one POST, signed (see sign.ts). */
export interface DialerEvent {
  /** Stable: the same transition always carries the same id, however often it is delivered. */
  id: string;
  type: EventType;
  /** When the transition happened (ISO, UTC). */
  created: string;
  campaign: string;
  data: Record<string, unknown>;
}

/**
 * The campaign events a move from one campaign state to another emits, in
 * order. A campaign `started` when it first leaves `loading` for anything
 * but a cancel; `canceled` when the cancel is made (the calls already placed
 * still end with `contact.finished` afterwards); `finished` when its last row
 * ends. `canceling → canceled` and `done → running` (a dead letter sent back)
 * emit nothing; the next `done` emits a second `finished` under a new id.
 */
export function campaignEvents(from: CampaignState, to: CampaignState): CampaignEventType[] {
  if (from === to) return [];
  const canceledNow = (to === 'canceling' || to === 'canceled') && from !== 'canceling';
  if (canceledNow) return ['campaign.canceled'];
  const out: CampaignEventType[] = [];
  if (from === 'loading') out.push('campaign.started');
  if (to === 'paused') out.push('campaign.paused');
  if (to === 'running' && from === 'paused') out.push('campaign.resumed');
  if (to === 'done') out.push('campaign.finished');
  return out;
}
