import type { Command } from 'commander';
import { listDeadLetters, purgeDeadLetters, retryDeadLetters } from '../campaign/dlq.js';
import type { Runtime } from '../runtime.js';

type WithRuntime = <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;

const out = (v: unknown, json?: boolean): void => void process.stdout.write((json ? JSON.stringify(v, null, 2) : String(v)) + '\n');

/** `dialer dlq list|retry|purge`: the dead letters of a campaign. */
export function dlqCommand(program: Command, withRuntime: WithRuntime): void {
  const dlq = program.command('dlq').description('dead letters: rows that could not be dialed (list|retry|purge)');
  dlq
    .command('list <campaign>')
    .description('dead-lettered rows: row, masked number, reason, HTTP status, attempts, when')
    .option('--json', 'JSON output')
    .action((id: string, o: { json?: boolean }) =>
      withRuntime(async (rt) => {
        const list = await listDeadLetters(rt, id);
        if (o.json) return out(list, true);
        if (list.length === 0) return out(`no dead letters in ${id}`);
        const lines = list.map((d) =>
          [String(d.row).padStart(6), d.phone.padEnd(16), String(d.http_status ?? '-').padEnd(4), String(d.attempts ?? '-').padStart(3), d.at, d.retried ? 'retried' : '', d.reason].join('  '));
        out([`   row  ${'number'.padEnd(16)}  http  att  ${'when'.padEnd(24)}  reason`, ...lines].join('\n'));
      }));
  dlq
    .command('retry <campaign>')
    .description('send dead letters back to the queue, each at most once; a worker dials them')
    .option('--reason <text>', 'only rows whose error contains this text (case-insensitive)')
    .option('--json', 'JSON output')
    .action((id: string, o: { reason?: string; json?: boolean }) =>
      withRuntime(async (rt) => {
        const r = await retryDeadLetters(rt, id, { reason: o.reason });
        if (o.json) return out(r, true);
        const skipped = r.skipped.length ? `; skipped ${r.skipped.length} (${[...new Set(r.skipped.map((s) => s.why))].join('; ')})` : '';
        out(`${id}: ${r.retried.length} dead letters back in the queue${skipped}${r.retried.length ? ' — a running "dialer worker" dials them' : ''}`);
      }));
  dlq
    .command('purge [campaign]')
    .description('forget dead letters (of one campaign, or all); the rows keep their dead-letter outcome')
    .option('--json', 'JSON output')
    .action((id: string | undefined, o: { json?: boolean }) =>
      withRuntime(async (rt) => {
        const r = await purgeDeadLetters(rt, id);
        out(o.json ? r : `purged ${r.purged} dead letters${r.campaigns.length ? ` (${r.campaigns.join(', ')})` : ''}`, o.json);
      }));
}
