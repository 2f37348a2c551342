import { dialJob } from '../dialer/jobs.js';
import { DialerError } from '../errors.js';
import { maskPhone } from '../log.js';
import type { Runtime } from '../runtime.js';
import type { CampaignInfo } from '../store/store.js';

type DlqRuntime = Pick<Runtime, 'store' | 'queues' | 'log'>;

/** One dead-lettered row as `dlq list` shows it. The number is masked: this output ends up in tickets. */
export interface DeadLetter {
  row: number;
  phone: string;
  reason: string;
  http_status: number | null;
  attempts: number | null;
  /** When it was dead-lettered (ISO). */
  at: string;
  /** Already sent back once by `dlq retry`: it won't be again. */
  retried: boolean;
}

export interface RetryReport {
  campaign: string;
  /** Rows sent back to the queue. */
  retried: number[];
  skipped: { row: number; why: string }[];
}

async function requireCampaign(rt: Pick<Runtime, 'store'>, id: string): Promise<CampaignInfo> {
  const info = await rt.store.getCampaign(id);
  if (!info) throw new DialerError('CAMPAIGN_NOT_FOUND', `no campaign named "${id}"`);
  return info;
}

/** Dead letters of a campaign, oldest first. */
export async function listDeadLetters(rt: Pick<Runtime, 'store'>, id: string): Promise<DeadLetter[]> {
  await requireCampaign(rt, id);
  const entries = await rt.store.deadLetters.list(id);
  const recs = await rt.store.getRows(id, entries.map((e) => e.row));
  return entries.map(({ row, at }, i) => {
    const r = recs[i];
    return {
      row,
      phone: r ? maskPhone(r.phone) : '',
      reason: r?.error ?? '',
      http_status: r?.http_status ?? null,
      attempts: r?.attempts ?? null,
      at: new Date(at).toISOString(),
      retried: Boolean(r?.dlq_retried),
    };
  });
}

/**
 * Sends dead letters back to the dial queue, each at most once in its life
 * (`dlq_retried` on the row). Only rows whose error contains `reason`
 * (case-insensitive) when given, and only the listed `rows` when given. A row goes back only if its number's ledger
 * entry says no call can exist (`failed`, or `pending` when the job died
 * before sending): a number that is sending, placed or ambiguous is never
 * dialed again from here.
 *
 * Per row: reopen (atomic: only a row still `dead-letter`; takes it off the
 * dead-letter set and a `done` campaign back to `running`), mark it retried,
 * ledger `failed` → `pending`, then a new dial job `<campaign>-<row>-dlq1`.
 * A crash between the reopen and the job leaves the row open without a job;
 * `dialer status` shows it pending and `cancel` can still end it.
 */
export async function retryDeadLetters(rt: DlqRuntime, id: string, opts: { reason?: string; rows?: number[] } = {}): Promise<RetryReport> {
  const info = await requireCampaign(rt, id);
  if (info.state === 'canceled' || info.state === 'canceling') throw new DialerError('USAGE', `campaign "${id}" was canceled; its dead letters can't be retried`);
  const { store } = rt;
  const c = info.campaign;
  const queue = rt.queues.get(id);
  const needle = opts.reason?.toLowerCase();
  const report: RetryReport = { campaign: id, retried: [], skipped: [] };
  const only = opts.rows ? new Set(opts.rows) : undefined;
  const rows = (await store.deadLetters.list(id)).map((e) => e.row).filter((r) => !only || only.has(r));
  const recs = await store.getRows(id, rows);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const rec = recs[i];
    const skip = (why: string) => void report.skipped.push({ row, why });
    if (!rec || rec.outcome !== 'dead-letter') {
      skip('no longer a dead letter');
      continue;
    }
    if (needle !== undefined && !(rec.error ?? '').toLowerCase().includes(needle)) continue;
    if (rec.dlq_retried) {
      skip('already retried once');
      continue;
    }
    const entry = await store.ledgerGet(id, rec.phone);
    if (!entry || (entry.s !== 'failed' && entry.s !== 'pending')) {
      skip(`the number may have been called (ledger ${entry?.s ?? 'missing'})`);
      continue;
    }
    const job = dialJob(c, row, 'dlq1');
    if (!(await store.reopenRow(id, row, 'dead-letter', job.opts.jobId!))) {
      skip('no longer a dead letter');
      continue;
    }
    await store.updateRow(id, row, { status: 'queued' });
    if (entry.s === 'failed' && !(await store.ledgerMove(id, rec.phone, ['failed'], { s: 'pending', t: Date.now() }))) {
      // The entry changed under us: it may be sending now. Put the row back as it was.
      const now = await store.ledgerGet(id, rec.phone);
      if (now?.s !== 'pending') {
        await store.updateRow(id, row, { status: null }, 'dead-letter');
        skip(`the number may have been called (ledger ${now?.s ?? 'missing'})`);
        continue;
      }
    }
    await queue.add(job.name, job.data, job.opts);
    await store.appendAudit(id, { type: 'dlq-retry', row, at: new Date().toISOString(), error: rec.error });
    report.retried.push(row);
  }
  rt.log.info({ campaign: id, retried: report.retried.length, skipped: report.skipped.length }, 'dead letters sent back to the queue');
  return report;
}

/** Empties the dead-letter set of one campaign (or of all); rows keep their `dead-letter` outcome. */
export async function purgeDeadLetters(rt: Pick<Runtime, 'store'>, id?: string): Promise<{ campaigns: string[]; purged: number }> {
  const { store } = rt;
  if (id) await requireCampaign(rt, id);
  const ids = id ? [id] : await store.listCampaigns();
  let purged = 0;
  const touched: string[] = [];
  for (const c of ids) {
    const n = await store.deadLetters.clear(c);
    if (n > 0) touched.push(c);
    purged += n;
  }
  return { campaigns: touched, purged };
}
