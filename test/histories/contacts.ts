/** The contact list of a history: derived from its size alone, so a shrunk history keeps the rows it names. */
import { mobile } from '../chaos/contacts.js';
import type { HistoryConfig } from './generator.js';

export interface HistoryRow {
  /** 1 = first data row. */
  row: number;
  phone: string;
  /** What loading must make of it. */
  expect: 'accepted' | 'rejected' | 'duplicate' | 'suppressed';
  /** A row of an appended list: its content id (append-checks.ts). */
  appended?: string;
  /** For an appended duplicate: the row that owns its number. */
  ownerRow?: number;
}

export interface HistoryContacts {
  csv: string;
  rows: HistoryRow[];
  /** The campaign's suppression file (E.164, one per line after the header). */
  suppression: string[];
}

/**
 * Every 13th row has an impossible number, every 11th repeats the number of
 * the row before it, and the first `suppressed` rows numbered 2 mod 5 (that
 * are neither) are on the campaign's suppression list.
 */
export function historyContacts(cfg: Pick<HistoryConfig, 'contacts' | 'outcomeColumn' | 'suppressed'>): HistoryContacts {
  const rows: HistoryRow[] = [];
  const suppression: string[] = [];
  for (let i = 1; i <= cfg.contacts; i++) {
    if (i % 13 === 0) rows.push({ row: i, phone: '12345', expect: 'rejected' });
    else if (i % 11 === 0) rows.push({ row: i, phone: rows[i - 2]!.phone, expect: 'duplicate' });
    else if (i % 5 === 2 && suppression.length < cfg.suppressed) {
      suppression.push(mobile(i));
      rows.push({ row: i, phone: mobile(i), expect: 'suppressed' });
    } else rows.push({ row: i, phone: mobile(i), expect: 'accepted' });
  }
  const header = ['name', 'phone', 'city', ...(cfg.outcomeColumn ? ['outcome'] : [])];
  const line = (r: HistoryRow) => [`Contact ${r.row}`, r.phone, `City ${r.row % 7}`, ...(cfg.outcomeColumn ? [r.row % 2 ? 'lead' : 'customer'] : [])].join(',');
  return { csv: [header.join(','), ...rows.map(line)].join('\n') + '\n', rows, suppression };
}
