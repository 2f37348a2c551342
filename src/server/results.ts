import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { campaignRows, resultColumns, resultRow, type ResultsFormat } from '../results/export.js';
import { csvLine } from '../results/csv-safe.js';
import type { Store } from '../store/store.js';

const JSONL_TYPES = ['application/x-ndjson', 'application/jsonl', 'application/x-jsonlines', 'application/jsonlines'];

/** `?format=csv|jsonl` wins (browser links can't set Accept); else the Accept header; else CSV. */
export function resultsFormat(req: FastifyRequest): ResultsFormat {
  const q = (req.query as Record<string, unknown>).format;
  if (q === 'jsonl' || q === 'ndjson') return 'jsonl';
  if (q === 'csv') return 'csv';
  const accept = String(req.headers.accept ?? '').toLowerCase();
  return JSONL_TYPES.some((t) => accept.includes(t)) ? 'jsonl' : 'csv';
}

/**
 * The results file, rendered from Redis as it is sent: one row per data row of
 * the upload, same columns and values as `dialer export`. Rows are read in
 * chunks, so a large campaign streams instead of being built in memory.
 */
export function resultsStream(store: Store, id: string, format: ResultsFormat): Readable {
  async function* lines(): AsyncGenerator<string> {
    const c = (await store.getCampaign(id))?.campaign;
    const columns = resultColumns(c);
    let buf: string[] = format === 'csv' ? [csvLine(columns)] : [];
    for await (const rec of campaignRows(store, id)) {
      const r = resultRow(rec, c);
      buf.push(format === 'csv' ? csvLine(columns.map((col) => r[col])) : JSON.stringify(r) + '\n');
      if (buf.length >= 500) {
        yield buf.join('');
        buf = [];
      }
    }
    if (buf.length) yield buf.join('');
  }
  return Readable.from(lines());
}

export const RESULTS_CONTENT_TYPE: Record<ResultsFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  jsonl: 'application/x-ndjson; charset=utf-8',
};
