import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadCampaignFile, type Campaign } from '../src/config/campaign.js';
import { DialerError } from '../src/errors.js';
import { openContacts, readContacts, type ContactVerdict } from '../src/loader/csv.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIR = path.join(ROOT, 'test', 'fixtures', 'campaigns');
const fixture = (name: string) => path.join(DIR, name);

async function contacts(c: Campaign): Promise<ContactVerdict[]> {
  const out: ContactVerdict[] = [];
  for await (const v of readContacts(await openContacts(c.contactsPath), c)) out.push(v);
  return out;
}

// Each bad campaign file → CAMPAIGN_INVALID naming the file and the field.
const BAD: Array<[string, string]> = [
  ['unknown-key.yaml', '(top level): unknown key "max_calls_per_day"'],
  ['wrong-type.yaml', 'rate.calls: Invalid input: expected number, received string'],
  ['missing-name.yaml', 'name: Invalid input: expected string, received undefined'],
  ['bad-name.yaml', 'name: must be 1-63 characters of a-z, 0-9 and "-"'],
  ['missing-assistant.yaml', 'assistant_id: required (or split the rows between assistants'],
  ['unknown-country.yaml', 'default_country: "XX" is not a country libphonenumber knows'],
  ['bad-country.yaml', 'default_country: must be a two-letter country code such as "AU"'],
  ['list.yaml', 'must be a mapping of campaign keys'],
  ['invalid.yaml', 'not valid YAML: '],
  ['invalid.json', 'not valid JSON: '],
];

describe('campaign files', () => {
  it.each(BAD)('%s', async (name, message) => {
    const err = await loadCampaignFile(fixture(name)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DialerError);
    expect(err).toMatchObject({ code: 'CAMPAIGN_INVALID' });
    expect((err as Error).message).toContain(`${fixture(name)}: ${message}`);
  });

  it('a missing campaign file names the file', async () => {
    await expect(loadCampaignFile(fixture('nope.yaml'))).rejects.toThrow(`${fixture('nope.yaml')}: cannot read campaign file (ENOENT)`);
  });

  it('a good YAML campaign resolves contacts against its own folder and results against the cwd', async () => {
    const c = await loadCampaignFile(fixture('good.yaml'));
    expect(c).toMatchObject({ name: 'good-campaign', file: fixture('good.yaml'), default_country: 'AU', variables: ['Name', 'City'] });
    expect(c.contactsPath).toBe(path.join(ROOT, 'test', 'fixtures', 'csv', 'bom-crlf.csv'));
    expect(c.resultsPath).toBe(path.resolve('results', 'good-campaign.csv'));
    const vs = await contacts(c);
    expect(vs.map((v) => [v.phone, v.vars])).toEqual([
      ['+61491570156', { Name: 'Alice', City: 'Sydney' }],
      ['+61255501234', { Name: 'Bob', City: 'Perth' }],
    ]);
  });

  it('a good JSON campaign loads too', async () => {
    const c = await loadCampaignFile(fixture('good.json'));
    expect(c.contactsPath).toBe(path.join(ROOT, 'test', 'fixtures', 'csv', 'semicolon.csv'));
    expect(c.resultsPath).toBe(path.resolve('results', 'good-json.csv'));
    expect(await contacts(c)).toHaveLength(2);
  });

  it('a campaign whose CSV does not exist loads, and opening the contacts says ENOENT', async () => {
    const c = await loadCampaignFile(fixture('missing-csv.yaml'));
    await expect(openContacts(c.contactsPath)).rejects.toThrow(`${fixture('nowhere.csv')}: cannot read contacts file (ENOENT)`);
  });

  it('a phone_column the CSV lacks fails at load time naming the key and the header', async () => {
    const c = await loadCampaignFile(fixture('missing-column.yaml'));
    await expect(contacts(c)).rejects.toThrow(`${c.contactsPath}: line 1: phone_column "Mobile" is not a column of the header ("Name", "Phone", "City")`);
  });

});

describe('campaigns/example.yaml', () => {
  it('is valid and its 200 contacts hold a few invalid numbers and repeats on purpose', async () => {
    const c = await loadCampaignFile(path.join(ROOT, 'campaigns', 'example.yaml'));
    expect(c).toMatchObject({
      name: 'example',
      assistant_id: 'CE_DEMO_ASSISTANT',
      default_country: 'AU',
      variables: ['name', 'cal_email'],
      rate: { calls: 50, per_seconds: 1 },
      concurrency: 10,
      retry: { attempts: 3, backoff_ms: 200 },
      poll: { interval_seconds: 1, timeout_minutes: 5 },
      resultsPath: path.resolve('results', 'example.csv'),
    });
    const vs = await contacts(c);
    expect(vs).toHaveLength(200);
    const rejected = vs.filter((v) => v.verdict === 'rejected');
    expect(rejected.length).toBeGreaterThanOrEqual(5);
    expect(rejected.length).toBeLessThanOrEqual(8);
    const accepted = vs.filter((v) => v.verdict === 'accepted');
    const repeats = accepted.length - new Set(accepted.map((v) => v.phone)).size;
    expect(repeats).toBeGreaterThanOrEqual(4);
    expect(repeats).toBeLessThanOrEqual(6);
    expect(new Set(accepted.map((v) => v.country))).toEqual(new Set(['AU', 'US']));
    for (const v of accepted) expect(Object.keys(v.vars)).toEqual(['name', 'cal_email']);
  });
});
