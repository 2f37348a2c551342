import type { Queue } from 'bullmq';
import type { Campaign } from '../config/campaign.js';
import type { EventsTarget } from '../config/events.js';
import type { RowRecord } from '../campaign/row.js';
import type { OutboxEntry } from '../store/events.js';
import type { Store } from '../store/store.js';
import { eventJob, type EventJobData } from './queue.js';
import type { DialerEvent, EventType } from './types.js';

export interface RelayDeps {
  store: Store;
  queue: Queue<EventJobData>;
  /** Delivery attempts of each new job. */
  attempts: number;
}

interface CampaignView {
  target?: EventsTarget;
  campaign?: Campaign;
}

/** Pass-through columns a row keeps (`id_column`, `keep_columns`): header spelling → value. */
function kept(rec: RowRecord | undefined): Record<string, string> | undefined {
  return (rec as { keep?: Record<string, string> } | undefined)?.keep;
}

/** The value of the campaign's `id_column` for this row, if the campaign has that key and the row a value. */
export function contactId(c: Campaign | undefined, rec: RowRecord | undefined): string | undefined {
  const col = (c as { id_column?: string } | undefined)?.id_column;
  if (!col || !rec) return undefined;
  const v = kept(rec)?.[col] ?? rec.vars?.[col];
  return v === undefined || v === '' ? undefined : v;
}

/** The row fields a campaign listed: results columns, kept columns or sent variables; absent → null. */
export function pickFields(rec: RowRecord | undefined, fields: string[]): Record<string, unknown> {
  const r = (rec ?? {}) as unknown as Record<string, unknown>;
  return Object.fromEntries(fields.map((f) => [f, r[f] ?? kept(rec)?.[f] ?? rec?.vars?.[f] ?? null]));
}

/** The body a receiver gets for one outbox entry. */
export function buildEvent(e: OutboxEntry, view: CampaignView, rec: RowRecord | undefined, counts: Record<string, number> | undefined): DialerEvent {
  const f = e.fields;
  const base = { id: f.id!, type: f.type as EventType, created: new Date(e.at).toISOString(), campaign: f.campaign! };
  if (f.type === 'contact.finished') {
    const data: Record<string, unknown> = { row: Number(f.row), outcome: f.outcome, call_id: f.call_id || null, attempts: Number(f.attempts ?? 0) };
    const id = contactId(view.campaign, rec);
    if (id !== undefined) data.contact_id = id;
    if (view.target?.fields.length) data.fields = pickFields(rec, view.target.fields);
    return { ...base, data };
  }
  const { finished = 0, ...rest } = counts ?? {};
  return { ...base, data: { state: f.state, previous_state: f.from, finished, outcomes: rest } };
}

/**
 * Moves the oldest outbox entries into the delivery queue: one job per event,
 * named by its id, then the entries leave the outbox. Entries of a campaign
 * without a target, or of a type it did not ask for, are dropped. Several
 * relays may run at once (one per worker process): they add the same job ids.
 * Returns how many entries were handled.
 */
export async function relayOnce(deps: RelayDeps, batch = 200): Promise<number> {
  const { store } = deps;
  const entries = await store.events.readOutbox(batch);
  if (entries.length === 0) return 0;
  const views = new Map<string, CampaignView>();
  const counts = new Map<string, Record<string, number>>();
  for (const id of new Set(entries.map((e) => e.fields.campaign ?? ''))) {
    const info = id ? await store.getCampaign(id) : undefined;
    views.set(id, { target: info ? await store.events.target(id) : undefined, campaign: info?.campaign });
    if (entries.some((e) => e.fields.campaign === id && e.fields.type !== 'contact.finished')) counts.set(id, await store.counts(id));
  }
  const wanted = entries.filter((e) => views.get(e.fields.campaign ?? '')?.target?.types.includes(e.fields.type as EventType));
  const rows = new Map<string, RowRecord | undefined>();
  for (const id of new Set(wanted.filter((e) => e.fields.type === 'contact.finished').map((e) => e.fields.campaign!))) {
    const nums = wanted.filter((e) => e.fields.campaign === id && e.fields.type === 'contact.finished').map((e) => Number(e.fields.row));
    const recs = await store.getRows(id, nums);
    nums.forEach((n, i) => rows.set(`${id}|${n}`, recs[i]));
  }
  const jobs = wanted.map((e) => {
    const view = views.get(e.fields.campaign!)!;
    const event = buildEvent(e, view, rows.get(`${e.fields.campaign}|${e.fields.row}`), counts.get(e.fields.campaign!));
    return eventJob({ event, url: view.target!.url }, deps.attempts);
  });
  if (jobs.length) await deps.queue.addBulk(jobs);
  await store.events.relayed(entries, wanted.map((e) => ({ id: e.fields.id!, at: e.at })));
  return entries.length;
}
