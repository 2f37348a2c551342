import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { parse } from 'csv-parse';
import type { CountryCode } from 'libphonenumber-js/max';
import { DialerError } from '../errors.js';
import { normalizePhone } from '../phone/normalize.js';

/**
 * Reads phone numbers out of a CSV in whatever shape people keep do-not-call lists:
 * one bare column with or without a header, or a wider export where the numbers are
 * one column among several. The column is the one named (`column`), else the first
 * whose sampled cells mostly read as phone numbers. Numbers in any format
 * ("(02) 9876 5432", "+61 2 …", "0061…") with `country` for those without +country.
 */

export interface NumbersFile {
  /** Distinct E.164 numbers. */
  numbers: string[];
  /** Non-empty cells of the column that are no valid number (header excluded). */
  invalid: number;
  /** Header name of the column used, or "column N" (1-based) without a header. */
  column: string;
}

export const SAMPLE = 200;

export function delimiterOf(firstLine: string): string {
  if (firstLine.includes(',')) return ',';
  if (firstLine.includes('\t')) return '\t';
  if (firstLine.includes(';')) return ';';
  return ',';
}

export async function firstLine(file: string): Promise<string> {
  let h;
  try {
    h = await open(file, 'r');
  } catch (e) {
    throw new DialerError('CSV_INVALID', `${file}: cannot read numbers file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await h.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString('utf8').split(/\r?\n/)[0] ?? '';
  } finally {
    await h.close();
  }
}

const isNumber = (cell: string | undefined, country?: CountryCode): boolean => cell !== undefined && cell.trim() !== '' && normalizePhone(cell, country).ok;

/** Picks the column (index) and whether record 0 is a header. */
export function chooseColumn(sample: string[][], file: string, column: string | undefined, country?: CountryCode): { index: number; header: boolean; name: string } {
  const head = sample[0] ?? [];
  if (column !== undefined) {
    const want = column.trim().toLowerCase();
    const index = head.findIndex((h) => h.trim().toLowerCase() === want);
    if (index < 0) throw new DialerError('CSV_INVALID', `${file}: no column "${column}" (header: ${head.map((h) => JSON.stringify(h)).join(', ') || 'empty'})`);
    return { index, header: true, name: head[index]!.trim() };
  }
  const width = Math.max(0, ...sample.map((r) => r.length));
  for (let i = 0; i < width; i++) {
    const body = sample.slice(1).map((r) => r[i]).filter((v): v is string => v !== undefined && v.trim() !== '');
    const good = body.filter((v) => isNumber(v, country)).length;
    const firstIsNumber = isNumber(head[i], country);
    // A one-line file, or a column that is mostly numbers.
    if ((body.length === 0 && firstIsNumber) || (body.length > 0 && good * 2 >= body.length && good > 0)) {
      return { index: i, header: !firstIsNumber, name: firstIsNumber ? `column ${i + 1}` : (head[i] ?? '').trim() || `column ${i + 1}` };
    }
  }
  throw new DialerError('CSV_INVALID', `${file}: no column of phone numbers found${country ? '' : ' (numbers without +country need --country / default_country)'}; name one with --column`);
}

export async function readNumbersFile(file: string, opts: { column?: string; country?: string } = {}): Promise<NumbersFile> {
  const country = opts.country as CountryCode | undefined;
  const delimiter = delimiterOf(await firstLine(file));
  const parser = createReadStream(file).pipe(parse({ delimiter, bom: true, relax_column_count: true, relax_quotes: true, skip_empty_lines: true }));
  const sample: string[][] = [];
  const out = new Set<string>();
  let invalid = 0;
  let plan: { index: number; header: boolean; name: string } | undefined;
  const take = (rec: string[]) => {
    const cell = rec[plan!.index];
    if (cell === undefined || cell.trim() === '') return;
    const r = normalizePhone(cell, country);
    if (r.ok) out.add(r.e164);
    else invalid++;
  };
  try {
    for await (const rec of parser as AsyncIterable<string[]>) {
      if (!plan) {
        sample.push(rec);
        if (sample.length < SAMPLE) continue;
        plan = chooseColumn(sample, file, opts.column, country);
        sample.slice(plan.header ? 1 : 0).forEach(take);
        continue;
      }
      take(rec);
    }
  } catch (e) {
    if (e instanceof DialerError) throw e;
    throw new DialerError('CSV_INVALID', `${file}: not a readable CSV (${(e as Error).message.split('\n')[0]})`);
  }
  if (!plan) {
    if (sample.length === 0) return { numbers: [], invalid: 0, column: opts.column ?? 'column 1' };
    plan = chooseColumn(sample, file, opts.column, country);
    sample.slice(plan.header ? 1 : 0).forEach(take);
  }
  return { numbers: [...out], invalid, column: plan.name };
}
