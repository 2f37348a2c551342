import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import type { CountryCode } from 'libphonenumber-js/max';
import { DialerError } from '../errors.js';
import { PhoneWorker } from '../loader/phone-pool.js';
import { maskPhone } from '../log.js';
import { normalizePhone } from '../phone/normalize.js';
import type { Store } from '../store/store.js';
import { SAMPLE, chooseColumn, delimiterOf, firstLine } from './numbers-file.js';

/**
 * `dialer suppress import` at do-not-call-register scale (10,000,000 numbers):
 * the file is streamed (csv-parse), each cell normalised as everywhere else
 * (libphonenumber-js, in-process: a worker thread as in the loader measured
 * no faster on this 2-core machine under load and cost 45 MB more), and the numbers go to Redis in SADD batches of `batch` with a few
 * in flight on the one connection (pipelined). Nothing grows with the file:
 * no set of the numbers is kept here; "already" is what SADD did not add
 * (listed before, or repeated in the file). A cell that is no phone number is
 * reported with file, line and column and the import goes on.
 */

export interface ImportProblem {
  file: string;
  line: number;
  column: string;
  /** The cell as written (callers mask it for logs). */
  value: string;
  reason: string;
}

export interface ImportSummary {
  file: string;
  column: string;
  /** Valid numbers read (repeats in the file counted each time) = added + already. */
  numbers: number;
  added: number;
  already: number;
  invalid: number;
  /** Empty cells of the column, skipped. */
  empty: number;
  /** The first `listProblems` bad lines, in line order. */
  invalid_lines: ImportProblem[];
  seconds: number;
}

export interface ImportOptions {
  column?: string;
  country?: string;
  /** Numbers per SADD (default 10,000). */
  batch?: number;
  /** SADDs sent and not yet answered, at most (default 4). */
  inFlight?: number;
  /** How many bad lines the summary lists (default 20); all go to `onProblem`. */
  listProblems?: number;
  onProblem?: (p: ImportProblem) => void;
  /** Validate every other batch on a worker thread too (default false). */
  phoneWorker?: boolean;
}

/** The message of a bad line: file, line, column; the cell masked. */
export function problemText(p: ImportProblem): string {
  return `${p.file}:${p.line}: column ${JSON.stringify(p.column)}: "${maskPhone(p.value)}" is not a phone number (${p.reason})`;
}

// Cells the loader's worker would split as several numbers: normalised here one by one, as before.
const SEPARATORS = /:::|[;|\n\r/,]/;

type Cell = { value: string; line: number };

export async function importSuppression(store: Store, file: string, o: ImportOptions = {}): Promise<ImportSummary> {
  const t0 = Date.now();
  const country = o.country as CountryCode | undefined;
  const batchSize = o.batch ?? 10_000;
  const inFlight = o.inFlight ?? 4;
  const listMax = o.listProblems ?? 20;
  const delimiter = delimiterOf(await firstLine(file));
  const sum: ImportSummary = { file, column: o.column ?? 'column 1', numbers: 0, added: 0, already: 0, invalid: 0, empty: 0, invalid_lines: [], seconds: 0 };

  const problem = (cell: Cell, reason: string) => {
    const p: ImportProblem = { file, line: cell.line, column: sum.column, value: cell.value, reason };
    sum.invalid++;
    o.onProblem?.(p);
    // Keep the first lines by number (worker batches may answer out of order).
    if (sum.invalid_lines.length < listMax || p.line < sum.invalid_lines.at(-1)!.line) {
      sum.invalid_lines.push(p);
      sum.invalid_lines.sort((a, b) => a.line - b.line);
      if (sum.invalid_lines.length > listMax) sum.invalid_lines.pop();
    }
  };

  // ---- Redis side: SADD batches, a few in flight ----------------------------
  const sending = new Set<Promise<void>>();
  let failed: Error | undefined;
  const sadd = (nums: string[]) => {
    if (nums.length === 0) return;
    const p: Promise<void> = store.suppression.addBatch(nums).then(
      (n) => void ((sum.added += n), (sum.already += nums.length - n)),
      (e: unknown) => void (failed ??= e instanceof Error ? e : new Error(String(e))),
    ).finally(() => sending.delete(p));
    sending.add(p);
  };
  let out: string[] = [];
  const take = (cell: Cell, r: { ok: true; e164: string } | { ok: false; reason: string }) => {
    if (!r.ok) return problem(cell, r.reason);
    sum.numbers++;
    out.push(r.e164);
    if (out.length >= batchSize) {
      sadd(out);
      out = [];
    }
  };

  // ---- validation: in-process, or on the worker when it is free -------------
  const pool = o.phoneWorker ? PhoneWorker.start() : null;
  const checking = new Set<Promise<void>>();
  const validate = (cells: Cell[]) => {
    const simple = cells.filter((c) => !SEPARATORS.test(c.value));
    for (const c of cells) if (SEPARATORS.test(c.value)) take(c, normalizePhone(c.value, country));
    if (!pool || pool.inProcess || pool.outstanding >= 1) {
      for (const c of simple) take(c, normalizePhone(c.value, country));
      return;
    }
    const p = new Promise<void>((resolve) =>
      pool.send(simple.map((c) => c.value), country, (rs) => {
        rs.forEach((r, i) => take(simple[i]!, r.ok ? { ok: true, e164: r.e164 } : { ok: false, reason: r.reason }));
        resolve();
      }),
    ).finally(() => checking.delete(p));
    checking.add(p);
  };
  const drainTo = async (n: number) => {
    while (sending.size > n) await Promise.race(sending);
    if (failed) throw failed;
  };

  const parser = createReadStream(file).pipe(parse({ delimiter, bom: true, relax_column_count: true, relax_quotes: true, skip_empty_lines: true, info: true }));
  let plan: { index: number; header: boolean; name: string } | undefined;
  const sample: { record: string[]; line: number }[] = [];
  let cells: Cell[] = [];
  const cellOf = (record: string[], line: number) => {
    const v = record[plan!.index];
    if (v === undefined || v.trim() === '') return void sum.empty++;
    cells.push({ value: v, line });
  };
  const decide = () => {
    plan = chooseColumn(sample.map((s) => s.record), file, o.column, country);
    sum.column = plan.name;
    sample.slice(plan.header ? 1 : 0).forEach((s) => cellOf(s.record, s.line));
    sample.length = 0;
  };
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (!plan) {
        sample.push({ record, line: info.lines });
        if (sample.length >= SAMPLE) decide();
        continue;
      }
      cellOf(record, info.lines);
      if (cells.length >= batchSize) {
        validate(cells);
        cells = [];
        await drainTo(inFlight);
      }
    }
    if (!plan && sample.length) decide();
    validate(cells);
    await Promise.all(checking);
    sadd(out);
    await drainTo(0);
  } catch (e) {
    await Promise.allSettled([...sending]);
    if (e instanceof DialerError || e === failed) throw e;
    throw new DialerError('CSV_INVALID', `${file}: not a readable CSV (${(e as Error).message.split('\n')[0]}); ${sum.added} number(s) added before it`);
  } finally {
    await pool?.close();
  }
  sum.seconds = (Date.now() - t0) / 1000;
  return sum;
}
