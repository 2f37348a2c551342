import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { loadCampaignFile } from '../config/campaign.js';
import { DialerError } from '../errors.js';
import { preflight, type PreflightReport, type RejectedRow } from '../loader/preflight.js';
import { csvLine } from '../results/csv-safe.js';
import type { Runtime } from '../runtime.js';

type WithRuntime = <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;

/** `dialer check <campaign-file>`: what a load would do, writing nothing to Redis. */
export function checkCommand(program: Command, withRuntime: WithRuntime): void {
  program
    .command('check <campaign-file>')
    .description('preflight: validate the list as a load would (verdicts, rejects, duplicates, suppressed, no consent, zones, time to drain) without loading it; exit 1 when nothing is dialable')
    .option('--rejects <file>', 'write every rejected row (row, line, phone, reason) to this CSV')
    .option('--json', 'print the report as JSON')
    .option('--avg-call-seconds <n>', 'average call length for the drain estimate', (v) => positive('--avg-call-seconds', v), 60)
    .action(async (file: string, o: { rejects?: string; json?: boolean; avgCallSeconds: number }) => {
      const c = await loadCampaignFile(file);
      const report = await withRuntime(async (rt) => {
        const sink = o.rejects ? await RejectsFile.open(o.rejects, c.id_column !== undefined) : undefined;
        try {
          const r = await preflight(
            { store: rt.store, hashKey: rt.env.hashKey, now: () => rt.clock.now(), accountCallsPerSecond: rt.env.maxCallsPerSecond, accountLiveCalls: rt.env.maxLiveCalls },
            c,
            undefined,
            { avgCallSeconds: o.avgCallSeconds, onReject: sink && ((row) => sink.write(row)) },
          );
          await sink?.close();
          return r;
        } catch (e) {
          await sink?.abort();
          throw e;
        }
      });
      process.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report, o.rejects) + '\n');
      if (report.dialable === 0) process.exitCode = 1;
    });
}

function positive(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new DialerError('USAGE', `${flag} must be a positive number of seconds, got "${v}"`);
  return n;
}

/**
 * The rejects CSV, written row by row as the check streams (mode 0600: it
 * holds phone numbers), through a temporary file renamed into place.
 */
class RejectsFile {
  private buf: string[] = [];
  private constructor(private readonly fh: FileHandle, private readonly tmp: string, private readonly file: string, private readonly withId: boolean) {}

  static async open(file: string, withId: boolean): Promise<RejectsFile> {
    const abs = path.resolve(file);
    await mkdir(path.dirname(abs), { recursive: true, mode: 0o700 });
    const tmp = `${abs}.tmp-${process.pid}-${Date.now()}`;
    const sink = new RejectsFile(await open(tmp, 'w', 0o600), tmp, abs, withId);
    sink.buf.push(csvLine(['row', 'line', ...(withId ? ['id'] : []), 'phone', 'reason']));
    return sink;
  }

  async write(r: RejectedRow): Promise<void> {
    this.buf.push(csvLine([r.row, r.line, ...(this.withId ? [r.id ?? ''] : []), r.phone, r.reason]));
    if (this.buf.length >= 1000) await this.flush();
  }

  private async flush(): Promise<void> {
    const text = this.buf.join('');
    this.buf = [];
    await this.fh.write(text);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.fh.close();
    await rename(this.tmp, this.file);
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await rm(this.tmp, { force: true });
  }
}

/** "1h 2m", "3m 20s", "45s". */
export function formatSeconds(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d > 0 ? `${d}d ${h}h ${m}m` : `${h}h ${m}m`;
}

export function formatReport(r: PreflightReport, rejectsFile?: string): string {
  const n = (v: number) => String(v).padStart(9);
  const lines = [
    `check ${r.campaign}: ${r.rows} rows in ${r.file} (windows judged at ${r.at})`,
    `  dialable  ${n(r.dialable)}`,
    `  rejected  ${n(r.rejected)}${rejectsFile ? `  (all in ${rejectsFile})` : r.rejected > r.rejects.length ? `  (first ${r.rejects.length} below; --rejects FILE writes them all)` : ''}`,
    `  duplicate ${n(r.duplicates)}`,
    `  suppressed${n(r.suppressed)}`,
    `  no consent${n(r.no_consent)}`,
  ];
  if (r.rejects.length) {
    lines.push('rejected rows:');
    for (const x of r.rejects) lines.push(`  line ${x.line} (row ${x.row}${x.id ? `, id ${x.id}` : ''}): ${x.reason}`);
  }
  if (r.duplicate_rows.length) {
    lines.push(`duplicates${r.duplicates > r.duplicate_rows.length ? ` (first ${r.duplicate_rows.length})` : ''}:`);
    for (const d of r.duplicate_rows) lines.push(`  line ${d.line} (row ${d.row}) repeats row ${d.of_row}`);
  }
  if (r.zones.length) {
    lines.push('time zones of the dialable rows:');
    for (const z of r.zones) {
      const when = z.open_now ? 'open now' : z.next_open ? `opens ${z.next_open}` : 'no opening within 30 days';
      lines.push(`  ${String(z.rows).padStart(9)}  ${zoneName(z)}: ${when} (${z.rule})`);
    }
  }
  const d = r.drain;
  const cap = d.max_live_calls !== null ? `, at most ${d.max_live_calls} live` : '';
  lines.push(
    d.calls === 0
      ? 'nothing to dial'
      : `time to drain: about ${formatSeconds(d.seconds)} for ${d.calls} calls at ${d.calls_per_second}/s (rate ${d.rate_per_second}/s${cap}, ${d.avg_call_seconds}s a call; limited by ${d.limited_by}), while the windows are open, before redials and retries`,
  );
  return lines.join('\n');
}

function zoneName(z: { zone: string; subdivision?: string }): string {
  return z.subdivision ? `${z.zone} (${z.subdivision})` : z.zone;
}
