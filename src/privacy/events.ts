import type { RowRecord } from '../campaign/row.js';
import type { Campaign } from '../config/campaign.js';
import { contactId, pickFields } from '../events/relay.js';
import type { Store } from '../store/store.js';

/**
 * After rows were erased: the event deliveries Redis still holds for them
 * (queued, retrying, dead-lettered, or delivered within the last hour) are
 * rebuilt from the erased rows, so their `fields` and `contact_id` no longer
 * carry the person. The event itself stays: the receiver still learns that
 * row N ended and how. Returns how many deliveries changed.
 */
export async function blankEvents(store: Store, c: Campaign, rows: number[]): Promise<number> {
  if (rows.length === 0) return 0;
  const recs = await store.getRows(c.name, rows);
  const recOf = new Map<string, RowRecord | undefined>();
  rows.forEach((row, i) => {
    for (const id of [`evt_${c.name}_${row}_finished`, `evt_${c.name}_${row}_finished_2`]) recOf.set(id, recs[i]);
  });
  return store.events.rewriteDeliveries([...recOf.keys()], (job, id) => {
    const rec = recOf.get(id);
    const data: Record<string, unknown> = { ...job.event.data };
    const cid = contactId(c, rec);
    if (cid === undefined) delete data.contact_id;
    else data.contact_id = cid;
    if (data.fields && typeof data.fields === 'object') data.fields = pickFields(rec, Object.keys(data.fields));
    return { ...job, event: { ...job.event, data } };
  });
}
