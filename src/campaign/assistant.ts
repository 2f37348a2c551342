import { createHash } from 'node:crypto';
import type { Campaign } from '../config/campaign.js';
import { DialerError } from '../errors.js';
import type { RowRecord } from './row.js';

type AssistantCampaign = Pick<Campaign, 'assistant_id' | 'assistants'>;

/**
 * Where a number falls in [0, 1): the first 32 bits of SHA-256 of its E.164
 * text. No campaign name or seed goes in, so one person lands in the same
 * place in every run and every campaign (the same script each time), and the
 * spread over a list is uniform whatever its numbers look like.
 */
export function numberPoint(e164: string): number {
  return createHash('sha256').update(e164, 'utf8').digest().readUInt32BE(0) / 2 ** 32;
}

/**
 * The assistant of the weighted split a number is assigned to: the weights,
 * in the order listed, cut [0, 1) into consecutive ranges. Raising one weight
 * moves only the people at the range edges.
 */
export function splitAssistant(assistants: NonNullable<Campaign['assistants']>, e164: string): string {
  const total = assistants.reduce((a, b) => a + b.weight, 0);
  const at = numberPoint(e164) * total;
  let upTo = 0;
  for (const a of assistants) {
    upTo += a.weight;
    if (at < upTo) return a.id;
  }
  return assistants[assistants.length - 1]!.id;
}

/**
 * The assistant a row is assigned at load: its own (`assistant_column`, when
 * the cell is not empty), else the campaign's split by number, else the
 * campaign's `assistant_id`. Undefined means "the campaign's assistant_id",
 * which is not stored with every row.
 */
export function assignAssistant(c: AssistantCampaign, e164: string, cell?: string): string | undefined {
  if (cell) return cell === c.assistant_id ? undefined : cell;
  if (c.assistants) return splitAssistant(c.assistants, e164);
  return undefined;
}

/** The assistant that calls this row (the dial path and call lookups). */
export function rowAssistant(c: AssistantCampaign, rec: Pick<RowRecord, 'assistant' | 'phone'>): string {
  const id = rec.assistant ?? c.assistant_id ?? (c.assistants ? splitAssistant(c.assistants, rec.phone) : undefined);
  // The schema requires assistant_id or assistants; a config from elsewhere may lack both.
  if (!id) throw new DialerError('CAMPAIGN_INVALID', 'campaign has neither assistant_id nor assistants');
  return id;
}

/** Every assistant the campaign file names (SMS actions are attached to each). */
export function campaignAssistants(c: AssistantCampaign): string[] {
  return [...new Set([...(c.assistant_id ? [c.assistant_id] : []), ...(c.assistants ?? []).map((a) => a.id)])];
}
