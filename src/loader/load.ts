import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Readable } from 'node:stream';
import { syncQueue } from '../campaign/control.js';
import { syncDeadline } from '../campaign/deadline.js';
import { queuedLeaseMs } from '../campaign/queue-lease.js';
import { untilStartMs, type Campaign } from '../config/campaign.js';
import { DialerError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RowRecord } from '../campaign/row.js';
import type { Screen } from '../gate/types.js';
import type { Store } from '../store/store.js';
import { dialJob, type DialQueues } from '../dialer/jobs.js';
import { feedRows, feedWindow, queueDepth } from '../dialer/feeder.js';
import { openContacts, readContacts, type ContactVerdict } from './csv.js';
import { beginAppend, numberChunk, writeChunk } from './append.js';
import { assignAssistant } from '../campaign/assistant.js';
import { withTightHeap } from './heap.js';

export interface LoadDeps {
  store: Store;
  queues: DialQueues;
  log: Logger;
  /** Business time (DIALER_NOW aware), for `schedule.start_at`. */
  now: () => number;
  /** Extra verdicts at load time (suppression, consent); return a final record to stop a row. */
  screen?: Screen;
  /** A broken CSV keeps the whole chunks written before the error (the caller finishes the load). */
  keepOnCsvError?: boolean;
  /**
   * Reads the list of a campaign canceled while its load was broken off, so
   * its remaining rows are written (as `canceled`) and its total set.
   */
  completeCanceled?: boolean;
  /** Append this list after the campaign's rows (see append.ts) instead of loading its list. */
  append?: boolean;
  /** Most dial jobs of the first window (DIALER_FEED_WINDOW_MAX; dialer/feeder.ts). */
  feedWindowMax?: number;
}

export interface LoadSummary {
  campaign: string;
  rows: number;
  accepted: number;
  rejected: number;
  duplicates: number;
  /** Rows stopped at load for another reason (suppressed, no consent). */
  screened: number;
  /** Contacts this load queued for a dial job (the feeder adds the jobs a window at a time, dialer/feeder.ts). */
  jobs: number;
  /** Appends: the upload's number (1 = the first list) and how many of its rows were added or already in the campaign. */
  upload?: number;
  added?: number;
  already?: number;
}

const CHUNK = 1000;

/** A loader's lease on a campaign being loaded, renewed at every chunk. */
const LOAD_LEASE_MS = 15_000;

/**
 * Streams a campaign's CSV into Redis: one row record per data row and the
 * number claimed in the dial ledger (a later row with the same number is a
 * duplicate), in chunks, then the first window of dial jobs (the feeder,
 * dialer/feeder.ts; deterministic ids, so a second load adds nothing twice).
 *
 * A new campaign stays `loading` (nothing dials) until the whole file is in;
 * if the file turns out to be broken half-way, everything written is removed,
 * so no half list is ever dialed. A load that died half-way (its lease ran
 * out, or its process is gone) is taken over by the next load, which starts
 * that campaign afresh: nothing of it can have been dialed yet.
 * Loading again into a campaign that runs adds only rows it does not have.
 */
export async function loadCampaign(deps: LoadDeps, c: Campaign, input?: Readable): Promise<LoadSummary> {
  return withTightHeap(() => load(deps, c, input));
}

async function load(deps: LoadDeps, c: Campaign, input?: Readable): Promise<LoadSummary> {
  const { store, queues, log } = deps;
  const ctl = { store, queues };
  let existing = await store.getCampaign(c.name);
  // A list loaded again after appends could only collide with the appended rows' numbers: it is appended too (rows in add nothing).
  const reload = !deps.append && existing !== undefined && ['running', 'paused', 'done'].includes(existing.state) && (await store.append.uploads(c.name)) > 1;
  const append = deps.append || reload ? await beginAppend(store, c.name, existing, await loaderRunning(store, c.name)) : undefined;
  const completing = deps.completeCanceled === true && existing?.state === 'canceling' && existing.total === undefined;
  if (!append && !completing && (existing?.state === 'canceled' || existing?.state === 'canceling')) {
    throw new DialerError('CAMPAIGN_INVALID', `campaign "${c.name}" was canceled; load the list under a new name`);
  }
  const owner = `${os.hostname()}|${process.pid}|${randomUUID()}`;
  const fresh = !existing || existing.state === 'loading';
  if (existing?.state === 'loading') {
    const cur = await store.loadOwner(c.name);
    if (await loaderRunning(store, c.name)) {
      throw new DialerError('CAMPAIGN_INVALID', `campaign "${c.name}" is being loaded by another process (until ${new Date(cur.until!).toISOString()} at the latest); try again then`);
    }
    // An earlier load died half-way: nothing of it was dialed (a loading campaign never dials).
    await queues.get(c.name).obliterate({ force: true }).catch(() => undefined);
    await store.deleteCampaign(c.name);
    if (cur.owner) log.warn({ campaign: c.name }, 'an earlier load of this campaign broke off; loading it afresh');
    existing = undefined;
  }
  const stream = input ?? (await openContacts(c.contactsPath));
  const queue = queues.get(c.name);
  if (fresh) {
    await store.saveCampaign(c, 'loading');
    await syncQueue(ctl, c.name, 'loading');
  } else if (!deps.append) {
    await store.saveConfig(c);
  }
  // Before any row can be dialed: the deadline (schedule.end_at|end_after), if any.
  await syncDeadline(store, c, deps.now());
  if (completing) {
    if (await loaderRunning(store, c.name)) throw new DialerError('CAMPAIGN_INVALID', `campaign "${c.name}" is still being loaded by another process`);
    await store.dropLoadLease(c.name);
  }
  const renew = async () => {
    const l = await store.loadLease(c.name, owner, Date.now() + LOAD_LEASE_MS);
    if (!l.held) throw new DialerError('CAMPAIGN_INVALID', `campaign "${c.name}" was taken over by another load; this one stops`);
  };
  if (append) {
    const cur = await store.loadOwner(c.name);
    if (cur.owner && (cur.until ?? 0) > Date.now()) {
      if (ownerAlive(cur.owner)) throw new DialerError('CAMPAIGN_INVALID', `campaign "${c.name}" is being loaded by another process; append again once it has finished`);
      // The lease of an append whose process is gone (killed -9) runs on for up to LOAD_LEASE_MS; it is ended here
      // (only if that dead owner still holds it: loadLease renews its own lease only), so the file can be appended again at once.
      await store.loadLease(c.name, cur.owner, Date.now());
    }
  }
  if (fresh || completing || append) await renew();
  await queue.setGlobalConcurrency(c.concurrency);

  const sum: LoadSummary = { campaign: c.name, rows: 0, accepted: 0, rejected: 0, duplicates: 0, screened: 0, jobs: 0 };
  let reading: ContactVerdict[] = [];

  const flush = async (read: ContactVerdict[]) => {
    if (fresh || completing || append) await renew();
    let chunk = read;
    let keys: Map<number, string> | undefined;
    if (append) ({ kept: chunk, keys } = await numberChunk(store, c.name, append, chunk));
    const accepted = chunk.filter((v) => v.verdict === 'accepted');
    const owners = await store.claimNumbers(c.name, accepted.map((v) => [v.phone, v.row]), Date.now());
    const ownerOf = new Map(accepted.map((v, i) => [v.row, owners[i]!]));
    const delay = untilStartMs(c.schedule, deps.now());
    const recs: RowRecord[] = [];
    // The screen's Redis checks (suppression, erased) for the whole chunk in one round trip.
    await deps.screen?.prefetch?.(c, chunk.filter((v) => v.verdict !== 'rejected' && !ownerOf.get(v.row)).map((v) => ({ row: v.row, name: v.name, phone: v.phone })));
    for (const v of chunk) {
      let rec: RowRecord = { row: v.row, name: v.name, phone: v.phone };
      if (v.verdict === 'accepted' && Object.keys(v.vars).length) rec.vars = v.vars;
      if (v.timezone !== undefined) rec.timezone = v.timezone;
      if (v.consent !== undefined) rec.consent = v.consent;
      if (v.alts && v.verdict === 'accepted') rec.alts = v.alts;
      if (v.keep) rec.keep = v.keep;
      const owner = ownerOf.get(v.row);
      if (v.verdict === 'rejected') {
        rec = { ...rec, outcome: 'rejected', error: v.reason };
        sum.rejected++;
      } else if (owner) {
        rec = { row: v.row, name: v.name, phone: v.phone, ...(v.keep && { keep: v.keep }), outcome: 'duplicate', error: `duplicate of row ${owner}` };
        sum.duplicates++;
      } else {
        if (deps.screen) rec = await deps.screen(c, rec);
        if (rec.outcome) sum.screened++;
        else {
          sum.accepted++;
          const assistant = assignAssistant(c, v.phone, v.assistant);
          if (assistant) rec.assistant = assistant;
          rec.job = dialJob(c, v.row).opts.jobId;
        }
      }
      recs.push(rec);
    }
    // Rows above the feed cursor get no job here (the feeder's, below); a campaign loaded before the feeder
    // gets one per queued row, trusted until its rate reaches it (sum.jobs are queued ahead of this chunk).
    const needsJob = append ? await writeChunk(store, c.name, owner, append, store.leaseMs, recs, keys!) : await store.loadRows(c.name, recs, Math.max(0, delay ?? 0) + queuedLeaseMs(c, sum.jobs, store.leaseMs));
    // The first list's keys, so that appending it again adds nothing.
    if (!append) await store.append.resolveKeys(c.name, 0, chunk.filter((v) => v.key).map((v) => [v.key!, v.row]), true);
    const jobs = recs.filter((_, i) => needsJob[i] === 1).map((r) => dialJob(c, r.row, undefined, delay));
    if (jobs.length) await queue.addBulk(jobs);
    sum.jobs += needsJob.filter((x) => x > 0).length;
  };

  // A chunk is written while the next one is read and validated: the CSV and
  // phone work overlaps the Redis round trips instead of waiting for them.
  // Chunks are still written one at a time, in file order.
  let writing: Promise<void> = Promise.resolve();
  const submit = async (read: ContactVerdict[]) => {
    await writing;
    writing = flush(read);
    // Awaited at the next chunk, at the end or in the catch below; until then not "unhandled".
    writing.catch(() => undefined);
  };

  try {
    for await (const v of readContacts(stream, c, { source: c.contactsPath, rowKeys: true })) {
      reading.push(v);
      sum.rows++;
      if (reading.length >= CHUNK) {
        await submit(reading);
        reading = [];
      }
    }
    await submit(reading);
    await writing;
  } catch (e) {
    // Nothing of this load may be written after the clean-up below.
    await writing.catch(() => undefined);
    const keep = deps.keepOnCsvError && e instanceof DialerError && e.code === 'CSV_INVALID';
    if (fresh && !keep && !(e instanceof DialerError && /taken over/.test(e.message))) {
      await queue.obliterate({ force: true }).catch(() => undefined);
      await store.deleteCampaign(c.name);
      log.warn({ campaign: c.name }, 'load failed; nothing of it was kept');
    }
    // An append keeps the whole chunks it wrote (appending the file again adds only the rest).
    if (append) await store.loadLease(c.name, owner, Date.now()).catch(() => undefined);
    throw e;
  }
  if (append) Object.assign(sum, { upload: append.upload, added: append.added, already: append.already });
  // The first window of dial jobs (dialer/feeder.ts), so dialing starts at once; the workers keep it topped up.
  const depth = await queueDepth(ctl, c.name);
  await feedRows(ctl, c, feedWindow(c, deps.feedWindowMax) - depth, { ahead: depth, delayMs: untilStartMs(c.schedule, deps.now()) });
  // A re-load of a running campaign took no lease: an append's lease, if one runs meanwhile, stays its own.
  const state = await store.finishLoading(c.name, append ? append.offset + append.added : sum.rows, { keepLease: !(fresh || completing || append) });
  await syncQueue(ctl, c.name, state);
  log.info({ ...sum, state }, 'campaign loaded');
  return sum;
}

/** Whether a loader holds the campaign's load lease and its process may still be running. */
export async function loaderRunning(store: Store, id: string): Promise<boolean> {
  const cur = await store.loadOwner(id);
  return Boolean(cur.owner && (cur.until ?? 0) > Date.now() && ownerAlive(cur.owner));
}

/** Whether the process named in a loader id may still be running (certain only on this host). */
function ownerAlive(owner: string): boolean {
  const [host, pid] = owner.split('|');
  if (host !== os.hostname()) return true;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
