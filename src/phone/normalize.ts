import { getCountryCallingCode, isSupportedCountry, parsePhoneNumberWithError, ParseError, validatePhoneNumberLength, type CountryCode, type PhoneNumber } from 'libphonenumber-js/max';

/**
 * Phone numbers as people type them into spreadsheets → E.164.
 *
 * `/max` metadata because it is the only one that knows real number ranges
 * for every type: `/mobile` rejects landlines ("(02) 9876 5432") and `/min`
 * only checks lengths. `/max` is hardly slower than the others: the time goes
 * into libphonenumber building a RegExp for every pattern test, whatever the
 * metadata.
 */

export type PhoneResult = { ok: true; e164: string; country?: string } | { ok: false; reason: string };

// "6.14123E+10" (or "6,14E+10" in comma-decimal locales): the digits are gone, nothing to recover.
const SCIENTIFIC = /^[+-]?\d+(?:[.,]\d+)?e[+-]?\d+$/i;
// Excel turned the cell into a number and back: "61412345678.0".
const EXCEL_FLOAT = /^(\+?\d{6,})\.0+$/;
// Excel tricks to keep a leading zero: `="0412345678"` and a leading apostrophe.
const EXCEL_FORMULA = /^="(.*)"$/;
// Dialling prefixes written instead of "+"; tried only when the number fails as written,
// because "0113 ..." is a real UK area code and "0011" is how Australians dial out.
const IDD_PREFIXES = ['0011', '011', '00'];

const fail = (reason: string): PhoneResult => ({ ok: false, reason });

export function normalizePhone(raw: string, defaultCountry?: CountryCode): PhoneResult {
  let s = raw.trim();
  if (s.startsWith("'")) s = s.slice(1).trim();
  const formula = EXCEL_FORMULA.exec(s);
  if (formula) s = formula[1]!.trim();
  if (/^tel:/i.test(s)) s = s.slice(4).trim();
  if (s === '') return fail('missing phone number');
  if (SCIENTIFIC.test(s)) return fail('number mangled by a spreadsheet (scientific notation)');
  const float = EXCEL_FLOAT.exec(s);
  if (float) s = float[1]!;
  if (defaultCountry !== undefined && !isSupportedCountry(defaultCountry)) return fail(`unknown default_country "${defaultCountry}"`);

  const first = parse(s, defaultCountry);
  if (first.ok) return first;
  if (!s.startsWith('+')) {
    // "0061 412 ...", "011 61 ...": retry as "+61 ..." (only keep it if that is valid).
    const digits = s.replace(/[\s().\-/]/g, '');
    for (const prefix of IDD_PREFIXES) {
      if (!digits.startsWith(prefix) || digits.length <= prefix.length + 4) continue;
      const retry = parse(`+${digits.slice(prefix.length)}`, undefined);
      if (retry.ok) return retry;
    }
  }
  return first;
}

function parse(s: string, defaultCountry: CountryCode | undefined): PhoneResult {
  let n: PhoneNumber;
  try {
    // extract: false — the cell must be a number, not "call 0412 345 678 after 5".
    n = parsePhoneNumberWithError(s, { defaultCountry, extract: false });
  } catch (e) {
    return fail(parseErrorReason(e, s, defaultCountry));
  }
  if (n.ext) return fail('extensions are not supported');
  if (n.isValid()) return { ok: true, e164: n.number, country: n.country };
  const length = validatePhoneNumberLength(s, { defaultCountry });
  if (length === 'TOO_SHORT') return fail('too short');
  if (length === 'TOO_LONG') return fail('too long');
  return fail(`invalid number for ${n.country ?? countryName(n.countryCallingCode, defaultCountry)}`);
}

function countryName(callingCode: string, defaultCountry: CountryCode | undefined): string {
  // "+61 2 1234" belongs to no country; with default AU it reads better as AU than as +61.
  if (defaultCountry && getCountryCallingCode(defaultCountry) === callingCode) return defaultCountry;
  return `+${callingCode}`;
}

function parseErrorReason(e: unknown, s: string, defaultCountry: CountryCode | undefined): string {
  const code = e instanceof ParseError ? e.message : '';
  switch (code) {
    case 'INVALID_COUNTRY':
      return s.startsWith('+') ? 'unknown country code' : 'no country code and no default_country';
    case 'TOO_SHORT':
      return 'too short';
    case 'TOO_LONG':
      return 'too long';
    case 'INVALID_LENGTH':
      return `invalid length${defaultCountry ? ` for ${defaultCountry}` : ''}`;
    default:
      return 'not a phone number';
  }
}
