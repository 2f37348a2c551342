import { writePrivateFile } from '../results/private-file.js';
import path from 'node:path';
import { csvLine } from '../results/csv-safe.js';
import type { Store } from '../store/store.js';

/** Columns of `dialer audit`, in file order. */
export const AUDIT_COLUMNS = [
  'campaign', 'row', 'masked_number', 'at_utc', 'local_time', 'timezone', 'rule', 'consent',
  'attempt', 'http_status', 'call_id', 'result', 'final_outcome',
] as const;
export type AuditRecord = Record<(typeof AUDIT_COLUMNS)[number], string>;

const CHUNK = 1000;

/** Stream ids are "<ms>-<seq>"; compared as numbers. */
function idLess(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am < bm || (am === bm && as < bs);
}

/**
 * One record per dial attempt (a `dial` event: one per POST /calls the
 * worker sent), in the order they happened, with the row's final outcome
 * joined in: the first `outcome` event of that row after the attempt (a
 * dead-lettered row retried later has one per round). Empty while the row is
 * still open. Two passes over the stream, both ending at the entry the first
 * pass saw last, so a live campaign gives a consistent snapshot; memory holds
 * only the outcome events.
 */
export async function* auditRecords(store: Store, id: string): AsyncGenerator<AuditRecord> {
  const outcomes = new Map<number, [string, string][]>();
  let last = '';
  for await (const [eid, ev] of store.privacy.auditEntries(id)) {
    last = eid;
    if (ev.type !== 'outcome' || !ev.outcome) continue;
    const row = Number(ev.row);
    const list = outcomes.get(row);
    if (list) list.push([eid, ev.outcome]);
    else outcomes.set(row, [[eid, ev.outcome]]);
  }
  if (!last) return;
  for await (const [eid, ev] of store.privacy.auditEntries(id, last)) {
    if (ev.type !== 'dial') continue;
    const final = outcomes.get(Number(ev.row))?.find(([oid]) => idLess(eid, oid));
    yield {
      campaign: id, row: ev.row ?? '', masked_number: ev.number ?? '', at_utc: ev.at ?? '', local_time: ev.local_time ?? '',
      timezone: ev.timezone ?? '', rule: ev.rule ?? '', consent: ev.consent ?? '', attempt: ev.attempt ?? '',
      http_status: ev.http_status ?? '', call_id: ev.call_id ?? '', result: ev.result ?? '', final_outcome: final?.[1] ?? '',
    };
  }
}

export type AuditFormat = 'csv' | 'jsonl';

/** Default path: next to the results file, `<campaign>.audit.<format>`. */
export function defaultAuditPath(resultsPath: string, id: string, format: AuditFormat): string {
  return path.join(path.dirname(resultsPath), `${id}.audit.${format}`);
}

/** Writes the audit export atomically (temp file + rename), mode 0600; `-` writes to stdout. */
export async function writeAudit(store: Store, id: string, file: string, format: AuditFormat = 'csv'): Promise<{ records: number; file: string }> {
  const line = (r: AuditRecord) => (format === 'csv' ? csvLine(AUDIT_COLUMNS.map((c) => r[c])) : JSON.stringify(r) + '\n');
  const header = format === 'csv' ? csvLine(AUDIT_COLUMNS) : '';
  let records = 0;
  if (file === '-') {
    process.stdout.write(header);
    for await (const r of auditRecords(store, id)) {
      process.stdout.write(line(r));
      records++;
    }
    return { records, file };
  }
  async function* lines(): AsyncGenerator<string> {
    yield header;
    for await (const r of auditRecords(store, id)) {
      records++;
      yield line(r);
    }
  }
  await writePrivateFile(file, lines(), CHUNK);
  return { records, file };
}
