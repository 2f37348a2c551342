import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consentGate, consentScreen, hasConsent } from '../src/gate/consent.js';
import { writeResults } from '../src/results/export.js';
import type { RowRecord } from '../src/campaign/row.js';
import { campaignIn, cleanupPrefix, openTestRuntime, postsByNumber, testPrefix, type TestRuntime } from './helpers/dialer.js';
import { useSimulators } from './helpers/sim-http.js';
import { dialToEnd, keyTypes, loadWithScreen, searchRedis } from './privacy-helpers.js';

describe('hasConsent', () => {
  it('refuses blanks and every usual "no", accepts anything else', () => {
    for (const v of ['', '  ', 'no', 'No', ' NO ', 'n', 'N', 'false', 'FALSE', 'f', '0', 'off', 'Off', 'none', 'null', 'n/a', 'N/A', '-', 'unknown',
      'declined', 'withdrawn', 'revoked', 'opt-out', 'Opted_Out', 'opted out', 'unsubscribed', 'do not call', 'DNC']) {
      expect(hasConsent(v), JSON.stringify(v)).toBe(false);
    }
    for (const v of ['yes', 'Yes', 'Y', 'true', '1', 'on', 'opt-in', '2024-03-01', 'web form 2024-03', 'verbal']) {
      expect(hasConsent(v), JSON.stringify(v)).toBe(true);
    }
    expect(hasConsent(undefined)).toBe(false);
  });

  it('screens and gates only campaigns with consent_column', () => {
    const rec: RowRecord = { row: 3, name: 'Bob', phone: '+61412000102', vars: { plan: 'gold' }, consent: 'No' };
    expect(consentScreen({}, rec)).toBe(rec);
    expect(consentGate({}, rec)).toBeUndefined();
    expect(consentScreen({ consent_column: 'consent' }, rec)).toEqual({ row: 3, name: '', phone: '', consent: 'No', outcome: 'no-consent', error: 'no consent (consent: "No")' });
    expect(consentGate({ consent_column: 'consent' }, rec)).toEqual({ action: 'skip', outcome: 'no-consent', reason: 'no consent (consent: "No")' });
    expect(consentGate({ consent_column: 'consent' }, { ...rec, consent: 'yes' })).toBeUndefined();
  });
});

const prefix = testPrefix('privacy-consent');
const newSim = useSimulators();
let dir: string;
let t: TestRuntime;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-consent-'));
});
afterAll(async () => {
  await t?.rt.close();
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

// Rows 1, 6 and 8 consented; the rest did not. `secret_note` is not in `variables`.
const CSV = [
  'name,phone,plan,consent,secret_note',
  'Ann,+61412000101,gold,yes,ZQXSECRET101',
  'Bob,+61412000102,silver,No,ZQXSECRET102',
  'Cat,+61412000103,gold, ,ZQXSECRET103',
  'Dan,+61412000104,gold,FALSE,ZQXSECRET104',
  'Eve,+61412000105,gold,0,ZQXSECRET105',
  'Fay,+61412000106,gold,2024-03-01 web form,ZQXSECRET106',
  'Gus,+61412000107,gold,off,ZQXSECRET107',
  'Hal,+61412000108,gold,Y,ZQXSECRET108',
].join('\n') + '\n';

describe('consent and data minimisation, end to end', () => {
  it('never dials a row without consent; results and audit keep the consent relied on; unlisted columns are never stored or sent', async () => {
    const sim = await newSim({ callDurationMs: { min: 50, max: 150 }, outcomes: { completed: 1 } });
    t = await openTestRuntime(prefix, sim);
    const { rt } = t;
    const c = await campaignIn(path.join(dir, 'c1'), {
      name: 'consent1', assistant_id: 'CE_1', default_country: 'AU', consent_column: 'consent', variables: ['plan'],
      rate: { calls: 50, per_seconds: 1 }, results: path.join(dir, 'consent1.csv'),
    }, CSV);
    const load = await dialToEnd(rt, c);
    expect(load).toMatchObject({ rows: 8, accepted: 3, screened: 5, jobs: 3 });

    // Only the three who consented were called, once each.
    expect(Object.fromEntries(postsByNumber(sim))).toEqual({ '+61412000101': 1, '+61412000106': 1, '+61412000108': 1 });
    const posts = sim.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/calls'));
    for (const p of posts) {
      const body = p.body as { customVariables: { key: string }[] };
      expect(body.customVariables.map((v) => v.key)).toEqual(['plan']);
      expect(JSON.stringify(p.body)).not.toContain('ZQXSECRET');
    }

    const rows = await rt.store.getRows('consent1', [1, 2, 3, 4, 5, 6, 7, 8]);
    expect(rows.map((r) => r!.outcome)).toEqual(['completed', 'no-consent', 'no-consent', 'no-consent', 'no-consent', 'completed', 'no-consent', 'completed']);
    expect(rows[1]).toMatchObject({ row: 2, name: '', phone: '', consent: 'No', error: 'no consent (consent: "No")' });
    expect(rows[1]!.vars).toBeUndefined();
    expect(rows[5]).toMatchObject({ name: 'Fay', phone: '+61412000106', consent: '2024-03-01 web form', vars: { plan: 'gold' } });
    expect(await rt.store.counts('consent1')).toMatchObject({ completed: 3, 'no-consent': 5, finished: 8 });

    // Results: a consent column holding what each dial relied on.
    const res = await writeResults(rt.store, 'consent1', c.resultsPath);
    const table = parse<Record<string, string>>(await readFile(res.file, 'utf8'), { columns: true });
    expect(table.map((r) => r.consent)).toEqual(['yes', 'No', '', 'FALSE', '0', '2024-03-01 web form', 'off', 'Y']);
    expect(table.map((r) => r.outcome)).toEqual(rows.map((r) => r!.outcome));

    // Audit: one dial event per POST, each with the consent value used.
    const audit = await rt.redis.xrange(rt.store.keys.audit('consent1'), '-', '+');
    const dials = audit.map(([, f]) => Object.fromEntries(f.flatMap((_, i) => (i % 2 ? [] : [[f[i], f[i + 1]]])))).filter((e) => e.type === 'dial');
    expect(dials.map((d) => [d.row, d.consent]).sort()).toEqual([['1', 'yes'], ['6', '2024-03-01 web form'], ['8', 'Y']]);

    // Nothing of the unlisted column, nor of the people without consent, is anywhere in Redis
    // (rows, ledger, audit stream, BullMQ job hashes and events...).
    const types = await keyTypes(rt.redis as Redis, prefix);
    expect(types).toContain('hash');
    expect(types).toContain('stream');
    expect(await searchRedis(rt.redis as Redis, prefix, ['ZQXSECRET'])).toEqual([]);
    expect(await searchRedis(rt.redis as Redis, prefix, ['61412000102', '61412000104', '61412000107', 'Bob', 'Gus'])).toEqual([]);
  });

  it('the gate stops a row that lost its consent after loading (defence in depth)', async () => {
    const sim = await newSim({ callDurationMs: { min: 50, max: 150 }, outcomes: { completed: 1 } });
    await t?.rt.close();
    t = await openTestRuntime(prefix, sim);
    const { rt } = t;
    const c = await campaignIn(path.join(dir, 'c2'), { name: 'consent2', assistant_id: 'CE_1', consent_column: 'consent' }, 'name,phone,consent\nAnn,+61412000201,yes\nBob,+61412000202,yes\n');
    // Loaded with consent; row 2's consent is withdrawn in Redis before any worker runs.
    const load = await loadWithScreen(rt, c);
    expect(load.jobs).toBe(2);
    await rt.store.updateRow('consent2', 2, { consent: 'withdrawn' });
    await dialToEnd(rt, c, 30_000, load);
    expect(Object.fromEntries(postsByNumber(sim))).toEqual({ '+61412000201': 1 });
    expect(await rt.store.getRow('consent2', 2)).toMatchObject({ outcome: 'no-consent', error: 'no consent (consent: "withdrawn")' });
  });
});
