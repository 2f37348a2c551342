import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { DialerError, describeError } from '../errors.js';
import type { Dialer } from '../dialer.js';
import type { LoadSummary } from '../loader/load.js';
import type { Runtime } from '../runtime.js';
import { HttpError, csvErrorDetail } from './errors.js';
import { syncQueue } from '../campaign/control.js';
import type { Campaign } from '../config/campaign.js';

export interface UploadOptions {
  /** Name used in error messages ("contacts.csv: line 7: ..."). */
  source: string;
  /** On a broken file, keep (and dial) the rows loaded before the error instead of loading nothing. */
  keepPartial?: boolean;
  /** `?append=true`: add the list after the campaign's rows (loader/append.ts). */
  append?: boolean;
}

export type UploadResult = LoadSummary & {
  /** Set when `keepPartial` kept the rows before a file error. */
  partial?: { kept_rows: number; error: string; line?: number; reason: string };
};

/**
 * Streams an uploaded contact list into a campaign created by POST /campaigns.
 *
 * loadCampaign rolls back only a campaign it creates itself; this one already
 * exists (its config was posted first), so the service does the same around
 * it: the queue is paused while rows stream in, and on a broken file every row,
 * ledger claim and job is removed and the campaign is put back as it was,
 * ready for a corrected upload. Uploads of one campaign run one at a time, and
 * only into a campaign that has no contacts yet: row numbers restart at 1 in
 * every file, so a second list would collide with the first.
 */
export async function uploadContacts(dialer: Dialer, id: string, input: Readable, o: UploadOptions): Promise<UploadResult> {
  const { rt } = dialer;
  const { store, queues, log } = rt;
  const lock = randomUUID();
  if (!(await store.server.takeUploadLock(id, lock, 3_600_000))) {
    throw new HttpError(409, `an upload into campaign "${id}" is already in progress`);
  }
  try {
    const info = await store.getCampaign(id);
    if (!info) throw new DialerError('CAMPAIGN_NOT_FOUND', `no campaign named "${id}" (create it with POST /campaigns first)`);
    if (o.append) return await appendContacts(dialer, id, input, o, info.campaign);
    if (info.state === 'canceled') throw new HttpError(409, `campaign "${id}" was canceled; create a new campaign for this list`);
    const rows = await store.rowCount(id);
    // A campaign still `loading` holds only what an upload that broke off wrote: the load starts it afresh.
    if (info.state !== 'loading' && (info.total !== undefined || rows > 0)) {
      throw new HttpError(409, `campaign "${id}" already has ${info.total ?? rows} contacts; create a new campaign for another list`);
    }
    const c = { ...info.campaign, contactsPath: o.source };
    const queue = queues.get(id);
    try {
      return await dialer.load(c, input, { keepOnCsvError: o.keepPartial });
    } catch (e) {
      if (o.keepPartial && e instanceof DialerError && e.code === 'CSV_INVALID') return keep(rt, id, e);
      await queue.obliterate({ force: true }).catch((err: unknown) => log.warn({ campaign: id, err: describeError(err) }, 'could not empty the queue'));
      await store.deleteCampaign(id);
      await store.saveCampaign(info.campaign, info.state);
      await syncQueue(rt, id, info.state);
      log.warn({ campaign: id, err: describeError(e) }, 'upload failed; nothing of it was kept');
      throw e;
    }
  } finally {
    await store.server.releaseUploadLock(id, lock).catch(() => undefined);
  }
}

/**
 * `?append=true`: the list goes after the campaign's rows. Nothing is rolled
 * back on a broken file: the whole chunks written before it stay (and are
 * dialed), and appending the corrected file adds only the rows not in yet.
 * A campaign in a state that takes no append answers 409.
 */
async function appendContacts(dialer: Dialer, id: string, input: Readable, o: UploadOptions, campaign: Campaign): Promise<UploadResult> {
  try {
    return await dialer.load({ ...campaign, contactsPath: o.source }, input, { append: true });
  } catch (e) {
    if (e instanceof DialerError && e.code === 'CAMPAIGN_INVALID') throw new HttpError(409, e.message);
    throw e;
  }
}

/** The rows written before the error stay (whole chunks of them) and are dialed. */
async function keep(rt: Runtime, id: string, e: DialerError): Promise<UploadResult> {
  const { store } = rt;
  const kept = await store.rowCount(id);
  await syncQueue(rt, id, await store.finishLoading(id, kept));
  const counts = await store.counts(id);
  const detail = csvErrorDetail(e.message);
  rt.log.warn({ campaign: id, kept, err: e.message }, 'upload broke off; kept the rows before the error (partial=keep)');
  return {
    campaign: id,
    rows: kept,
    accepted: kept - (counts.finished ?? 0),
    rejected: counts.rejected ?? 0,
    duplicates: counts.duplicate ?? 0,
    screened: (counts.suppressed ?? 0) + (counts['no-consent'] ?? 0),
    jobs: kept - (counts.finished ?? 0),
    partial: { kept_rows: kept, error: e.message, line: detail.line, reason: detail.reason },
  };
}
