import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { Queue, Worker, type Job } from 'bullmq';
import { DateTime } from 'luxon';
import { loadCampaignFile, type Campaign } from '../config/campaign.js';
import { describeError } from '../errors.js';
import type { LoadSummary } from '../loader/load.js';
import type { Runtime } from '../runtime.js';
import { ensureSmsActions } from './sms-actions.js';
import { runDeadline } from './deadline.js';

/**
 * Recurring campaigns (`schedule: {cron, timezone}`) run on BullMQ job
 * schedulers in one `schedules` queue (same key prefix as the dial queues).
 * Each scheduler's id is the campaign name; each tick is a job whose data is
 * the resolved campaign (as `schedule sync` read it), and a `ScheduleService`
 * in every `dialer worker` turns a tick into a new campaign run:
 * `<name>-<yyyymmddhhmm>` (stamp in the schedule's zone; with seconds when
 * the pattern has a seconds field), results `<results>-<stamp>.<ext>`. The
 * WorkerService then finds the new campaign and dials it like any other.
 *
 * The campaign's settings are frozen into the scheduler at `schedule sync`
 * time (so a tick works even if the file was moved or deleted): edit the file
 * and sync again to change them. Paths are resolved at sync time too (results
 * relative to the working directory of `sync`). The contacts CSV, on the
 * other hand, is read at each tick: each run dials the list as it is then.
 */

export const SCHEDULE_QUEUE = 'schedules';
const JOB_NAME = 'run';

export interface ScheduleJobData {
  /** The resolved campaign (file, contactsPath, resultsPath included). */
  campaign: Campaign;
}

type ScheduleRuntime = Runtime;
/** Loads one run's contacts: `Dialer.load`, passed in so this module needs no wiring of its own. */
export type LoadRun = (run: Campaign) => Promise<LoadSummary>;

export function scheduleQueue(rt: Pick<Runtime, 'redis' | 'store'>): Queue<ScheduleJobData> {
  return new Queue<ScheduleJobData>(SCHEDULE_QUEUE, { connection: rt.redis, prefix: rt.store.keys.prefix });
}

const cronOf = (c: Campaign) => (c.schedule && 'cron' in c.schedule ? c.schedule : undefined);

/** "yyyymmddhhmm" of `atMs` in `tz` (system zone when absent, as BullMQ's cron does); seconds appended when asked. */
export function runStamp(atMs: number, tz: string | undefined, withSeconds = false): string {
  const t = tz ? DateTime.fromMillis(atMs, { zone: tz }) : DateTime.fromMillis(atMs);
  return t.toFormat(withSeconds ? 'yyyyLLddHHmmss' : 'yyyyLLddHHmm');
}

/** The campaign of one tick: its own name (the run id) and results file. */
export function scheduledRun(c: Campaign, atMs: number): Campaign {
  const cron = cronOf(c);
  // A six-field pattern ticks within a minute: minute stamps would collide.
  const stamp = runStamp(atMs, cron?.timezone, (cron?.cron.trim().split(/\s+/).length ?? 5) >= 6);
  const base = c.name.slice(0, 63 - stamp.length - 1);
  const ext = path.extname(c.resultsPath);
  const results = path.join(path.dirname(c.resultsPath), `${path.basename(c.resultsPath, ext)}-${stamp}${ext}`);
  // A run keeps only the schedule's deadline (end_after counts from the run's start).
  return { ...c, name: `${base}-${stamp}`, resultsPath: results, schedule: runDeadline(c.schedule) };
}

/**
 * One tick: attach the SMS actions, load the run. Idempotent (a retried tick
 * has the same run name; a run already loaded is left alone).
 */
export async function runScheduledTick(rt: ScheduleRuntime, c: Campaign, atMs: number, loadRun: LoadRun): Promise<{ run: Campaign; load?: LoadSummary; actions: string[]; skipped?: string }> {
  const run = scheduledRun(c, atMs);
  const existing = await rt.store.getCampaign(run.name);
  if (existing && existing.state !== 'loading') return { run, actions: [] };
  // Runs of one schedule never overlap: while an earlier run is open, this tick is skipped.
  const claim = await rt.store.claimScheduleRun(c.name, run.name);
  if (!claim.claimed) {
    rt.log.warn({ campaign: c.name, run: run.name, open: claim.open }, 'scheduled tick skipped: the previous run is still open');
    await rt.store.appendAudit(c.name, { type: 'tick-skipped', at: new Date().toISOString(), run: run.name, open: claim.open });
    return { run, actions: [], skipped: claim.open };
  }
  const actions = await ensureSmsActions(rt, run);
  const load = await loadRun(run);
  rt.log.info({ campaign: c.name, run: run.name, results: run.resultsPath, rows: load.rows }, 'scheduled run loaded');
  return { run, load, actions };
}

/** When a tick was due: scheduler job ids end with the due time (`repeat:<id>:<ms>`). */
function dueAt(job: Job): number {
  const m = /:(\d+)$/.exec(job.id ?? '');
  return m ? Number(m[1]) : job.opts.prevMillis ?? job.timestamp;
}

/** Processes schedule ticks; run one in every `dialer worker` (BullMQ hands each tick to one of them). */
export class ScheduleService {
  private worker?: Worker<ScheduleJobData>;

  constructor(private readonly rt: ScheduleRuntime, private readonly opts: { load: LoadRun; onRun?: (run: Campaign) => void }) {}

  start(): void {
    if (this.worker) return;
    this.worker = new Worker<ScheduleJobData>(SCHEDULE_QUEUE, async (job) => {
      const r = await runScheduledTick(this.rt, job.data.campaign, dueAt(job), this.opts.load);
      if (r.load) this.opts.onRun?.(r.run);
      return r.run.name;
    }, { connection: this.rt.redis, prefix: this.rt.store.keys.prefix, concurrency: 1 });
    this.worker.on('failed', (job, err) => this.rt.log.error({ schedule: job?.data.campaign.name, err: describeError(err) }, 'scheduled run failed'));
    this.worker.on('error', (err) => this.rt.log.error({ err: describeError(err) }, 'schedule worker error'));
  }

  async close(force = false): Promise<void> {
    await this.worker?.close(force);
    this.worker = undefined;
  }
}

export interface ScheduleInfo {
  campaign: string;
  pattern?: string;
  every?: number;
  timezone?: string;
  /** Next tick (ISO), when known. */
  next?: string;
  file?: string;
  runs?: number;
}

export interface SyncReport {
  folder: string;
  /** Schedulers created or updated. */
  upserted: ScheduleInfo[];
  /** Schedulers removed: their file is gone (or no longer a cron campaign). */
  removed: string[];
  /** Files that failed validation; their schedulers (if any) are left as they were. */
  errors: { file: string; error: string }[];
  /** Valid campaign files without a cron schedule. */
  ignored: string[];
}

function info(id: string, s: { pattern?: string | null; every?: number | null; tz?: string | null; next?: number | null; iterationCount?: number | null; template?: { data?: ScheduleJobData } }): ScheduleInfo {
  return {
    campaign: id,
    pattern: s.pattern ?? undefined,
    every: s.every ?? undefined,
    timezone: s.tz ?? undefined,
    next: s.next ? new Date(Number(s.next)).toISOString() : undefined,
    file: s.template?.data?.campaign.file,
    runs: s.iterationCount ?? undefined,
  };
}

export async function listSchedules(rt: Pick<Runtime, 'redis' | 'store'>): Promise<ScheduleInfo[]> {
  const q = scheduleQueue(rt);
  try {
    const all = await q.getJobSchedulers(0, -1, true);
    return all.map((s) => info(s.key, s)).sort((a, b) => a.campaign.localeCompare(b.campaign));
  } finally {
    await q.close();
  }
}

export async function removeSchedule(rt: Pick<Runtime, 'redis' | 'store'>, campaign: string): Promise<boolean> {
  const q = scheduleQueue(rt);
  try {
    return await q.removeJobScheduler(campaign);
  } finally {
    await q.close();
  }
}

/**
 * Makes the schedulers match the cron campaign files (`*.yaml|*.yml|*.json`)
 * of `folder`: one per cron campaign, created or updated; schedulers that
 * came from this folder and whose file is gone (or no longer has a cron
 * schedule) are removed. A file that fails validation is reported and its
 * scheduler left alone; the other files proceed.
 */
export async function syncSchedules(rt: Pick<Runtime, 'redis' | 'store' | 'log'>, folder: string): Promise<SyncReport> {
  const dir = path.resolve(folder);
  const files = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isFile() && /\.(ya?ml|json)$/i.test(e.name))
    .map((e) => path.join(dir, e.name))
    .sort();
  const report: SyncReport = { folder: dir, upserted: [], removed: [], errors: [], ignored: [] };
  const names = new Map<string, string>();
  const q = scheduleQueue(rt);
  try {
    for (const file of files) {
      try {
        const c = await loadCampaignFile(file);
        const cron = cronOf(c);
        if (!cron) {
          report.ignored.push(file);
          continue;
        }
        const other = names.get(c.name);
        if (other) throw new Error(`${file}: campaign name "${c.name}" is also used by ${other}`);
        await q.upsertJobScheduler(c.name, { pattern: cron.cron, tz: cron.timezone }, {
          name: JOB_NAME,
          data: { campaign: c },
          opts: { attempts: 3, backoff: { type: 'exponential', delay: 5000 }, removeOnComplete: { count: 50 }, removeOnFail: { count: 200 } },
        });
        names.set(c.name, file);
        const s = await q.getJobScheduler(c.name);
        report.upserted.push(s ? info(c.name, s) : { campaign: c.name, pattern: cron.cron, timezone: cron.timezone, file });
      } catch (e) {
        // Validation errors name the file; BullMQ's cron parser doesn't.
        const error = describeError(e);
        report.errors.push({ file, error: error.includes(file) ? error : `${file}: schedule.cron: ${error}` });
      }
    }
    const failed = new Set(report.errors.map((e) => e.file));
    for (const s of await q.getJobSchedulers(0, -1, true)) {
      const file = s.template?.data?.campaign.file;
      if (!file || path.dirname(file) !== dir || names.has(s.key) || failed.has(file)) continue;
      if (await q.removeJobScheduler(s.key)) report.removed.push(s.key);
    }
  } finally {
    await q.close();
  }
  rt.log.info({ folder: dir, upserted: report.upserted.length, removed: report.removed.length, errors: report.errors.length }, 'schedules synced');
  return report;
}
