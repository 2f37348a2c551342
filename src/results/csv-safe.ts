import { stringify } from 'csv-stringify/sync';

/**
 * CSV cells a spreadsheet would run as a formula (CSV injection, OWASP):
 * a cell whose first character, after any leading spaces, is `=`, `+`, `-`,
 * `@`, a tab or a carriage return. Such a cell is written with a leading
 * `'`, which spreadsheets take as "text" and do not show.
 *
 * Plain numbers are left as they are: an E.164 number (`+61412345678`) or
 * `-12.5` is a number to a spreadsheet, not a formula, and every consumer of
 * the results file must be able to read phone numbers back unchanged.
 */
const FORMULA_START = /^[ \u00a0]*[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** One cell made safe to open in a spreadsheet (see above). */
export function safeCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const s = typeof value === 'number' ? String(value) : value;
  if (!FORMULA_START.test(s) || PLAIN_NUMBER.test(s)) return s;
  return `'${s}`;
}

/** One CSV line (with its line break) of cells made safe by `safeCell`: every CSV file the project writes goes through here. */
export function csvLine(cells: ReadonlyArray<string | number | null | undefined>): string {
  return stringify([cells.map(safeCell)]);
}
