import type { Readable } from 'node:stream';
import type { Campaign } from '../config/campaign.js';
import { DialerError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RowRecord } from '../campaign/row.js';
import type { Store } from '../store/store.js';
import { dialJob, type DialQueues } from '../dialer/jobs.js';
import { openContacts, readContacts, type ContactVerdict } from './csv.js';

export interface LoadDeps {
  store: Store;
  queues: DialQueues;
  log: Logger;
  /** Business time (DIALER_NOW aware), for `schedule.start_at`. */
  now: () => number;
  /** Extra verdicts at load time (suppression, consent); return a final record to stop a row. */
  screen?: (c: Campaign, rec: RowRecord) => Promise<RowRecord>;
}

export interface LoadSummary {
  campaign: string;
  rows: number;
  accepted: number;
  rejected: number;
  duplicates: number;
  /** Rows stopped at load for another reason (suppressed, no consent). */
  screened: number;
  jobs: number;
}

const CHUNK = 1000;

/**
 * Streams a campaign's CSV into Redis: one row record per data row, the
 * number claimed in the dial ledger (a later row with the same number is a
 * duplicate), and a dial job per contact to call, in chunks with
 * deterministic ids so a second load adds nothing twice.
 *
 * A new campaign's queue stays paused while loading; if the file turns out to
 * be broken half-way, everything written is removed, so no half list is ever
 * dialed.
 */
export async function loadCampaign(deps: LoadDeps, c: Campaign, input?: Readable): Promise<LoadSummary> {
  const { store, queues, log } = deps;
  const existing = await store.getCampaign(c.name);
  if (existing?.state === 'canceled') {
    throw new DialerError('CAMPAIGN_INVALID', `campaign "${c.name}" was canceled; load the list under a new name`);
  }
  const fresh = !existing;
  const stream = input ?? (await openContacts(c.contactsPath));
  const queue = queues.get(c.name);
  if (fresh) await queue.pause();
  await store.saveCampaign(c, existing?.state === 'paused' ? 'paused' : 'loading');
  await queue.setGlobalConcurrency(c.concurrency);

  const startAt = c.schedule && 'start_at' in c.schedule ? Date.parse(c.schedule.start_at) : undefined;
  const sum: LoadSummary = { campaign: c.name, rows: 0, accepted: 0, rejected: 0, duplicates: 0, screened: 0, jobs: 0 };
  let chunk: ContactVerdict[] = [];

  const flush = async () => {
    const accepted = chunk.filter((v) => v.verdict === 'accepted');
    const owners = await store.claimNumbers(c.name, accepted.map((v) => [v.phone, v.row]), Date.now());
    const ownerOf = new Map(accepted.map((v, i) => [v.row, owners[i]!]));
    const recs: RowRecord[] = [];
    for (const v of chunk) {
      let rec: RowRecord = { row: v.row, name: v.name, phone: v.phone };
      if (v.verdict === 'accepted' && Object.keys(v.vars).length) rec.vars = v.vars;
      if (v.timezone !== undefined) rec.timezone = v.timezone;
      if (v.consent !== undefined) rec.consent = v.consent;
      const owner = ownerOf.get(v.row);
      if (v.verdict === 'rejected') {
        rec = { ...rec, outcome: 'rejected', error: v.reason };
        sum.rejected++;
      } else if (owner) {
        rec = { row: v.row, name: v.name, phone: v.phone, outcome: 'duplicate', error: `duplicate of row ${owner}` };
        sum.duplicates++;
      } else {
        if (deps.screen) rec = await deps.screen(c, rec);
        if (rec.outcome) sum.screened++;
        else sum.accepted++;
      }
      recs.push(rec);
    }
    const needsJob = await store.loadRows(c.name, recs);
    const delay = startAt ? startAt - deps.now() : undefined;
    const jobs = recs.filter((_, i) => needsJob[i]).map((r) => dialJob(c, r.row, undefined, delay));
    if (jobs.length) await queue.addBulk(jobs);
    sum.jobs += jobs.length;
    chunk = [];
  };

  try {
    for await (const v of readContacts(stream, c, { source: c.contactsPath })) {
      chunk.push(v);
      sum.rows++;
      if (chunk.length >= CHUNK) await flush();
    }
    await flush();
  } catch (e) {
    if (fresh) {
      await queue.obliterate({ force: true }).catch(() => undefined);
      await store.deleteCampaign(c.name);
      log.warn({ campaign: c.name }, 'load failed; nothing of it was kept');
    }
    throw e;
  }
  await store.finishLoading(c.name, sum.rows);
  if (fresh && (await store.getCampaign(c.name))?.state !== 'paused') await queue.resume();
  log.info({ ...sum }, 'campaign loaded');
  return sum;
}
