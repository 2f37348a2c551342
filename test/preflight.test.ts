/**
 * `dialer check` and POST /campaigns/check on the real Redis: the counts
 * agree with what a load of the same list then does, the rejects file holds
 * every rejected row, nothing dialable exits 1, and not one key under the
 * prefix is created or changed by a check.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addManyToSuppression } from '../src/gate/index.js';
import { drainEstimate } from '../src/loader/drain-estimate.js';
import { NumberRows } from '../src/loader/number-set.js';
import { preflight, type PreflightReport } from '../src/loader/preflight.js';
import { buildServer } from '../src/server/app.js';
import { Dialer } from '../src/dialer.js';
import { formatReport } from '../src/cli/check.js';
import { REDIS_URL, campaignIn, cleanupPrefix, keysUnder, openTestRuntime, runCli, testPrefix, writeCampaign, type TestRuntime } from './helpers/dialer.js';

const prefix = testPrefix('preflight');
// A Sunday: Sydney 12:00, so au-telemarketing is closed until Monday 09:00 (22:00 UTC).
const NOW = '2026-12-06T01:00:00.000Z';
let t: TestRuntime;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-preflight-'));
  t = await openTestRuntime(prefix, undefined, { now: NOW });
  await addManyToSuppression(t.rt.store, ['+61291230006']);
});
afterAll(async () => {
  await t?.rt.close();
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

const CSV = [
  'name,phone,consent,crm',
  'Ann,(02) 9123 0001,yes,C1',
  'Bob,12345,yes,C2',
  'Cat,(02) 9123 0003,no,C3',
  'Dan,(02) 9123 0001,yes,C4',
  'Eve,+1 (212) 201-0005,yes,C5',
  'Fay,(02) 9123 0006,yes,C6',
  'Gus,(02) 9123 0007,yes,C7',
  'Hal,,yes,C8',
].join('\n') + '\n';

const CAMPAIGN = { assistant_id: 'CE_1', default_country: 'AU', consent_column: 'consent', id_column: 'crm', calling_hours: { preset: 'au-telemarketing' }, rate: { calls: 2, per_seconds: 1 } };

/** Every key under the prefix with its type and a digest of its value: a check must leave all of it as it was. */
async function snapshot(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const k of await keysUnder(t.rt.redis, `${prefix}:*`)) out.set(k, `${await t.rt.redis.type(k)}:${(await t.rt.redis.dumpBuffer(k))?.toString('hex')}:${await t.rt.redis.pttl(k) > 0}`);
  return out;
}

const deps = () => ({ store: t.rt.store, now: () => Date.parse(NOW) });

describe('preflight', () => {
  it('counts verdicts as the load does, lists rejects with line and reason, writes nothing to Redis', async () => {
    const c = await campaignIn(path.join(dir, 'mixed'), { name: 'mixed', ...CAMPAIGN }, CSV);
    const before = await snapshot();
    expect(before.size).toBeGreaterThan(0); // the suppression set
    const seen: number[] = [];
    const r = await preflight(deps(), c, undefined, { avgCallSeconds: 30, onReject: (x) => void seen.push(x.row) });
    expect(await snapshot()).toEqual(before);

    expect(r).toMatchObject({ campaign: 'mixed', rows: 8, dialable: 3, rejected: 2, duplicates: 1, suppressed: 1, no_consent: 1 });
    expect(r.rejects).toEqual([
      { row: 2, line: 3, phone: '12345', id: 'C2', reason: expect.stringMatching(/^phone: /) },
      { row: 8, line: 9, phone: '', id: 'C8', reason: 'phone: missing phone number' },
    ]);
    expect(seen).toEqual([2, 8]);
    expect(r.duplicate_rows).toEqual([{ row: 4, line: 5, of_row: 1 }]);

    const sydney = r.zones.find((z) => z.zone === 'Australia/Sydney')!;
    expect(sydney).toMatchObject({ rows: 2, open_now: false, next_open: '2026-12-06T22:00:00.000Z' });
    const ny = r.zones.find((z) => z.zone === 'America/New_York')!;
    expect(ny.rows).toBe(1);
    expect(r.zones.reduce((a, z) => a + z.rows, 0)).toBe(3);
    // 3 calls at 2/s, then the last call's 30 s.
    expect(r.drain).toMatchObject({ calls: 3, rate_per_second: 2, calls_per_second: 2, limited_by: 'rate', seconds: 32 });

    const text = formatReport(r);
    expect(text).toMatch(/dialable\s+3/);
    expect(text).toContain('line 3 (row 2, id C2): phone: ');
    expect(text).toContain('line 5 (row 4) repeats row 1');
    expect(text).toMatch(/2 {2}Australia\/Sydney: opens 2026-12-06T22:00:00.000Z/);
    expect(text).toContain('time to drain: about 32s for 3 calls at 2/s');

    // The load of the same list agrees with the check.
    const sum = await new Dialer(t.rt).load(c);
    expect(sum).toMatchObject({ rows: r.rows, accepted: r.dialable, rejected: r.rejected, duplicates: r.duplicates, screened: r.suppressed + r.no_consent });
  });

  it('dialer check: text and JSON, --rejects writes every rejected row, exit 1 when nothing is dialable; no key touched', async () => {
    const file = await writeCampaign(path.join(dir, 'cli'), { name: 'cli', ...CAMPAIGN }, CSV);
    const env = { REDIS_URL, DIALER_PREFIX: prefix, DIALER_NOW: NOW };
    const before = await snapshot();
    const rejects = path.join(dir, 'out', 'rejects.csv');
    const json = await runCli(['check', file, '--json', '--rejects', rejects, '--avg-call-seconds', '90'], env);
    expect(json.code, json.stderr).toBe(0);
    const r = JSON.parse(json.stdout) as PreflightReport;
    expect(r).toMatchObject({ rows: 8, dialable: 3, rejected: 2, duplicates: 1, suppressed: 1, no_consent: 1 });
    expect(r.drain.avg_call_seconds).toBe(90);
    const rows = parseCsv(await readFile(rejects, 'utf8'));
    expect(rows[0]).toEqual(['row', 'line', 'id', 'phone', 'reason']);
    expect(rows.slice(1).map((x) => x.slice(0, 4))).toEqual([['2', '3', 'C2', '12345'], ['8', '9', 'C8', '']]);

    const none = await writeCampaign(path.join(dir, 'none'), { name: 'none', ...CAMPAIGN }, 'name,phone,consent,crm\nA,123,yes,1\nB,(02) 9123 0009,no,2\n');
    const bad = await runCli(['check', none], env);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('nothing to dial');
    expect(await snapshot()).toEqual(before);
    expect(await keysUnder(t.rt.redis, `${prefix}:*cli*`)).toEqual([]);
  });

  it('a broken file fails naming the line', async () => {
    const c = await campaignIn(path.join(dir, 'broken'), { name: 'broken', ...CAMPAIGN }, 'name,phone,consent,crm\nA,"0412,yes,1\n');
    await expect(preflight(deps(), c)).rejects.toThrow(`${c.contactsPath}: line 2: a quoted field opened on this row is never closed`);
  });
});

describe('POST /campaigns/check', () => {
  let app: FastifyInstance;
  let url: string;
  const TOKEN = 'check-token-0123456789';
  beforeAll(async () => {
    app = await buildServer(t.rt, { token: TOKEN, uploadLimitBytes: 1024 * 1024, resultsDir: dir });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app?.close();
  });

  const post = (body: BodyInit, token: string | null = TOKEN, query = '') =>
    fetch(`${url}/campaigns/check${query}`, { method: 'POST', body, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const form = (campaign: string | undefined, csv: string) => {
    const f = new FormData();
    if (campaign !== undefined) f.append('campaign', campaign);
    f.append('file', new Blob([csv], { type: 'text/csv' }), 'list.csv');
    return f;
  };
  const yaml = `name: web-check\nassistant_id: CE_1\ndefault_country: AU\nconsent_column: consent\nid_column: crm\ncalling_hours: { preset: au-telemarketing }\nrate: { calls: 2, per_seconds: 1 }\n`;

  it('needs the token', async () => {
    const res = await post(form(yaml, CSV), null);
    expect(res.status).toBe(401);
  });

  it('checks a campaign and a list sent as a form, writing nothing', async () => {
    const before = await snapshot();
    const res = await post(form(yaml, CSV));
    const body = (await res.json()) as PreflightReport;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ campaign: 'web-check', file: 'list.csv', rows: 8, dialable: 3, rejected: 2, duplicates: 1, suppressed: 1, no_consent: 1 });
    expect(body.rejects.map((x) => x.line)).toEqual([3, 9]);
    expect(await snapshot()).toEqual(before);
    expect(await t.rt.store.getCampaign('web-check')).toBeUndefined();
  });

  it('?campaign= checks a CSV body against a campaign already created; errors name the key or the line', async () => {
    const created = await fetch(`${url}/campaigns`, { method: 'POST', body: yaml.replace('web-check', 'made'), headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/yaml' } });
    expect(created.status).toBe(201);
    const res = await fetch(`${url}/campaigns/check?campaign=made&avg_call_seconds=10`, { method: 'POST', body: CSV, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/csv' } });
    const body = (await res.json()) as PreflightReport;
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ campaign: 'made', dialable: 3, drain: { avg_call_seconds: 10 } });

    const badKey = await post(form(yaml.replace('AU', 'XX'), CSV));
    expect(badKey.status).toBe(400);
    expect(((await badKey.json()) as { error: string }).error).toContain('campaign: default_country: "XX" is not a country');
    const badCsv = await post(form(yaml, 'name,phone,consent,crm\nA,"0412,yes,1\n'));
    expect(badCsv.status).toBe(400);
    expect(await badCsv.json(), 'bad csv').toMatchObject({ code: 'CSV_INVALID', line: 2 });
    const noCampaign = await post(form(undefined, CSV));
    expect(noCampaign.status).toBe(400);
  });
});

describe('parts', () => {
  it('NumberRows finds the first row of every number, across growth', () => {
    const s = new NumberRows();
    let firsts = 0;
    for (let i = 0; i < 200_000; i++) if (s.claim(`+${61400000000 + i}`, i + 1) === undefined) firsts++;
    expect(firsts).toBe(200_000);
    expect(s.size).toBe(200_000);
    for (const i of [0, 1, 65_535, 65_536, 199_999]) expect(s.claim(`+${61400000000 + i}`, 999_999)).toBe(i + 1);
    expect(s.claim('+999999999999999', 5)).toBeUndefined();
    expect(s.claim('+999999999999999', 6)).toBe(5);
  });

  it('drain estimate: the rate, or max_live_calls over the call length when lower (Little\'s law)', () => {
    const rate = { calls: 10, per_seconds: 1 };
    expect(drainEstimate({ rate }, 1000, 60)).toMatchObject({ calls_per_second: 10, limited_by: 'rate', seconds: 160, max_live_calls: null });
    // 20 live calls of 60 s: one call can start every 3 s.
    expect(drainEstimate({ rate, max_live_calls: 20 }, 1000, 60)).toMatchObject({ calls_per_second: 0.333, limited_by: 'max_live_calls', max_live_calls: 20, seconds: 3060 });
    expect(drainEstimate({ rate }, 1000, 60, 2)).toMatchObject({ rate_per_second: 2, seconds: 560 });
    expect(drainEstimate({ rate, max_live_calls: 50 }, 1000, 60, undefined, 20).max_live_calls).toBe(20);
    expect(drainEstimate({ rate }, 0, 60).seconds).toBe(0);
  });
});
