import cliProgress from 'cli-progress';
import { loadCampaignFile, type Campaign } from '../config/campaign.js';
import { Dialer, type RunToEndResult } from '../dialer.js';
import type { ResultsFormat } from '../results/export.js';
import type { Runtime } from '../runtime.js';

export interface RunOptions {
  progress: boolean;
  format: ResultsFormat;
  /** Aborting stops the run gracefully (in-flight dials finish); the results so far are written. */
  signal?: AbortSignal;
}

export type RunResult = RunToEndResult & { campaign: Campaign };

/** `dialer run`: load, dial and poll one campaign in this process until every row is final. */
export async function runCampaign(rt: Runtime, file: string, opts: RunOptions): Promise<RunResult> {
  const c = await loadCampaignFile(file);
  const dialer = new Dialer(rt, { workerScanMs: 200, pollerTickMs: 100 });
  let bar: cliProgress.SingleBar | undefined;
  try {
    const r = await dialer.runToEnd(c, {
      format: opts.format,
      signal: opts.signal,
      onProgress: opts.progress ? ({ load, status, final }) => {
        if (!bar) {
          bar = new cliProgress.SingleBar({ format: `${c.name} [{bar}] {percentage}% | {value}/{total} rows | {dials}/min | ETA {eta_formatted}`, hideCursor: true }, cliProgress.Presets.shades_classic);
          bar.start(load.rows, 0, { dials: 0 });
        }
        bar.update(status.finished, { dials: status.dials_last_minute });
        if (final) {
          bar.stop();
          bar = undefined;
        }
      } : undefined,
    });
    return { campaign: c, ...r };
  } finally {
    bar?.stop();
    await dialer.close();
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
