import { Option, type Command } from 'commander';
import { DialerError } from '../errors.js';
import { defaultAuditPath, writeAudit, type AuditFormat } from '../privacy/audit.js';
import { forgetNumber, type ForgetReport } from '../privacy/forget.js';
import { purgeExpired, type PurgeEntry } from '../privacy/retention.js';
import type { Runtime } from '../runtime.js';

type WithRuntime = <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;

const out = (s: string) => void process.stdout.write(s + '\n');

/** `forget`, `purge` and `audit`: erasure on request, retention, and the audit export. */
export function privacyCommands(program: Command, withRuntime: WithRuntime): void {
  program
    .command('forget <number>')
    .description('erase one person (by phone number, any format) from every campaign; the number is never dialed again (needs DIALER_HASH_KEY)')
    .option('--country <CC>', 'country for a number written without +country (default: each campaign\'s default_country)')
    .option('--no-verify', 'skip the final scan of every key for leftovers')
    .option('--json', 'JSON output')
    .action(async (number: string, o: { country?: string; verify: boolean; json?: boolean }) => {
      await withRuntime(async (rt) => {
        const r = await forgetNumber({ store: rt.store, log: rt.log, hashKey: rt.env.hashKey }, number, { country: o.country, verify: o.verify });
        out(o.json ? JSON.stringify(r, null, 2) : formatForget(r));
        if (r.leftovers.length) process.exitCode = 1;
      });
    });

  program
    .command('purge')
    .description('delete the personal data of finished campaigns past retention_days (or DIALER_RETENTION_DAYS); counts, row stubs and the audit record stay')
    .option('--dry-run', 'only say what would be purged')
    .option('--campaign <name...>', 'only these campaigns')
    .option('--json', 'JSON output')
    .action(async (o: { dryRun?: boolean; campaign?: string[]; json?: boolean }) => {
      await withRuntime(async (rt) => {
        const r = await purgeExpired({ store: rt.store, log: rt.log, queues: rt.queues }, { now: rt.clock.now(), defaultDays: rt.env.retentionDays, dryRun: o.dryRun, campaigns: o.campaign });
        out(o.json ? JSON.stringify(r, null, 2) : formatPurge(r));
      });
    });

  program
    .command('audit <campaign>')
    .description('export the audit record: one line per dial attempt with its final outcome')
    .addOption(new Option('--format <format>', 'output format').choices(['csv', 'jsonl']).default('csv'))
    .option('--out <path>', 'output path (default: <results dir>/<campaign>.audit.<format>; "-" for stdout)')
    .action(async (id: string, o: { format: AuditFormat; out?: string }) => {
      await withRuntime(async (rt) => {
        const info = await rt.store.getCampaign(id);
        if (!info) throw new DialerError('CAMPAIGN_NOT_FOUND', `no campaign named "${id}"`);
        const r = await writeAudit(rt.store, id, o.out ?? defaultAuditPath(info.campaign.resultsPath, id, o.format), o.format);
        if (r.file !== '-') out(`wrote ${r.records} audit records to ${r.file}`);
      });
    });
}

export function formatForget(r: ForgetReport): string {
  const lines = [`forgot ${r.numbers.join(', ')}${r.newlyErased ? '' : ' (already on the erased list)'}; it will not be dialed again`];
  if (r.campaigns.length === 0) lines.push('  no campaign held this number');
  for (const c of r.campaigns) {
    const parts = [`${c.rows} row(s) blanked`];
    if (c.stopped) parts.push(`${c.stopped} not yet dialed, now suppressed`);
    parts.push(`ledger entries ${c.ledger}`, `dead letters ${c.deadLetters}`);
    if (c.results.length) parts.push(`rewrote ${c.results.join(', ')}`);
    if (c.events) parts.push(`event deliveries blanked ${c.events}`);
    lines.push(`  ${c.campaign}: ${parts.join(', ')}`);
    if (c.deferred) lines.push(`    ${c.deferred} call(s) in flight: the number goes when they end (the worker finishes the erasure)`);
    if (c.callIds.length) lines.push(`    calls at Callease (transcripts/recordings are kept there): ${c.callIds.join(', ')}`);
  }
  lines.push(`  frequency keys ${r.frequencyKeys}, suppression entries ${r.suppressionEntries}`);
  for (const k of r.leftovers) lines.push(`  WARNING: still found in ${k}`);
  return lines.join('\n');
}

export function formatPurge(r: PurgeEntry[]): string {
  if (r.length === 0) return 'no campaigns';
  return r
    .map((e) => `${e.campaign.padEnd(24)} ${e.action.padEnd(11)} ${e.action === 'kept' ? e.reason : `${e.rows} rows; ${e.reason}`}`)
    .join('\n');
}
