import { constants, createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { parse as parseCsv } from 'csv-parse';
import { RESULT_COLUMNS } from '../campaign/row.js';
import { listDeadLetters } from '../campaign/dlq.js';
import { DialerError } from '../errors.js';
import { campaignRows, resultRow } from '../results/export.js';
import type { Runtime } from '../runtime.js';
import { ReportBuilder, type CampaignReport, type ResultLike } from './figures.js';

export interface ReportOptions {
  /** Price per call minute for the estimate when the calls carry no cost (`--price-per-minute`, else the campaign's `price_per_minute`). */
  pricePerMinute?: number;
}

/**
 * The report of a campaign in Redis: its results rows as `dialer export`
 * renders them (streamed in chunks), the dial events of its audit record and
 * its dead-letter list. Works while the campaign runs (open rows count as
 * `pending`).
 */
export async function campaignReport(rt: Pick<Runtime, 'store'>, id: string, o: ReportOptions = {}): Promise<CampaignReport> {
  const info = await rt.store.getCampaign(id);
  if (!info) throw new DialerError('CAMPAIGN_NOT_FOUND', `no campaign named "${id}"`);
  const b = new ReportBuilder(id, RESULT_COLUMNS);
  for await (const rec of campaignRows(rt.store, id)) b.add(resultRow(rec, info.campaign));
  for await (const [, ev] of rt.store.privacy.auditEntries(id)) if (ev.type === 'dial' && ev.at) b.addDial(ev.at);
  const deadLetters = await listDeadLetters(rt, id);
  const price = o.pricePerMinute ?? (info.campaign as { price_per_minute?: number }).price_per_minute;
  return b.finish({ deadLetters, pricePerMinute: price });
}

/**
 * The report of a results file (CSV with a header, or JSONL), streamed;
 * `dials` are dial times (ISO) when an audit export is at hand.
 */
export async function fileReport(file: string, campaign: string, o: ReportOptions & { dials?: AsyncIterable<string> | Iterable<string> } = {}): Promise<CampaignReport> {
  const jsonl = /\.(jsonl|ndjson)$/i.test(file);
  try {
    await access(file, constants.R_OK);
  } catch (e) {
    throw new DialerError('USAGE', `${file}: cannot read the results file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let b: ReportBuilder | undefined;
  let line = 1;
  try {
    if (jsonl) {
      const { createInterface } = await import('node:readline');
      b = new ReportBuilder(campaign);
      for await (const text of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
        if (text.trim()) b.add(JSON.parse(text) as ResultLike);
        line++;
      }
    } else {
      const input = createReadStream(file);
      const parser = input.pipe(parseCsv({ columns: (header: string[]) => ((b = new ReportBuilder(campaign, header)), header), bom: true }));
      input.on('error', (e) => parser.destroy(e));
      for await (const rec of parser as AsyncIterable<ResultLike>) {
        b!.add(rec);
        line++;
      }
    }
  } catch (e) {
    throw new DialerError('USAGE', `${file}: line ${line}: not a results file (${(e as Error).message.split('\n')[0]})`);
  }
  b ??= new ReportBuilder(campaign);
  for await (const d of o.dials ?? []) b.addDial(d);
  return b.finish({ pricePerMinute: o.pricePerMinute });
}
