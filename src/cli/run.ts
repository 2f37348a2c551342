import cliProgress from 'cli-progress';
import { campaignStatus, type CampaignStatus } from '../campaign/status.js';
import { loadCampaignFile, type Campaign } from '../config/campaign.js';
import { WorkerService } from '../dialer/service.js';
import { loadCampaign, type LoadSummary } from '../loader/load.js';
import { Poller } from '../poller/poller.js';
import { writeResults, type ResultsFormat } from '../results/export.js';
import { detachSmsActions, ensureSmsActions } from '../campaign/sms-actions.js';
import type { Runtime } from '../runtime.js';
import { sleep } from '../util.js';
import { createDialGate, createLoadScreen } from '../gate/index.js';

export interface RunOptions {
  progress: boolean;
  format: ResultsFormat;
  /** Aborting stops the run gracefully (in-flight dials finish); the results so far are written. */
  signal?: AbortSignal;
}

export interface RunResult {
  campaign: Campaign;
  load: LoadSummary;
  status: CampaignStatus;
  results: { rows: number; file: string };
  interrupted: boolean;
}

/** `dialer run`: load, dial and poll one campaign in this process until every row is final. */
export async function runCampaign(rt: Runtime, file: string, opts: RunOptions): Promise<RunResult> {
  const c = await loadCampaignFile(file);
  const api = rt.api();
  const workers = new WorkerService(rt, { campaigns: [c.name], scanMs: 200, gate: createDialGate(rt) });
  const poller = new Poller({ store: rt.store, api, log: rt.log, queues: rt.queues, lockMs: rt.env.lockMs, tickMs: 100 });
  let bar: cliProgress.SingleBar | undefined;
  try {
    await ensureSmsActions(rt, c);
    const load = await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => rt.clock.now(), screen: createLoadScreen(rt) }, c);
    workers.start();
    poller.start();
    if (opts.progress) {
      bar = new cliProgress.SingleBar({ format: `${c.name} [{bar}] {percentage}% | {value}/{total} rows | {dials}/min | ETA {eta_formatted}`, hideCursor: true }, cliProgress.Presets.shades_classic);
      bar.start(load.rows, 0, { dials: 0 });
    }
    let status = await campaignStatus(rt.store, rt.queues, c.name);
    while (status.state !== 'done' && !(status.state === 'canceled' && status.pending === 0) && !opts.signal?.aborted) {
      bar?.update(status.finished, { dials: status.dials_last_minute });
      await sleep(250, opts.signal).catch(() => undefined);
      status = await campaignStatus(rt.store, rt.queues, c.name);
    }
    bar?.update(status.finished, { dials: status.dials_last_minute });
    bar?.stop();
    bar = undefined;
    await Promise.all([workers.close(), poller.close()]);
    const results = await writeResults(rt.store, c.name, c.resultsPath, opts.format);
    if (c.detach_actions_on_finish && !opts.signal?.aborted) await detachSmsActions(rt, c.name);
    return { campaign: c, load, status: await campaignStatus(rt.store, rt.queues, c.name), results, interrupted: Boolean(opts.signal?.aborted) };
  } finally {
    bar?.stop();
    await Promise.all([workers.close(), poller.close()]);
  }
}

/** Human summary printed at the end of `run` and `demo`. */
export function formatSummary(r: RunResult): string {
  const s = r.status;
  const counts = Object.entries(s.outcomes).filter(([, n]) => n > 0).map(([o, n]) => `${o} ${n}`).join(', ');
  return [
    `${r.interrupted ? 'stopped' : 'finished'} campaign ${r.campaign.name}: ${s.total} rows, ${s.finished} final${s.pending ? `, ${s.pending} still pending` : ''}`,
    `  loaded: ${r.load.accepted} to dial, ${r.load.rejected} rejected, ${r.load.duplicates} duplicates${r.load.screened ? `, ${r.load.screened} stopped at load` : ''}`,
    `  outcomes: ${counts || 'none yet'}`,
    `  results: ${r.results.file} (${r.results.rows} rows)`,
  ].join('\n');
}
