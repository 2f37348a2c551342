import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DialerError } from '../src/errors.js';
import { openContacts, readContacts, type ContactVerdict, type ContactsCampaign } from '../src/loader/csv.js';
import { PhoneWorker } from '../src/loader/phone-pool.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'csv');
const AU: ContactsCampaign = { contactsPath: 'contacts.csv', default_country: 'AU' };

async function collect(input: Readable, campaign: Partial<ContactsCampaign> = {}, opts = {}): Promise<ContactVerdict[]> {
  const out: ContactVerdict[] = [];
  for await (const v of readContacts(input, { ...AU, ...campaign }, opts)) out.push(v);
  return out;
}
const fromText = (text: string | Buffer, chunk = Infinity): Readable => {
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const parts: Buffer[] = [];
  for (let at = 0; at < buf.length; at += chunk === Infinity ? buf.length : chunk) parts.push(buf.subarray(at, at + chunk));
  return Readable.from(parts);
};
async function fixture(name: string, campaign: Partial<ContactsCampaign> = {}) {
  const file = path.join(FIXTURES, name);
  try {
    return { verdicts: await collect(await openContacts(file), { contactsPath: file, ...campaign }) };
  } catch (e) {
    return { error: e as DialerError };
  }
}
const brief = (v: ContactVerdict) => `${v.row}@${v.line} ${v.verdict === 'accepted' ? v.phone : `✗ ${v.reason}`}`;

// Every malformed input ends in a clear file-level error naming the file and the line,
// or in per-row verdicts — never a crash, never a hang.
type Expect = { error: string; line: number } | { rows: string[] };
const TABLE: Array<[string, Expect]> = [
  ['broken-quote.csv', { error: 'a quoted field opened on this row is never closed', line: 3 }],
  ['broken-quote-long.csv', { error: 'row is longer than 65536 characters (inside a quoted field: is a quote never closed?)', line: 3 }],
  ['pipe-delimited.csv', { error: 'no phone column: found "name|phone|city"', line: 1 }],
  ['no-phone-column.csv', { error: 'no phone column: found "name", "email", "city"; expected one named phone, mobile', line: 1 }],
  ['empty.csv', { error: 'the file is empty', line: 1 }],
  ['blank-only.csv', { error: 'the file is empty', line: 1 }],
  ['binary-junk.csv', { error: 'not a UTF-8 text CSV', line: 1 }],
  ['fake-excel.xlsx.csv', { error: 'not a UTF-8 text CSV (it looks like an .xlsx', line: 1 }],
  ['utf16.csv', { error: 'not a UTF-8 text CSV (it is UTF-16', line: 1 }],
  ['latin1-header.csv', { error: 'not a UTF-8 text CSV', line: 1 }],
  ['long-field-200k.csv', { error: 'row is longer than 65536 characters', line: 3 }],
  ['duplicate-headers.csv', { error: 'duplicate column "phone" (columns 2 and 4', line: 1 }],
  ['duplicate-headers-normalized.csv', { error: 'duplicate column "phone_number" (columns 2 and 3', line: 1 }],
  ['header-only.csv', { rows: [] }],
  ['latin1-rows.csv', {
    rows: ['1@2 ✗ name: not valid UTF-8 (is the file Latin-1? save it as UTF-8)', '2@3 +61491570157', '3@4 ✗ name: not valid UTF-8 (is the file Latin-1? save it as UTF-8)'],
  }],
  ['long-field-10k.csv', { rows: ['1@2 +61491570156', '2@3 +61491570157'] }],
  ['ragged-rows.csv', {
    rows: [
      '1@2 +61491570156',
      '2@3 ✗ line 3: 2 fields but the header has 3',
      '3@4 ✗ line 4: 4 fields but the header has 3 (a value with an unquoted delimiter?)',
      '4@5 +61491570159', // trailing empty fields are harmless
      '5@6 +61491570110',
    ],
  }],
  ['bom-crlf.csv', { rows: ['1@2 +61491570156', '2@3 +61255501234'] }],
  ['semicolon.csv', { rows: ['1@2 +61491570156', '2@3 +61355504321'] }],
  ['tab.tsv', { rows: ['1@2 +61491570156', '2@3 +61755500000'] }],
  ['quoted-newlines.csv', { rows: ['1@2 +61491570156', '2@5 +61491570157', '3@8 ✗ phone: not a phone number'] }],
  ['blank-lines.csv', { rows: ['1@5 +61491570156', '2@9 +61491570157'] }],
  ['mixed-line-endings.csv', { rows: ['1@2 +61491570156', '2@3 +61491570157', '3@4 +61491570158'] }],
  ['stray-quotes.csv', { error: 'a quote inside an unquoted value (column "name"); quote the whole value and double the quote, e.g. "O""Brien"', line: 3 }],
  ['text-after-quote.csv', { error: 'text after a closing quote (column "name")', line: 3 }],
  ['escaped-quotes.csv', { rows: ['1@2 +61491570156', '2@3 +61491570157'] }],
  ['nul-in-row.csv', { rows: ['1@2 ✗ name: contains NUL bytes (binary data?)', '2@3 +61491570157'] }],
  ['excel-artifacts.csv', {
    rows: ['1@2 +61491570156', '2@3 ✗ phone: number mangled by a spreadsheet (scientific notation)', '3@4 +61491570156', '4@5 +61491570156', '5@6 +61491570156'],
  }],
];

describe('readContacts on the fixture corpus', () => {
  it.each(TABLE)('%s', async (name, want) => {
    const got = await fixture(name);
    if ('error' in want) {
      expect(got.error, `expected ${name} to fail`).toBeInstanceOf(DialerError);
      expect(got.error!.code).toBe('CSV_INVALID');
      expect(got.error!.message).toContain(`${path.join(FIXTURES, name)}: line ${want.line}: `);
      expect(got.error!.message).toContain(want.error);
    } else {
      expect(got.error).toBeUndefined();
      expect(got.verdicts!.map(brief)).toEqual(want.rows);
    }
  }, 10_000);

  it('covers every file in the corpus', () => {
    const covered = new Set([...TABLE.map(([name]) => name), 'au-formats.csv', 'us-formats.csv']);
    expect(readdirSync(FIXTURES).filter((f) => !covered.has(f))).toEqual([]);
  });

  it.each([
    ['au-formats.csv', 'AU'],
    ['us-formats.csv', 'US'],
  ] as const)('%s: every number format gives the E.164 or reason in its expect column', async (name, country) => {
    const { verdicts, error } = await fixture(name, { default_country: country });
    expect(error).toBeUndefined();
    expect(verdicts!.length).toBeGreaterThan(15);
    for (const v of verdicts!) {
      const want = v.vars.expect!;
      if (want.startsWith('!')) expect(`${v.phone} → ${v.reason}`).toBe(`${v.phone} → phone: ${want.slice(1)}`);
      else expect(`${v.vars.expect} ${v.verdict} ${v.phone}`).toBe(`${want} accepted ${want}`);
    }
  });
});

describe('readContacts details', () => {
  it('fills name, vars, country; rejected rows keep the raw number', async () => {
    const vs = await collect(fromText('Full Name,Phone Number,City ,notes\nAlice Smith, 0491 570 156 ,"Sydney, NSW", hi \nBob,N/A,Perth,\n'));
    expect(vs).toEqual([
      { row: 1, line: 2, name: 'Alice Smith', phone: '+61491570156', vars: { 'Full Name': 'Alice Smith', City: 'Sydney, NSW', notes: 'hi' }, verdict: 'accepted', country: 'AU' },
      { row: 2, line: 3, name: 'Bob', phone: 'N/A', vars: { 'Full Name': 'Bob', City: 'Perth', notes: '' }, verdict: 'rejected', reason: 'Phone Number: not a phone number' },
    ]);
  });

  it('matches headers ignoring case, spaces, "_" and "-"', async () => {
    const csv = 'FIRST-NAME,Mobile,Time Zone,Consent_Given,E Mail\nAlice,0491 570 156,Australia/Sydney, yes ,a@example.com\n';
    const [v] = await collect(fromText(csv), { timezone_column: 'time_zone', consent_column: 'consent given', variables: ['e-mail', 'first name'] });
    expect(v).toMatchObject({ name: 'Alice', phone: '+61491570156', timezone: 'Australia/Sydney', consent: 'yes', vars: { 'E Mail': 'a@example.com', 'FIRST-NAME': 'Alice' } });
  });

  it('prefers "phone" over a "number" column that comes first', async () => {
    const [v] = await collect(fromText('number,name,phone\n12,Alice,0491 570 156\n'));
    expect(v).toMatchObject({ phone: '+61491570156', vars: { number: '12', name: 'Alice' } });
  });

  it('a missing name column is fine', async () => {
    const [v] = await collect(fromText('phone\n0491 570 156\n'));
    expect(v).toMatchObject({ name: '', phone: '+61491570156', vars: {}, verdict: 'accepted' });
  });

  it.each([
    [{ phone_column: 'Mobile' }, 'phone_column "Mobile" is not a column of the header ("name", "phone", "city")'],
    [{ name_column: 'Full Name' }, 'name_column "Full Name" is not a column of the header ("name", "phone", "city")'],
    [{ variables: ['name', 'email'] }, 'variables entry "email" is not a column of the header ("name", "phone", "city")'],
    [{ timezone_column: 'tz' }, 'timezone_column "tz" is not a column of the header'],
    [{ consent_column: 'opt_in' }, 'consent_column "opt_in" is not a column of the header'],
  ] as Array<[Partial<ContactsCampaign>, string]>)('configured column missing: %j', async (campaign, message) => {
    await expect(collect(fromText('\n\nname,phone,city\nA,0491 570 156,X\n'), campaign)).rejects.toThrow(`contacts.csv: line 3: ${message}`);
  });

  it('header only gives zero verdicts; the source option names the file in errors', async () => {
    expect(await collect(fromText('name,phone\r\n'))).toEqual([]);
    await expect(collect(fromText(''), {}, { source: 'upload.csv' })).rejects.toThrow('upload.csv: line 1: the file is empty');
  });

  it('refuses a default_country that passes the schema but does not exist', async () => {
    const err = await collect(fromText('name,phone\n'), { default_country: 'XX', file: '/c/spring.yaml' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CAMPAIGN_INVALID', message: '/c/spring.yaml: default_country: "XX" is not a known country code' });
  });

  it('gives the same verdicts whatever the chunking (split BOM, CRLF, UTF-8 characters, quotes)', async () => {
    const text = readFileSync(path.join(FIXTURES, 'quoted-newlines.csv'));
    const withUtf8 = Buffer.concat([Buffer.from('\ufeffname,phone,city\r\n"Zoë ""Z"" Ñúñez",0491 570 156,"Wagga Wagga, NSW 🐨"\r\n'), text.subarray(text.indexOf('\n') + 1)]);
    for (const input of [text, withUtf8]) {
      const whole = await collect(fromText(input));
      for (const size of [1, 2, 3, 7]) expect(await collect(fromText(input, size))).toEqual(whole);
    }
    expect((await collect(fromText(withUtf8)))[0]).toMatchObject({ name: 'Zoë "Z" Ñúñez', vars: { city: 'Wagga Wagga, NSW 🐨' } });
  });

  it('a read error mid-file names the file and the errno', async () => {
    let sent = false;
    const broken = new Readable({
      read() {
        if (!sent) this.push('name,phone\nAlice,0491 570 156\n');
        else this.destroy(Object.assign(new Error('disk on fire'), { code: 'EIO' }));
        sent = true;
      },
    });
    await expect(collect(broken)).rejects.toThrow('contacts.csv: cannot read contacts file (EIO)');
  });

  it('a header with no line break fails fast, even fed one byte at a time', async () => {
    const started = Date.now();
    await expect(collect(fromText('name,phone,' + 'x'.repeat(300_000), 1))).rejects.toThrow('contacts.csv: line 1: the header row is longer than 65536 characters');
    expect(Date.now() - started).toBeLessThan(5_000);
  }, 10_000);

  it('accepts string chunks (a stream with setEncoding)', async () => {
    const vs = await collect(Readable.from(['name,pho', 'ne\nAlice,0491 57', '0 156\n']));
    expect(vs.map(brief)).toEqual(['1@2 +61491570156']);
  });

  it('streams: stops pulling input when the consumer stops', async () => {
    let pulled = 0;
    const endless = Readable.from(
      (function* () {
        yield 'name,phone\n';
        for (let i = 0; ; i++) {
          pulled++;
          yield `P${i},0491 57${i % 10} ${String(i % 1000).padStart(3, '0')}\n`.repeat(100);
        }
      })(),
    );
    let n = 0;
    for await (const v of readContacts(endless, AU, { phoneWorker: false })) {
      expect(v.verdict).toBe('accepted');
      if (++n === 1_000) break;
    }
    expect(pulled).toBeLessThan(50); // a few batches of read-ahead, not the (endless) file
    expect(endless.destroyed).toBe(true);
  });

  it('big files: worker-thread phone checks give exactly the in-process verdicts, in order', async () => {
    const rows = Array.from({ length: 12_000 }, (_, i) => `P${i},${i % 97 === 0 ? 'bad' : `+1 (415) 555-01${String(i % 100).padStart(2, '0')}`},c${i}`);
    const text = `name,phone,city\n${rows.join('\n')}\n`;
    const local = await collect(fromText(text, 64 * 1024), {}, { phoneWorker: false });
    const pooled = await collect(fromText(text, 64 * 1024), {}, { phoneWorker: true });
    expect(pooled).toEqual(local);
    expect(local.filter((v) => v.verdict === 'rejected')).toHaveLength(Math.ceil(12_000 / 97));
  }, 30_000);
});

describe('PhoneWorker', () => {
  it('validates on a worker thread', async () => {
    const w = new PhoneWorker();
    const results = await new Promise<unknown>((resolve) => w.send(['0491 570 156', 'nope'], 'AU', resolve));
    expect(w.inProcess).toBe(false);
    await w.close();
    expect(results).toEqual([
      { ok: true, e164: '+61491570156', country: 'AU' },
      { ok: false, reason: 'not a phone number' },
    ]);
  }, 20_000);
});

describe('openContacts', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'loader-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names the file and the errno', async () => {
    const missing = path.join(dir, 'nowhere.csv');
    await expect(openContacts(missing)).rejects.toThrow(`${missing}: cannot read contacts file (ENOENT)`);
    await expect(openContacts(dir)).rejects.toThrow(`${dir}: cannot read contacts file (EISDIR)`);
    await expect(openContacts(missing)).rejects.toMatchObject({ code: 'CSV_INVALID' });
  });

  it('opens a readable file', async () => {
    const vs = await collect(await openContacts(path.join(FIXTURES, 'bom-crlf.csv')));
    expect(vs).toHaveLength(2);
  });
});
