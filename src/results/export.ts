import type { Campaign } from '../config/campaign.js';
import type { Store } from '../store/store.js';
import { writePrivateFile } from './private-file.js';
import { RESULT_COLUMNS, type RowRecord } from '../campaign/row.js';
import { csvLine } from './csv-safe.js';
import { assistantCell, passThroughColumns } from './columns.js';

export type ResultsFormat = 'csv' | 'jsonl';

const CHUNK = 1000;

type ColumnsCampaign = Pick<Campaign, 'assistant_id' | 'id_column' | 'keep_columns'>;

/** The results columns of a campaign: the fixed ones, then its pass-through columns. */
export function resultColumns(c?: ColumnsCampaign): string[] {
  return [...RESULT_COLUMNS, ...(c ? passThroughColumns(c) : [])];
}

/** One results row: the public columns, in order, then the campaign's pass-through columns. In-progress rows say `pending`. */
export function resultRow(rec: RowRecord, c?: ColumnsCampaign): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = {};
  for (const col of RESULT_COLUMNS) {
    const v = col === 'outcome' ? rec.outcome ?? 'pending' : col === 'upload' ? rec.upload ?? 1 : col === 'assistant' ? assistantCell(rec, c) : rec[col as keyof RowRecord];
    out[col] = v === undefined || v === null ? null : typeof v === 'object' ? JSON.stringify(v) : (v as string | number);
  }
  if (c) for (const col of passThroughColumns(c)) out[col] = rec.keep?.[col] ?? null;
  return out;
}

/** Rows 1..n of a campaign, in order, read in chunks. */
export async function* campaignRows(store: Store, id: string): AsyncGenerator<RowRecord> {
  const info = await store.getCampaign(id);
  const total = info?.total ?? (await store.rowCount(id));
  for (let start = 1; start <= total; start += CHUNK) {
    const nums = Array.from({ length: Math.min(CHUNK, total - start + 1) }, (_, i) => start + i);
    const recs = await store.getRows(id, nums);
    for (let i = 0; i < nums.length; i++) {
      // A row the table lacks (a load that crashed before writing it) still gets its line.
      yield recs[i] ?? { row: nums[i]!, name: '', phone: '', error: 'row missing from the dialer state' };
    }
  }
}

/**
 * Renders a campaign's results file from Redis. Written to a temporary file
 * and renamed into place, so a reader never sees half a row and a crash leaves
 * the previous file whole. Mode 0600: it holds personal data.
 */
export async function writeResults(store: Store, id: string, file: string, format: ResultsFormat = 'csv'): Promise<{ rows: number; file: string }> {
  let rows = 0;
  const c = (await store.getCampaign(id))?.campaign;
  const columns = resultColumns(c);
  async function* lines(): AsyncGenerator<string> {
    if (format === 'csv') yield csvLine(columns);
    for await (const rec of campaignRows(store, id)) {
      const r = resultRow(rec, c);
      rows++;
      yield format === 'csv' ? csvLine(columns.map((col) => r[col])) : JSON.stringify(r) + '\n';
    }
  }
  await writePrivateFile(file, lines(), CHUNK);
  return { rows, file };
}
