import type { Command } from 'commander';
import { DialerError } from '../errors.js';
import type { Runtime } from '../runtime.js';

type WithRuntime = <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;

/**
 * `dialer archive <campaign>`: packs a finished campaign now (store/archive.ts);
 * `--warm` brings it back. Reads (status, export, report, the campaign page)
 * work the same on an archived campaign; a write (redial, re-load, DLQ retry,
 * erasure, purge) brings it back by itself.
 */
export function archiveCommand(program: Command, withRuntime: WithRuntime): void {
  program
    .command('archive <campaign>')
    .description('pack a finished campaign\'s rows, ledger and audit into compressed blocks (about a tenth of the memory); --warm unpacks it')
    .option('--warm', 'bring the rows back into Redis hashes instead')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: { warm?: boolean; json?: boolean }) => {
      await withRuntime(async (rt) => {
        const info = await rt.store.getCampaign(id);
        if (!info) throw new DialerError('CAMPAIGN_NOT_FOUND', `no campaign named "${id}"`);
        if (o.warm) {
          const blocks = await rt.store.archive.warm(id);
          process.stdout.write(o.json ? JSON.stringify({ campaign: id, warmed: blocks }) + '\n' : `${id}: ${blocks} blocks brought back\n`);
          return;
        }
        const r = await rt.store.archive.archive(id);
        if (o.json) process.stdout.write(JSON.stringify({ campaign: id, ...r }) + '\n');
        else if (r.result === 'archived') process.stdout.write(`${id}: archived ${r.rows} rows, ${r.ledger} ledger entries, ${r.rowKeys} row keys, ${r.audit} audit events in ${r.blocks} blocks (${r.bytes} bytes)\n`);
        if (r.result !== 'archived') throw new DialerError('USAGE', `${id} was not archived: ${r.reason}${r.blocks ? ` (${r.blocks} blocks written before that stay archived)` : ''}`);
      });
    });
}
