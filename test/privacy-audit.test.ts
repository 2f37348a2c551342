import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maskPhone } from '../src/log.js';
import { AUDIT_COLUMNS, auditRecords, type AuditRecord } from '../src/privacy/audit.js';
import { safeCell } from '../src/results/csv-safe.js';
import { campaignIn, cleanupPrefix, openTestRuntime, postsByNumber, REDIS_URL, runCli, testPrefix, type TestRuntime } from './helpers/dialer.js';
import { useSimulators } from './helpers/sim-http.js';
import { dialToEnd } from './privacy-helpers.js';

const prefix = testPrefix('privacy-audit');
const newSim = useSimulators();
let dir: string;
let t: TestRuntime;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-audit-'));
});
afterAll(async () => {
  await t?.rt.close();
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

const N = 12;
const phones = Array.from({ length: N }, (_, i) => `+61412000${String(100 + i * 7).padStart(3, '0')}`);

describe('dialer audit', () => {
  it('has one record per POST /calls the API received (429s and 5xx included), each with its final outcome', async () => {
    // The API admits 3 POSTs a second (we send up to 20: 429s) and answers 25% of requests 5xx
    // (ambiguous: reconciled, then redialed), so most contacts take several POSTs.
    const sim = await newSim({ seed: 7, callDurationMs: { min: 50, max: 200 }, rateLimitPerSecond: 3, faults: { error5xxRate: 0.25 } });
    t = await openTestRuntime(prefix, sim);
    const { rt } = t;
    const c = await campaignIn(path.join(dir, 'au1'), {
      name: 'au1', assistant_id: 'CE_1', consent_column: 'consent', rate: { calls: 20, per_seconds: 1 },
      on_ambiguous: 'redial', ambiguous_grace_seconds: 0.5, poll: { interval_seconds: 0.2 }, results: path.join(dir, 'au1.csv'),
    }, `name,phone,consent\n${phones.map((p, i) => `P${i},${p},yes-${i}`).join('\n')}\n`);
    await dialToEnd(rt, c, 60_000);

    const posts = postsByNumber(sim);
    const faults = sim.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/calls')).map((r) => r.status);
    expect(faults.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(faults.filter((s) => s >= 500).length).toBeGreaterThan(0);

    const records: AuditRecord[] = [];
    for await (const r of auditRecords(rt.store, 'au1')) records.push(r);
    expect(records.length).toBe([...posts.values()].reduce((a, b) => a + b, 0));
    const rows = await rt.store.getRows('au1', phones.map((_, i) => i + 1));
    for (const rec of rows) {
      const mine = records.filter((r) => r.row === String(rec!.row));
      expect(mine.length, `row ${rec!.row}`).toBe(posts.get(rec!.phone));
      for (const r of mine) {
        expect(r).toMatchObject({ campaign: 'au1', masked_number: maskPhone(rec!.phone), consent: `yes-${rec!.row - 1}`, final_outcome: rec!.outcome });
        expect(r.at_utc).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      }
      // The attempt that placed the call carries the call's id.
      expect(mine.filter((r) => r.result === 'placed').map((r) => r.call_id)).toContain(rec!.call_id);
    }
    expect(records.filter((r) => r.http_status === '429').length).toBe(faults.filter((s) => s === 429).length);
    // In the order they happened.
    expect(records.map((r) => r.at_utc)).toEqual([...records.map((r) => r.at_utc)].sort());
  });

  it('exports CSV and JSONL through the CLI', async () => {
    const env = { REDIS_URL, DIALER_PREFIX: prefix, LOG_LEVEL: 'warn' };
    const csvFile = path.join(dir, 'out', 'audit.csv');
    const a = await runCli(['audit', 'au1', '--out', csvFile], env);
    expect(a.stderr).toBe('');
    const expected: AuditRecord[] = [];
    for await (const r of auditRecords(t.rt.store, 'au1')) expected.push(r);
    expect(a.stdout.trim()).toBe(`wrote ${expected.length} audit records to ${csvFile}`);
    const text = await readFile(csvFile, 'utf8');
    expect(text.split('\n')[0]).toBe(AUDIT_COLUMNS.join(','));
    // The CSV is formula-safe: a masked number (`+614•••••100`) is written with a leading `'`.
    expect(parse(text, { columns: true })).toEqual(expected.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, safeCell(v)]))));
    const j = await runCli(['audit', 'au1', '--format', 'jsonl', '--out', '-'], env);
    expect(j.stdout.trim().split('\n').map((l) => JSON.parse(l) as AuditRecord)).toEqual(expected);
    const missing = await runCli(['audit', 'nope'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no campaign named "nope"/);
  });
});
