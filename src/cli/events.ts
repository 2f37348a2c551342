import type { Command } from 'commander';
import { listEventDeadLetters, retryEventDeadLetters } from '../events/dead-letters.js';
import type { Runtime } from '../runtime.js';

type WithRuntime = <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;

const out = (v: unknown, json?: boolean): void => void process.stdout.write((json ? JSON.stringify(v, null, 2) : String(v)) + '\n');

/** `dialer events list|retry`: outbound events that ran out of delivery attempts. */
export function eventsCommand(program: Command, withRuntime: WithRuntime): void {
  const events = program.command('events').description('outbound events dead letters: events whose delivery attempts ran out (list|retry)');
  events
    .command('list')
    .description('dead-lettered events: id, type, campaign, attempts, last error, when')
    .option('--campaign <name>', 'only this campaign')
    .option('--json', 'JSON output')
    .action((o: { campaign?: string; json?: boolean }) =>
      withRuntime(async (rt) => {
        const list = await listEventDeadLetters(rt, { campaign: o.campaign });
        if (o.json) return out(list, true);
        if (list.length === 0) return out(`no events dead letters${o.campaign ? ` in ${o.campaign}` : ''}`);
        out([`${'id'.padEnd(40)}  ${'type'.padEnd(18)}  att  ${'failed at'.padEnd(24)}  error`,
          ...list.map((d) => [d.id.padEnd(40), d.type.padEnd(18), String(d.attempts).padStart(3), (d.failed_at ?? '-').padEnd(24), d.error].join('  '))].join('\n'));
      }));
  events
    .command('retry')
    .description('send dead-lettered events back to the delivery queue with fresh attempts; a running worker delivers them')
    .option('--campaign <name>', 'only this campaign')
    .option('--json', 'JSON output')
    .action((o: { campaign?: string; json?: boolean }) =>
      withRuntime(async (rt) => {
        const r = await retryEventDeadLetters(rt, { campaign: o.campaign });
        out(o.json ? r : `${r.retried.length} events back in the delivery queue${r.retried.length ? ' — a running "dialer worker" delivers them' : ''}`, o.json);
      }));
}
