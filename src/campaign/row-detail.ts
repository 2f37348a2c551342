import { DialerError } from '../errors.js';
import { maskPhone } from '../log.js';
import type { Store } from '../store/store.js';
import { rowView, type RowView } from './rows-page.js';

/** Audit entries read at most to find one row's events (newest first). */
export const AUDIT_BUDGET = 200_000;

export interface RowDetail extends RowView {
  status: string | null;
  started_at: string | null;
  summary: string | null;
  transcript: string | null;
  recording_url: string | null;
  timezone: string | null;
  consent: string | null;
  http_status: number | null;
  next_at: string | null;
  /** The dial ledger's view of the number: state, POSTs started, calls placed and their ids. */
  ledger: { state: string; attempts: number; calls: number; call_ids: string[] } | null;
  /** The row's audit events (dial attempts, outcomes, retries), oldest first; numbers in them are masked. */
  audit: Record<string, string>[];
  /** False when the audit record was longer than the part read (AUDIT_BUDGET): older events may be missing. */
  audit_complete: boolean;
}

/** One row of a campaign for the page's call detail; undefined when the campaign has no such row. */
export async function rowDetail(store: Store, id: string, row: number): Promise<RowDetail | undefined> {
  if (!(await store.getCampaign(id))) throw new DialerError('CAMPAIGN_NOT_FOUND', `no campaign named "${id}"`);
  const rec = await store.getRow(id, row);
  if (!rec) return undefined;
  const entry = rec.phone.startsWith('+') ? await store.ledgerGet(id, rec.phone) : undefined;
  const mine = entry && entry.r === row ? entry : undefined;
  const audit = await store.rowPages.auditOfRow(id, row, AUDIT_BUDGET);
  return {
    ...rowView(row, rec),
    status: rec.status ?? null,
    started_at: rec.started_at ?? null,
    summary: rec.summary ?? null,
    transcript: rec.transcript ?? null,
    recording_url: rec.recording_url ?? null,
    timezone: rec.timezone ?? null,
    consent: rec.consent ?? null,
    http_status: rec.http_status ?? null,
    next_at: rec.next_at ?? null,
    ledger: mine ? { state: mine.s, attempts: mine.a, calls: mine.n ?? (mine.id ? 1 : 0), call_ids: mine.ids ?? (mine.id ? [mine.id] : []) } : null,
    audit: audit.events.map((e) => (e.number ? { ...e, number: e.number.includes('•') ? e.number : maskPhone(e.number) } : e)),
    audit_complete: audit.complete,
  };
}
