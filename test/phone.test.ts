import { describe, expect, it } from 'vitest';
import type { CountryCode } from 'libphonenumber-js/max';
import { normalizePhone } from '../src/phone/normalize.js';

// [input, expected E.164 or "!reason"]
const AU: Array<[string, string]> = [
  ['0412 345 678', '+61412345678'],
  ['0412345678', '+61412345678'],
  ['04 1234 5678', '+61412345678'],
  ['0412-345-678', '+61412345678'],
  ['+61 412 345 678', '+61412345678'],
  ['+61412345678', '+61412345678'],
  ['61412345678', '+61412345678'],
  ['412345678', '+61412345678'], // Excel ate the leading zero
  ['61412345678.0', '+61412345678'], // Excel number → text
  ['="0412345678"', '+61412345678'], // Excel leading-zero trick
  ["'0412345678", '+61412345678'],
  ['+61 (0)412 345 678', '+61412345678'],
  ['0011 61 412 345 678', '+61412345678'], // AU exit code
  ['0061 412 345 678', '+61412345678'], // "00" exit code
  ['tel:+61412345678', '+61412345678'],
  ['０４１２ ３４５ ６７８', '+61412345678'], // full-width digits
  ['0491\u00a0570\u00a0156', '+61491570156'], // no-break spaces
  ['(02) 9876 5432', '+61298765432'],
  ['(02)98765432', '+61298765432'],
  ['02 9876 5432', '+61298765432'],
  ['02.9876.5432', '+61298765432'],
  ['+61 2 9876 5432', '+61298765432'],
  ['(03) 5550 1234', '+61355501234'],
  ['1800 160 401', '+611800160401'],
  ['1300 975 707', '+611300975707'],
  ['+1 (415) 555-2671', '+14155552671'],
  ['+44 20 7946 0958', '+442079460958'],
  ['', '!missing phone number'],
  ['   ', '!missing phone number'],
  ['N/A', '!not a phone number'],
  ['call 0412 345 678', '!not a phone number'],
  ['12', '!too short'],
  ['000', '!too short'],
  ['0412 345 67', '!invalid number for AU'],
  ['04 1234 5678 9', '!invalid number for AU'],
  ['0000 000 000', '!invalid number for AU'],
  ['+61 2 1234', '!invalid number for AU'],
  ['+999 123 456', '!unknown country code'],
  ['6.14123E+10', '!number mangled by a spreadsheet (scientific notation)'],
  ['6,14123E+10', '!number mangled by a spreadsheet (scientific notation)'],
  ['0412 345 678 ext 5', '!extensions are not supported'],
];

const US: Array<[string, string]> = [
  ['+1 (415) 555-2671', '+14155552671'],
  ['415.555.2671', '+14155552671'],
  ['(415) 555-2671', '+14155552671'],
  ['415-555-2671', '+14155552671'],
  ['4155552671', '+14155552671'],
  ['1-415-555-2671', '+14155552671'],
  ['1 (415) 555-2671', '+14155552671'],
  ['(212) 555-0199', '+12125550199'],
  ['1-800-555-0199', '+18005550199'],
  ['011 61 412 345 678', '+61412345678'], // US exit code
  ['0011 61 412 345 678', '+61412345678'], // AU exit code in a US list
  ['001 415 555 2671', '+14155552671'],
  ['+61 491 570 156', '+61491570156'],
  ['555-0123', '!too short'],
  ['(415) 555-267', '!too short'],
  ['(415) 555-26711', '!too long'],
  ['1-800-FLOWERS', '!not a phone number'],
  ['(123) 456-7890', '!invalid number for US'],
  ['0412345678', '!invalid number for US'],
  ['415 555 2671 x123', '!extensions are not supported'],
];

function expectResult(input: string, country: CountryCode | undefined, want: string) {
  const got = normalizePhone(input, country);
  if (want.startsWith('!')) expect(got).toEqual({ ok: false, reason: want.slice(1) });
  else expect(got).toMatchObject({ ok: true, e164: want });
}

describe('normalizePhone', () => {
  it.each(AU)('AU %j → %s', (input, want) => expectResult(input, 'AU', want));
  it.each(US)('US %j → %s', (input, want) => expectResult(input, 'US', want));

  it('gives the region of accepted numbers', () => {
    expect(normalizePhone('0412 345 678', 'AU')).toEqual({ ok: true, e164: '+61412345678', country: 'AU' });
    expect(normalizePhone('+1 415 555 2671', 'AU')).toEqual({ ok: true, e164: '+14155552671', country: 'US' });
  });

  it('needs a country code or a default country', () => {
    expect(normalizePhone('0412 345 678')).toEqual({ ok: false, reason: 'no country code and no default_country' });
    expect(normalizePhone('+61 412 345 678')).toMatchObject({ ok: true, e164: '+61412345678' });
    expect(normalizePhone('0011 61 412 345 678')).toMatchObject({ ok: true, e164: '+61412345678' });
  });

  it('names a default country libphonenumber does not know', () => {
    expect(normalizePhone('0412 345 678', 'XX' as CountryCode)).toEqual({ ok: false, reason: 'unknown default_country "XX"' });
  });

  it('knows real number ranges (max metadata), not just lengths', () => {
    // Ten digits like a mobile, but no AU number starts 01 after the trunk 0.
    expect(normalizePhone('0112 345 678', 'AU')).toEqual({ ok: false, reason: 'invalid number for AU' });
  });

  it('never puts the number in a reason', () => {
    for (const [input] of [...AU, ...US]) {
      const got = normalizePhone(input, 'AU');
      const digits = input.replace(/\D/g, '');
      if (!got.ok && digits.length > 4) expect(got.reason).not.toContain(digits);
    }
  });
});
