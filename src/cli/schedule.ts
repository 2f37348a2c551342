import type { Command } from 'commander';
import { listSchedules, removeSchedule, syncSchedules, type ScheduleInfo } from '../campaign/schedule.js';
import type { Runtime } from '../runtime.js';

type WithRuntime = <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;

const out = (v: unknown, json?: boolean): void => void process.stdout.write((json ? JSON.stringify(v, null, 2) : String(v)) + '\n');

const line = (s: ScheduleInfo) =>
  `${s.campaign.padEnd(28)} ${(s.pattern ?? `every ${s.every} ms`).padEnd(18)} ${(s.timezone ?? 'local').padEnd(22)} next ${s.next ?? '-'}${s.file ? `  (${s.file})` : ''}`;

/** `dialer schedule sync|list|remove`: recurring (cron) campaigns. Runs are made by `dialer worker`. */
export function scheduleCommand(program: Command, withRuntime: WithRuntime): void {
  const schedule = program.command('schedule').description('recurring campaigns (schedule.cron): sync|list|remove; ticks are run by "dialer worker"');
  schedule
    .command('sync <folder>')
    .description('register, update and remove schedules to match the cron campaign files (*.yaml, *.yml, *.json) in a folder; each schedule keeps a copy of the campaign settings, so sync again after editing a file (the contacts CSV is read at each run)')
    .option('--json', 'JSON output')
    .action((folder: string, o: { json?: boolean }) =>
      withRuntime(async (rt) => {
        const r = await syncSchedules(rt, folder);
        if (r.errors.length) process.exitCode = 1;
        if (o.json) return out(r, true);
        out([
          ...r.upserted.map((s) => `scheduled ${line(s)}`),
          ...r.removed.map((id) => `removed   ${id}`),
          ...r.errors.map((e) => `error     ${e.error}`),
          `${r.upserted.length} scheduled, ${r.removed.length} removed, ${r.errors.length} with errors, ${r.ignored.length} not recurring`,
        ].join('\n'));
      }));
  schedule
    .command('list')
    .description('every schedule with its next run time')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) =>
      withRuntime(async (rt) => {
        const list = await listSchedules(rt);
        out(o.json ? list : list.map(line).join('\n') || 'no schedules', o.json);
      }));
  schedule
    .command('remove <campaign>')
    .description('stop a schedule (runs already made are not touched)')
    .option('--json', 'JSON output')
    .action((id: string, o: { json?: boolean }) =>
      withRuntime(async (rt) => {
        const removed = await removeSchedule(rt, id);
        if (!removed) process.exitCode = 1;
        out(o.json ? { campaign: id, removed } : removed ? `removed schedule ${id}` : `no schedule named ${id}`, o.json);
      }));
}
