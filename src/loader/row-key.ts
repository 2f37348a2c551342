import { createHash } from 'node:crypto';
import { headerKey, type ColumnPlan } from './header.js';

/**
 * A row's identity across uploads, so appending the same list twice adds
 * nothing: the row's `id_column` value when the campaign has one (and the
 * cell is not empty), else a hash of its content — every named, non-empty
 * cell with its column name, in column-name order, so the same person
 * exported with the columns in another order, or with an extra empty
 * column, is still the same row. 96 bits of SHA-1: collisions are not a
 * concern at list sizes, and the key holds no readable personal data.
 */
export function rowKeyer(plan: Pick<ColumnPlan, 'names'>, idColumn?: string): (fields: string[]) => string {
  const named = plan.names.flatMap((n, i) => (n === '' ? [] : [{ k: headerKey(n), i }])).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  const id = idColumn === undefined ? undefined : named.find((n) => n.k === headerKey(idColumn))?.i;
  return (fields) => {
    if (id !== undefined) {
      const v = (fields[id] ?? '').trim();
      if (v !== '') return `id:${v}`;
    }
    const h = createHash('sha1');
    for (const { k, i } of named) {
      const v = (fields[i] ?? '').trim();
      if (v !== '') h.update(`${k}\u0000${v}\u0001`);
    }
    return `h:${h.digest('base64url').slice(0, 16)}`;
  };
}
