import type { CampaignInfo, Store } from '../store/store.js';
import type { RowRecord } from '../campaign/row.js';
import { DialerError } from '../errors.js';
import type { ContactVerdict } from './csv.js';

/**
 * An upload appended to a campaign that has its list already
 * (`dialer load --append`, `POST /campaigns/:name/contacts?append=true`).
 *
 * - Allowed while the campaign is running, paused or done (done runs again
 *   when rows to dial come in); refused while it is canceled or canceling, and
 *   while its first load is still under way or broke off (append once it is in).
 * - One loader at a time: the append holds the campaign's load lease (the same
 *   one a first load holds, so the takeover logic of load.ts never sees an
 *   append as a broken-off load: the campaign is not `loading`), and every
 *   chunk it writes is fenced by that lease.
 * - New rows are numbered after the rows there; `total` grows with every
 *   chunk, so the results cover every row written even if the loader dies.
 * - Idempotent: a row whose key (id_column value, else content hash) is
 *   already in the campaign from an earlier upload adds nothing, so the same
 *   file appended twice, or again after a broken-off append, adds each row once.
 */
export interface Append {
  upload: number;
  /** Rows in the campaign before this upload. */
  offset: number;
  added: number;
  already: number;
}

export async function beginAppend(store: Store, id: string, existing: CampaignInfo | undefined, running: boolean): Promise<Append> {
  if (!existing) throw new DialerError('CAMPAIGN_NOT_FOUND', `no campaign named "${id}" to append to; load its first list without --append`);
  if (existing.state === 'canceled' || existing.state === 'canceling') {
    throw new DialerError('CAMPAIGN_INVALID', `campaign "${id}" was canceled; contacts cannot be appended to it (load them under a new name)`);
  }
  if (existing.state === 'loading') {
    throw new DialerError(
      'CAMPAIGN_INVALID',
      running
        ? `campaign "${id}" is still loading its first list; append once that load has finished`
        : `the first load of campaign "${id}" broke off; load it again (it starts afresh) before appending`,
    );
  }
  const offset = Math.max(existing.total ?? 0, await store.rowCount(id));
  return { upload: (await store.append.uploads(id)) + 1, offset, added: 0, already: 0 };
}

/** Drops the rows already in the campaign and numbers the rest after it; returns each kept row's key by row. */
export async function numberChunk(store: Store, id: string, a: Append, chunk: ContactVerdict[]): Promise<{ kept: ContactVerdict[]; keys: Map<number, string> }> {
  const resolved = await store.append.resolveKeys(id, a.offset, chunk.map((v) => [v.key!, v.row]), false);
  const kept: ContactVerdict[] = [];
  const keys = new Map<number, string>();
  chunk.forEach((v, i) => {
    const key = resolved[i]!;
    if (key === '') {
      a.already++;
      return;
    }
    v.row = a.offset + a.added + 1;
    a.added++;
    keys.set(v.row, key);
    kept.push(v);
  });
  return { kept, keys };
}

/** Writes an appended chunk under the lease; per record as Store.loadRows: 1 its dial job is added now, 2 the feeder adds it, 0 none. */
export async function writeChunk(store: Store, id: string, owner: string, a: Append, leaseMs: number, recs: RowRecord[], keys: Map<number, string>): Promise<number[]> {
  const r = await store.append.appendRows(id, owner, a.upload, leaseMs, recs.map((rec) => [keys.get(rec.row)!, { ...rec, upload: a.upload }]));
  if (!r) throw new DialerError('CAMPAIGN_INVALID', `campaign "${id}" was taken over by another load; this append stops (append the file again: rows already in add nothing)`);
  if (r.includes(-2)) throw new DialerError('CAMPAIGN_INVALID', `campaign "${id}": another load wrote rows meanwhile; append the file again (rows already in add nothing)`);
  return r;
}
