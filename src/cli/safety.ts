import type { Command } from 'commander';
import type { WriteStream } from 'node:fs';
import type { CountryCode } from 'libphonenumber-js/max';
import { DialerError } from '../errors.js';
import { maskPhone } from '../log.js';
import { normalizePhone } from '../phone/normalize.js';
import type { Runtime } from '../runtime.js';
import { open } from 'node:fs/promises';
import { importSuppression, problemText, type ImportProblem } from '../gate/suppression-import.js';
import { windowsReport, type WindowsReport } from '../safety/report.js';
import { addManyToSuppression, listSuppression, removeFromSuppression } from '../gate/suppression.js';

type WithRuntime = <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;

function print(v: unknown, json: boolean): void {
  process.stdout.write(json ? JSON.stringify(v, null, 2) + '\n' : String(v) + '\n');
}

function country(v: string): string {
  const c = v.trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(c)) throw new DialerError('USAGE', `--country must be a two-letter country code such as AU, got "${v}"`);
  return c;
}

/** Every argument as E.164, or a usage error naming the ones that are not numbers (nothing is changed then). */
function parseNumbers(args: string[], cc?: string): string[] {
  const bad: string[] = [];
  const out: string[] = [];
  for (const a of args) {
    const r = normalizePhone(a, cc as CountryCode | undefined);
    if (r.ok) out.push(r.e164);
    else bad.push(`"${a}" (${r.reason})`);
  }
  if (bad.length) throw new DialerError('USAGE', `not phone numbers: ${bad.join(', ')}${cc ? '' : '; numbers without +country need --country'}`);
  return [...new Set(out)];
}

/** Bad lines printed on stderr by `suppress import`; the rest are counted (and all go to --rejects). */
const WARN_LINES = 20;

const csvCell = (v: string): string => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** The --rejects file (mode 0600: it holds what people wrote), or a clear error before anything is imported. */
async function openRejects(file: string): Promise<WriteStream> {
  try {
    return (await open(file, 'w', 0o600)).createWriteStream();
  } catch (e) {
    throw new DialerError('USAGE', `--rejects ${file}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** `dialer suppress add|remove|import|list` and `dialer windows`. */
export function safetyCommands(program: Command, withRuntime: WithRuntime): void {
  const suppress = program.command('suppress').description('the global suppression list: numbers no campaign may call');

  suppress
    .command('add <numbers...>')
    .description('add numbers (any format; --country for those without +country)')
    .option('--country <cc>', 'country of numbers written without +country', country)
    .option('--json', 'JSON output')
    .action(async (args: string[], o: { country?: string; json?: boolean }) => {
      const nums = parseNumbers(args, o.country);
      await withRuntime(async (rt) => {
        const added = await addManyToSuppression(rt.store, nums);
        print(o.json ? { added, already: nums.length - added } : `added ${added} number(s) to the suppression list${nums.length - added ? ` (${nums.length - added} already on it)` : ''}`, Boolean(o.json));
      });
    });

  suppress
    .command('remove <numbers...>')
    .description('take numbers off the global suppression list')
    .option('--country <cc>', 'country of numbers written without +country', country)
    .option('--json', 'JSON output')
    .action(async (args: string[], o: { country?: string; json?: boolean }) => {
      const nums = parseNumbers(args, o.country);
      await withRuntime(async (rt) => {
        const removed = await removeFromSuppression(rt.store, nums);
        print(o.json ? { removed, not_listed: nums.length - removed } : `removed ${removed} number(s)${nums.length - removed ? ` (${nums.length - removed} were not on the list)` : ''}`, Boolean(o.json));
      });
    });

  suppress
    .command('import <csv-file>')
    .description('add every number of a CSV (streamed; any size): the first column that holds phone numbers, or --column; bad lines are reported (file:line) and skipped')
    .option('--column <name>', 'header of the column with the numbers')
    .option('--country <cc>', 'country of numbers written without +country', country)
    .option('--rejects <file>', 'write every line that is no phone number (line, column, value, reason) to this CSV')
    .option('--json', 'JSON output')
    .action(async (file: string, o: { column?: string; country?: string; rejects?: string; json?: boolean }) => {
      await withRuntime(async (rt) => {
        const sink = o.rejects ? await openRejects(o.rejects) : undefined;
        sink?.write('line,column,value,reason\n');
        let warned = 0;
        const onProblem = (p: ImportProblem) => {
          sink?.write(`${p.line},${csvCell(p.column)},${csvCell(p.value)},${csvCell(p.reason)}\n`);
          if (!o.json && warned++ < WARN_LINES) process.stderr.write(`warning: ${problemText(p)}; skipped\n`);
        };
        try {
          const r = await importSuppression(rt.store, file, { column: o.column, country: o.country, onProblem });
          const more = r.invalid > WARN_LINES && !o.json ? `\n  (${r.invalid - WARN_LINES} more bad line(s) not shown${o.rejects ? `; all in ${o.rejects}` : '; --rejects <file> lists every one'})` : '';
          const json = { ...r, invalid_lines: r.invalid_lines.map((p) => ({ ...p, value: maskPhone(p.value) })) };
          print(o.json ? json : `imported ${r.numbers} number(s) from ${file} (column ${JSON.stringify(r.column)}): ${r.added} new, ${r.already} already listed, ${r.invalid} not phone numbers, in ${r.seconds.toFixed(1)} s${more}`, Boolean(o.json));
        } finally {
          if (sink) await new Promise<void>((resolve) => sink.end(() => resolve()));
        }
      });
    });

  suppress
    .command('list')
    .description('the global suppression list (masked unless --full)')
    .option('--full', 'show whole numbers')
    .option('--json', 'JSON output')
    .action(async (o: { full?: boolean; json?: boolean }) => {
      await withRuntime(async (rt) => {
        const nums = (await listSuppression(rt.store)).map((n) => (o.full ? n : maskPhone(n)));
        print(o.json ? { count: nums.length, masked: !o.full, numbers: nums } : nums.length ? nums.join('\n') : 'the suppression list is empty', Boolean(o.json));
      });
    });

  program
    .command('windows <campaign>')
    .description('for a sample of contacts (loaded campaign id, or a campaign file): zones, whether calling is allowed now, when next, the rule')
    .option('--at <iso-time>', 'check at this time instead of now (DIALER_NOW aware)')
    .option('--sample <n>', 'how many contacts', (v) => Number(v), 10)
    .option('--json', 'JSON output')
    .action(async (target: string, o: { at?: string; sample: number; json?: boolean }) => {
      if (!Number.isInteger(o.sample) || o.sample < 1) throw new DialerError('USAGE', '--sample must be a positive whole number');
      await withRuntime(async (rt) => {
        const r = await windowsReport(rt, target, { at: o.at, sample: o.sample });
        print(o.json ? r : formatWindows(r), Boolean(o.json));
      });
    });
}

function formatWindows(r: WindowsReport): string {
  const hours = r.calling_hours ? JSON.stringify(r.calling_hours) : 'none';
  const lines = [
    `campaign ${r.campaign} at ${r.at}: calling_hours ${hours}, frequency_cap ${r.frequency_cap}/24h`,
    `  ${r.open_now} of ${r.sampled} sampled contacts may be called now${r.total !== undefined ? ` (${r.total} rows)` : ''}`,
  ];
  for (const x of r.contacts) {
    const when = x.open ? `open${x.closes_at ? ` until ${x.closes_at}` : ''}` : x.next_opening ? `closed, next ${x.next_opening}` : 'closed, no opening within 30 days';
    const extra = [x.outcome && `outcome ${x.outcome}`, x.calls_24h ? `${x.calls_24h} call(s) in 24h` : ''].filter(Boolean).join(', ');
    lines.push(`  row ${String(x.row).padStart(6)} ${x.number.padEnd(14)} ${x.timezone}`);
    lines.push(`         ${when}; ${x.rule}${x.local_time ? `; local ${x.local_time}` : ''}${extra ? `; ${extra}` : ''}`);
  }
  return lines.join('\n');
}
