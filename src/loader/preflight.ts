import type { Readable } from 'node:stream';
import type { RowRecord } from '../campaign/row.js';
import type { Campaign } from '../config/campaign.js';
import { createCheckScreen, rowZones } from '../gate/index.js';
import type { Store } from '../store/store.js';
import { checkWindow } from '../windows/index.js';
import { openContacts, readContacts } from './csv.js';
import { drainEstimate, type DrainEstimate } from './drain-estimate.js';
import { NumberRows } from './number-set.js';

export interface PreflightDeps {
  /** Read only: the erased and suppression sets. */
  store: Store;
  /** DIALER_HASH_KEY, to recognise erased numbers. */
  hashKey?: string;
  /** Business time (DIALER_NOW aware): windows are judged at this moment. */
  now: () => number;
  /** CALLEASE_MAX_CALLS_PER_SECOND, the account-wide cap. */
  accountCallsPerSecond?: number;
  /** CALLEASE_MAX_LIVE_CALLS, the account-wide live-call cap. */
  accountLiveCalls?: number;
}

export interface PreflightOptions {
  /** Average call length for the drain estimate (seconds). @defaultValue 60 */
  avgCallSeconds?: number;
  /** Every rejected row, in file order (the `--rejects` file). */
  onReject?: (r: RejectedRow) => void | Promise<void>;
  /** How many rejected rows the report itself lists. @defaultValue 20 */
  listRejects?: number;
}

export interface RejectedRow {
  row: number;
  line: number;
  /** The raw phone cell (E.164 when the number itself was fine). */
  phone: string;
  /** The id_column value, when the campaign has one: joins the row back to its source. */
  id?: string;
  reason: string;
}

export interface ZoneMix {
  /** Zone label as the results' `timezone` column writes it. */
  zone: string;
  /** State or province when the number tells it (state rules can differ). */
  subdivision?: string;
  rows: number;
  open_now: boolean;
  /** ISO: when the window opens next (now, when open); null when not within 30 days. */
  next_open: string | null;
  /** The rule that decided. */
  rule: string;
}

export interface PreflightReport {
  campaign: string;
  file: string;
  /** When the windows were judged (ISO). */
  at: string;
  rows: number;
  /** Rows that would get a dial job. */
  dialable: number;
  rejected: number;
  duplicates: number;
  suppressed: number;
  no_consent: number;
  /** The first `listRejects` rejected rows. */
  rejects: RejectedRow[];
  /** The first few duplicate rows and the row they repeat. */
  duplicate_rows: Array<{ row: number; line: number; of_row: number }>;
  zones: ZoneMix[];
  drain: DrainEstimate;
}

const LIST_DUPLICATES = 20;

/**
 * What loading this list would do, without loading it: the loader's own
 * reader and validation, duplicates found in memory (a compact table of
 * numbers instead of the ledger), and the load screen's verdicts read from
 * Redis without writing anything (no row, claim, job or campaign key).
 * Streams the file; memory grows only by the number table (about 24 bytes
 * per distinct number) and a handful of counters per zone.
 */
export async function preflight(deps: PreflightDeps, c: Campaign, input?: Readable, o: PreflightOptions = {}): Promise<PreflightReport> {
  const screen = createCheckScreen(deps.store, deps.hashKey, deps.now);
  const at = new Date(deps.now());
  const listRejects = o.listRejects ?? 20;
  const report: PreflightReport = {
    campaign: c.name, file: c.contactsPath, at: at.toISOString(), rows: 0, dialable: 0, rejected: 0, duplicates: 0, suppressed: 0, no_consent: 0,
    rejects: [], duplicate_rows: [], zones: [], drain: drainEstimate(c, 0, o.avgCallSeconds, deps.accountCallsPerSecond, deps.accountLiveCalls),
  };
  const seen = new NumberRows();
  const zones = new Map<string, ZoneMix>();
  const reject = async (r: RejectedRow) => {
    report.rejected++;
    if (report.rejects.length < listRejects) report.rejects.push(r);
    await o.onReject?.(r);
  };
  const stream = input ?? (await openContacts(c.contactsPath));
  for await (const v of readContacts(stream, c, { source: c.contactsPath })) {
    report.rows++;
    const id = c.id_column !== undefined ? v.keep?.[c.id_column] : undefined;
    if (v.verdict === 'rejected') {
      await reject({ row: v.row, line: v.line, phone: v.phone, id, reason: v.reason ?? 'rejected' });
      continue;
    }
    const first = seen.claim(v.phone, v.row);
    if (first !== undefined) {
      report.duplicates++;
      if (report.duplicate_rows.length < LIST_DUPLICATES) report.duplicate_rows.push({ row: v.row, line: v.line, of_row: first });
      continue;
    }
    const rec: RowRecord = { row: v.row, name: v.name, phone: v.phone };
    if (v.timezone !== undefined) rec.timezone = v.timezone;
    if (v.consent !== undefined) rec.consent = v.consent;
    const out = await screen(c, rec);
    if (out.outcome === 'suppressed') report.suppressed++;
    else if (out.outcome === 'no-consent') report.no_consent++;
    else if (out.outcome === 'rejected') await reject({ row: v.row, line: v.line, phone: v.phone, id, reason: out.error ?? 'rejected' });
    else {
      report.dialable++;
      tally(zones, c, out, at);
    }
  }
  report.zones = [...zones.values()].sort((a, b) => b.rows - a.rows || a.zone.localeCompare(b.zone));
  report.drain = drainEstimate(c, report.dialable, o.avgCallSeconds, deps.accountCallsPerSecond, deps.accountLiveCalls);
  return report;
}

/** Counts a dialable row under its zone (and state); the window is judged once per group. */
function tally(zones: Map<string, ZoneMix>, c: Campaign, rec: RowRecord, at: Date): void {
  const info = rowZones(c, rec);
  const label = rec.timezone ?? '';
  const key = `${label}|${info.subdivision ?? ''}`;
  const z = zones.get(key);
  if (z) {
    z.rows++;
    return;
  }
  const w = checkWindow(c.calling_hours, info, at);
  const next = w.open ? at : w.nextOpen;
  zones.set(key, {
    zone: label, ...(info.subdivision && { subdivision: info.subdivision }), rows: 1,
    open_now: w.open, next_open: next ? next.toISOString() : null, rule: w.rule,
  });
}
