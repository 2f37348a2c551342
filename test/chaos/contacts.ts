/** The chaos campaign's contact list: mostly valid numbers, a few bad rows and duplicates. */

export interface InputRow {
  /** 1 = first data row. */
  row: number;
  name: string;
  phone: string;
  /** What loading must make of it. */
  expect: 'accepted' | 'rejected' | 'duplicate';
  /** For a duplicate: the row that owns the number. */
  ownerRow?: number;
}

/** A valid Australian mobile number in E.164, distinct for each i < 1e6. */
export const mobile = (i: number): string => `+61412${String(i).padStart(6, '0')}`;

/**
 * Every 97th row has an impossible number (rejected at load) and every 89th
 * repeats the number of an earlier accepted row (a duplicate), so the checks
 * cover rows that must never be dialed as well as rows that must be, once.
 */
export function makeContacts(n: number): { csv: string; rows: InputRow[] } {
  const rows: InputRow[] = [];
  const accepted: InputRow[] = [];
  for (let i = 1; i <= n; i++) {
    const name = `Contact ${i}`;
    if (i % 97 === 0) {
      rows.push({ row: i, name, phone: '12345', expect: 'rejected' });
    } else if (i % 89 === 0 && accepted.length > 5) {
      const owner = accepted[(i * 7) % accepted.length]!;
      rows.push({ row: i, name, phone: owner.phone, expect: 'duplicate', ownerRow: owner.row });
    } else {
      const r: InputRow = { row: i, name, phone: mobile(i), expect: 'accepted' };
      rows.push(r);
      accepted.push(r);
    }
  }
  const lines = ['name,phone,city', ...rows.map((r) => `${r.name},${r.phone},City ${r.row % 13}`)];
  return { csv: lines.join('\n') + '\n', rows };
}
