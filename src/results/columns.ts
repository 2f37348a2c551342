import type { Campaign } from '../config/campaign.js';
import type { Outcome, RowRecord } from '../campaign/row.js';

/** Outcomes decided at load: such a row was never going to be dialed, so it has no assistant. */
const NOT_DIALABLE = new Set<Outcome>(['rejected', 'duplicate', 'suppressed', 'no-consent']);

/** The results' pass-through columns, in order: id_column, then keep_columns (each once). */
export function passThroughColumns(c: Pick<Campaign, 'id_column' | 'keep_columns'>): string[] {
  return [...new Set([...(c.id_column !== undefined ? [c.id_column] : []), ...(c.keep_columns ?? [])])];
}

/** The results' `assistant` cell: the assistant that calls (or called) the row; empty for rows set aside at load. */
export function assistantCell(rec: RowRecord, c: Pick<Campaign, 'assistant_id'> | undefined): string | undefined {
  if (rec.assistant) return rec.assistant;
  if (rec.outcome && NOT_DIALABLE.has(rec.outcome)) return undefined;
  return c?.assistant_id;
}
