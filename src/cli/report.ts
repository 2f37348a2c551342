import path from 'node:path';
import type { Command } from 'commander';
import { DialerError } from '../errors.js';
import { campaignReport, fileReport } from '../report/build.js';
import type { CampaignReport } from '../report/figures.js';
import { renderReportHtml } from '../report/html.js';
import { writePrivateFile } from '../results/private-file.js';
import type { Runtime } from '../runtime.js';

type WithRuntime = <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;

function price(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new DialerError('USAGE', `--price-per-minute: expected a number ≥ 0, got "${v}"`);
  return n;
}

/** `dialer report <campaign>`: the report as one HTML file, or its figures as JSON. */
export function reportCommand(program: Command, withRuntime: WithRuntime): void {
  program
    .command('report <campaign>')
    .description('campaign report: pickup rates, durations, attempts, dead letters, rejects, cost (HTML with inline charts, or --json)')
    .option('--out <path>', 'output file (default: <results folder>/<campaign>-report.html; with --json: stdout; "-" for stdout)')
    .option('--json', 'the figures as JSON')
    .option('--price-per-minute <n>', 'price of a call minute, for the cost estimate when the calls carry no cost (default: the campaign\'s price_per_minute)', price)
    .option('--results <file>', 'compute from this results file (CSV or JSONL) instead of the campaign in Redis')
    .action(async (id: string, o: { out?: string; json?: boolean; pricePerMinute?: number; results?: string }) => {
      let defaultDir = 'results';
      const report: CampaignReport = o.results
        ? await fileReport(o.results, id, { pricePerMinute: o.pricePerMinute })
        : await withRuntime(async (rt) => {
            const info = await rt.store.getCampaign(id);
            if (info) defaultDir = path.dirname(info.campaign.resultsPath);
            return campaignReport(rt, id, { pricePerMinute: o.pricePerMinute });
          });
      const body = o.json ? JSON.stringify(report, null, 2) + '\n' : renderReportHtml(report, new Date().toISOString());
      const out = o.out ?? (o.json ? '-' : path.join(defaultDir, `${id}-report.html`));
      if (out === '-') {
        process.stdout.write(body);
        return;
      }
      await writePrivateFile(out, (async function* () { yield body; })());
      process.stdout.write(`wrote the report of ${id} (${report.rows} rows) to ${out}\n`);
    });
}
