/**
 * The appends of a history (runner.ts): each `append` step's list written as
 * appendN.csv, `dialer load <campaign> --append appendN.csv --json` run in
 * the foreground or in the background (a background run sits with the
 * loads, so a `killLoad` step kills it -9), every run recorded, and in the
 * settle the operator's re-run of what was killed or failed (an append is
 * idempotent); one refused as canceled stays refused. Invariant 12
 * (append-checks.ts) judges it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mobile } from '../chaos/contacts.js';
import { spawnCli, type Proc } from '../chaos/procs.js';
import { appendSettled, type AppendedRow, type AppendEvidence, type AppendSummary } from './append-checks.js';
import type { HistoryRow } from './contacts.js';
import type { AppendRow, HistoryConfig } from './generator.js';

export interface AppendContext {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** The campaign file the appends go to. */
  campaignFile: string;
  /** The runner's background loads: a `killLoad` step kills what is in it. */
  loads: Set<Proc>;
  note(line: string): void;
}

/** A fresh number for an appended row's id "n.j": distinct for each id, none of the first list's (those are below 1000). */
const freshNumber = (id: string) => {
  const [n, j] = id.split('.').map(Number);
  return mobile(200_000 + n! * 100 + j!);
};

/** The rows of an appended list from its spec: names, numbers, and what loading must make of each. */
export function appendedRows(base: HistoryRow[], spec: AppendRow[]): AppendedRow[] {
  return spec.map((r) => {
    const name = `Appended ${r.id}`;
    if (r.invalid) return { id: r.id, name, phone: '12345', expect: 'rejected' };
    if (r.base === undefined) return { id: r.id, name, phone: freshNumber(r.id), expect: 'accepted' };
    // Clamped to the list (a shrunk history may have fewer rows); the number's owner is its first valid row.
    const phone = base[Math.min(r.base, base.length) - 1]!.phone;
    const owner = base.find((b) => b.phone === phone && b.expect !== 'rejected');
    return owner ? { id: r.id, name, phone, expect: 'duplicate', ownerRow: owner.row } : { id: r.id, name, phone, expect: 'rejected' };
  });
}

/** The CSV of an appended list: the first list's columns. */
export function appendCsv(cfg: Pick<HistoryConfig, 'outcomeColumn'>, rows: AppendedRow[]): string {
  const header = ['name', 'phone', 'city', ...(cfg.outcomeColumn ? ['outcome'] : [])];
  const line = (r: AppendedRow) => [r.name, r.phone, `City A${r.id}`, ...(cfg.outcomeColumn ? ['lead'] : [])].join(',');
  return [header.join(','), ...rows.map(line)].join('\n') + '\n';
}

/** The JSON summary `--json` prints (pretty, after the log lines), if any. */
export function parseSummary(text: string): AppendSummary | undefined {
  const m = /^\{\n[\s\S]*?\n\}$/m.exec(text);
  try {
    return m ? (JSON.parse(m[0]) as AppendSummary) : undefined;
  } catch {
    return undefined;
  }
}

export class Appends {
  readonly evidence: AppendEvidence[] = [];
  private readonly files = new Map<number, string>();
  private readonly running = new Set<Promise<void>>();
  private runCount = 0;

  /** The runs of appends (a killLoad that kills one needs no re-load of the first list). */
  readonly procs = new Set<Proc>();

  constructor(private readonly ctx: AppendContext, private readonly cfg: HistoryConfig, private readonly base: HistoryRow[]) {}

  /** Every number the appended lists carry. */
  phones(): string[] {
    return this.evidence.flatMap((a) => a.rows.map((r) => r.phone));
  }

  /** The appended lists' files, by append number (the archive check appends them again). */
  appendFiles(): string[] {
    return this.evidence.map((a) => this.files.get(a.n)!);
  }

  /** An `append` step: the list written (once), then a run, awaited or racing the next steps. */
  async step(n: number, spec: AppendRow[], wait: boolean): Promise<void> {
    let a = this.evidence.find((x) => x.n === n);
    if (!a) {
      a = { n, rows: appendedRows(this.base, spec), runs: [] };
      this.evidence.push(a);
      const file = path.join(this.ctx.dir, `append${n}.csv`);
      await writeFile(file, appendCsv(this.cfg, a.rows));
      this.files.set(n, file);
      const kinds = a.rows.map((r) => (r.expect === 'rejected' ? `${r.id} invalid` : r.ownerRow ? `${r.id} number of row ${r.ownerRow}` : r.id));
      this.ctx.note(`append${n}.csv: ${a.rows.length} rows (${kinds.join(', ')})`);
    }
    const done = this.run(a, false);
    if (wait) await done;
  }

  private run(a: AppendEvidence, settle: boolean): Promise<void> {
    const name = `append${a.n}-${++this.runCount}`;
    const logFile = path.join(this.ctx.dir, `${name}.log`);
    const p = spawnCli(name, ['load', this.ctx.campaignFile, '--append', this.files.get(a.n)!, '--json'], this.ctx.env, logFile);
    this.procs.add(p);
    this.ctx.loads.add(p);
    const done = p.exited.then(async (how) => {
      this.ctx.loads.delete(p);
      const text = await readFile(logFile, 'utf8').catch(() => '');
      const summary = parseSummary(text);
      const error = text.split('\n').find((l) => l.startsWith('error:'))?.slice(7).trim();
      a.runs.push({ code: how, killed: p.expectedExit, settle, ...(summary ? { summary } : {}), ...(error ? { error } : {}) });
      const said = summary ? `upload ${summary.upload}: ${summary.rows} rows, ${summary.added} added, ${summary.already} already in` : (error ?? '').slice(0, 200);
      this.ctx.note(`${name} → ${p.expectedExit ? 'killed' : `exit ${how}`} ${said}`);
    });
    this.running.add(done);
    void done.finally(() => this.running.delete(done));
    return done;
  }

  /**
   * The operator's settle: background runs end, then each append that was
   * killed or failed (not refused as canceled) runs again, in order.
   */
  async settle(): Promise<void> {
    await Promise.all([...this.running]);
    for (const a of this.evidence) {
      if (appendSettled(a)) continue; // it succeeded, or was refused as canceled: that stays so
      const last = a.runs[a.runs.length - 1];
      this.ctx.note(`settle: append ${a.n} again (${last ? (last.killed ? 'it was killed' : `exit ${last.code}`) : 'never ran'})`);
      await this.run(a, true);
    }
  }
}
