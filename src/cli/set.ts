import type { Command } from 'commander';
import { changeSettings, type SettingsChangeResult } from '../campaign/settings.js';
import { parseAssignment, SettingsError, type Assignment, type SettingIssue } from '../config/settings-patch.js';
import type { Runtime } from '../runtime.js';

type WithRuntime = <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;

const show = (v: unknown): string => (v === undefined ? '(default)' : JSON.stringify(v));

/** "rate.calls: 20 → 2" per change, then the version. */
export function formatSettingsChange(r: SettingsChangeResult): string {
  if (r.changes.length === 0) return `${r.campaign}: nothing to change (the settings already have these values; version ${r.version})`;
  return [
    `${r.campaign}: settings version ${r.version}; running workers and pollers follow within 2 s`,
    ...r.changes.map((c) => `  ${c.key}: ${show(c.old)} → ${show(c.new)}`),
    ...(r.woken ? [`  ${r.woken} contacts waiting for their calling window are checked again under the new hours`] : []),
  ].join('\n');
}

/** Every KEY=VALUE parsed; all malformed ones reported together. */
function parseAll(args: string[]): Assignment[] {
  const issues: SettingIssue[] = [];
  const out: Assignment[] = [];
  for (const a of args) {
    try {
      out.push(parseAssignment(a));
    } catch (e) {
      if (!(e instanceof SettingsError)) throw e;
      issues.push(...e.issues);
    }
  }
  if (issues.length) throw new SettingsError(issues);
  return out;
}

/** `dialer set <campaign> KEY=VALUE...`: change a campaign's settings while it runs. */
export function setCommand(program: Command, withRuntime: WithRuntime): void {
  program
    .command('set <campaign> <key=value...>')
    .description('change settings of a campaign while it runs (e.g. rate.calls=5 calling_hours.end=19:00 redial.max=3); values are YAML, KEY=null goes back to the default; validated like the campaign file')
    .option('--json', 'JSON output: {campaign, version, changes: [{key, old, new}], settings, woken}')
    .action((id: string, args: string[], o: { json?: boolean }) => {
      const assignments = parseAll(args);
      return withRuntime(async (rt) => {
        const r = await changeSettings(rt, id, assignments, 'cli');
        process.stdout.write((o.json ? JSON.stringify(r, null, 2) : formatSettingsChange(r)) + '\n');
      });
    });
}
