import { describe, expect, it } from 'vitest';
import { isInvalidNumberError, nextNumberPatch, triedWith, triesNext } from '../src/campaign/alternates.js';
import { ApiError } from '../src/errors.js';
import { planColumns } from '../src/loader/header.js';
import { normalizeCells, splitCell } from '../src/phone/multi.js';
import type { Outcome } from '../src/campaign/row.js';

describe('several numbers in a row (pure)', () => {
  const cases: Array<[string, string[], string | undefined, string[] | undefined]> = [
    // cells, first number, alternates
    ['Google Contacts ":::"', ['0414 345 003 ::: 0415 345 003'], '+61414345003', ['+61415345003']],
    ['semicolon', ['0414 345 003; 02 9876 5432'], '+61414345003', ['+61298765432']],
    ['pipe', ['0414345003|0415345003'], '+61414345003', ['+61415345003']],
    ['newline in a quoted cell', ['0414 345 003\n0415 345 003'], '+61414345003', ['+61415345003']],
    ['CRLF in a quoted cell', ['0414 345 003\r\n0415 345 003'], '+61414345003', ['+61415345003']],
    ['slash between two numbers', ['0414 345 003 / +61 415 345 003'], '+61414345003', ['+61415345003']],
    ['slash inside one number', ['02/9876 5432'], '+61298765432', undefined],
    ['comma between two numbers', ['0414 345 003, 0415 345 003'], '+61414345003', ['+61415345003']],
    ['two columns, in order', ['0414 345 003', '(02) 9876 5432'], '+61414345003', ['+61298765432']],
    ['first column empty', ['', '0415 345 003'], '+61415345003', undefined],
    ['same number twice', ['0414 345 003', '+61414345003'], '+61414345003', undefined],
    ['an invalid part is dropped, the valid ones stay', ['12 ::: 0415 345 003'], '+61415345003', undefined],
    ['column and cell mixed', ['0414 345 003 ::: 0415 345 003', '02 9876 5432'], '+61414345003', ['+61415345003', '+61298765432']],
  ];
  it.each(cases)('%s', (_what, cells, first, alts) => {
    const r = normalizeCells(cells, 'AU');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.e164).toBe(first);
    expect(r.alts).toEqual(alts);
  });

  const rejected: Array<[string, string[], string, number]> = [
    // digits of two numbers are never glued together into one
    ['two numbers with only spaces between', ['0414 345 003 0415 345 003'], 'too long', 0],
    ['slash with a piece that is no number', ['0414 345 003 / 12'], 'invalid number for AU', 0],
    ['every cell empty', ['', ''], 'missing phone number', 0],
    ['the reason names the first failing cell', ['', 'abc'], 'not a phone number', 1],
  ];
  it.each(rejected)('rejects %s', (_what, cells, reason, cell) => {
    const r = normalizeCells(cells, 'AU');
    expect(r).toEqual(cell ? { ok: false, reason, cell } : { ok: false, reason });
  });

  it('splits only on the separators that always separate', () => {
    expect(splitCell(' a ::: b ;c|d\ne ')).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(splitCell('02/9876 5432')).toEqual(['02/9876 5432']);
    expect(splitCell('   ')).toEqual([]);
  });

  it('a single plain number takes the one-number path (same answer as before)', () => {
    expect(normalizeCells(['0412 345 678'], 'AU')).toEqual({ ok: true, e164: '+61412345678', country: 'AU' });
    expect(normalizeCells(['6.14123E+10'], 'AU')).toEqual({ ok: false, reason: 'number mangled by a spreadsheet (scientific notation)' });
  });
});

describe('which outcome tries the next number (pure)', () => {
  const withAlts = { alts: ['+61415345003'] };
  const table: Array<[Outcome, boolean]> = [
    ['no-answer', true], ['busy', true], ['failed', true],
    ['voicemail', false], ['completed', false], ['unknown', false], ['canceled', false],
  ];
  it.each(table)('%s → %s', (outcome, next) => {
    expect(triesNext(withAlts, { outcome })).toBe(next);
    expect(triesNext({}, { outcome })).toBe(false); // nothing left to try
  });
  it('an invalid-number rejection or a suppressed alternate always moves on while numbers are left', () => {
    expect(triesNext(withAlts, { rejected: '422' })).toBe(true);
    expect(triesNext(withAlts, { suppressed: 'x' })).toBe(true);
    expect(triesNext({ alts: [] }, { rejected: '422' })).toBe(false);
  });
  it('numbers_tried lists each number once, in order', () => {
    expect(triedWith(undefined, '+61414345003')).toBe('+61414345003');
    expect(triedWith('+61414345003', '+61415345003')).toBe('+61414345003 +61415345003');
    expect(triedWith('+61414345003 +61415345003', '+61415345003')).toBe('+61414345003 +61415345003');
  });
  it('the move to the next number takes that number\'s zone unless a timezone column names the person\'s', () => {
    const rec = { row: 1, name: 'A', phone: '+61414345003', timezone: 'Australia/Sydney', alts: ['+61893456789', '+61415345003'] };
    const p = nextNumberPatch({}, rec, '+61893456789', ['+61415345003'], { outcome: 'no-answer' }, true);
    expect(p).toMatchObject({ phone: '+61893456789', alts: ['+61415345003'], numbers_tried: '+61414345003' });
    expect(p.timezone).toMatch(/Australia\/Perth/);
    const q = nextNumberPatch({ timezone_column: 'tz' }, rec, '+61893456789', [], { suppressed: 's' }, false);
    expect(q).toMatchObject({ phone: '+61893456789', alts: null, timezone: 'Australia/Sydney' });
    expect(q.numbers_tried).toBeUndefined(); // a suppressed number was never dialed
  });
  it('knows an invalid-number rejection from other client errors', () => {
    const err = (status: number, message: string) => new ApiError('API_CLIENT_ERROR' as never, message, { method: 'POST', path: '/calls', status, maybeSent: false });
    expect(isInvalidNumberError(err(422, 'phoneNumber is not a valid number'))).toBe(true);
    expect(isInvalidNumberError(err(400, 'invalid phone'))).toBe(true);
    expect(isInvalidNumberError(err(422, 'assistant_id is required'))).toBe(false);
    expect(isInvalidNumberError(err(404, 'phone not found'))).toBe(false);
    expect(isInvalidNumberError(new Error('phoneNumber'))).toBe(false);
  });
});

describe('phone_columns in the header plan', () => {
  it('reads the columns in the order given and sends none of them as variables', () => {
    const plan = planColumns(['First Name', 'Business Phone', 'Mobile Phone', 'Company'], { phone_columns: ['Mobile Phone', 'Business Phone'] }, 'x.csv', 1);
    expect(plan.phones).toEqual([2, 1]);
    expect(plan.phone).toBe(2);
    expect(plan.vars.map(([k]) => k)).toEqual(['First Name', 'Company']);
  });
  it('names a missing column with the file and line', () => {
    expect(() => planColumns(['Name', 'Phone'], { phone_columns: ['Phone', 'Mobile'] }, 'x.csv', 1)).toThrow(/x\.csv: line 1: phone_columns entry "Mobile" is not a column/);
  });
});
