import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventJob, eventsQueue } from '../src/events/queue.js';
import { forgetNumber } from '../src/privacy/forget.js';
import { isErased, markErased, numberHash } from '../src/privacy/hash.js';
import { completePendingErasures } from '../src/privacy/retention.js';
import { writeResults } from '../src/results/export.js';
import { campaignIn, cleanupPrefix, openTestRuntime, postsByNumber, REDIS_URL, runCli, testPrefix, type TestRuntime } from './helpers/dialer.js';
import { useSimulators } from './helpers/sim-http.js';
import { dialToEnd, keyTypes, loadWithScreen, searchRedis } from './privacy-helpers.js';

const prefix = testPrefix('privacy-forget');
const KEY = 'forget-test-key-0123456789';
const newSim = useSimulators();
let dir: string;
let t: TestRuntime | undefined;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-forget-'));
});
afterAll(async () => {
  await t?.rt.close();
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

const TARGET = '+61412000301';
const DIGITS = '61412000301';
// The target appears as row 1, again as a duplicate written another way (row 3), and in a
// ragged (rejected) row as typed (row 4). Row 2 is someone else.
const CSV_A = [
  'name,phone,email',
  'Annabel Target,+61 412 000 301,annabel@example.com',
  'Bob Other,+61412000302,bob@example.com',
  'Annabel T,0412 000 301,annabel@example.com',
  'Annabel X,0412 000 301,annabel@example.com,extra',
].join('\n') + '\n';

describe('dialer forget', () => {
  it('removes the person from every campaign, key type and results file; later campaigns never call them', async () => {
    const sim = await newSim({ callDurationMs: { min: 50, max: 150 }, outcomes: { completed: 1 }, assistants: ['CE_1'] });
    t = await openTestRuntime(prefix, sim, { hashKey: KEY });
    const { rt } = t;
    const redis = rt.redis as Redis;
    const camp = (name: string, csv: string, extra: Record<string, unknown> = {}) =>
      campaignIn(path.join(dir, name), { name, assistant_id: 'CE_1', default_country: 'AU', rate: { calls: 50, per_seconds: 1 }, results: path.join(dir, `${name}.csv`), ...extra }, csv);

    // A: dialed to the end, results written as CSV and JSONL.
    const a = await camp('fa', CSV_A);
    await dialToEnd(rt, a);
    await writeResults(rt.store, 'fa', a.resultsPath, 'csv');
    await writeResults(rt.store, 'fa', a.resultsPath.replace(/\.csv$/, '.jsonl'), 'jsonl');
    // B: an assistant the API doesn't know: every row is dead-lettered (BullMQ keeps the failed jobs).
    const b = await camp('fb', 'name,phone\nAnnabel Target,+61412000301\nBob Other,+61412000302\n', { assistant_id: 'CE_404', retry: { attempts: 1 } });
    await dialToEnd(rt, b);
    expect(await redis.zcard(rt.store.keys.dlq('fb'))).toBe(2);
    // C: loaded, not dialed yet (its dial jobs wait in BullMQ).
    const c = await camp('fc', 'name,phone\nAnnabel Target,0412000301\nBob Other,0412000302\n');
    await loadWithScreen(rt, c);
    // What the frequency cap and the suppression list keep per number.
    await redis.zadd(rt.store.keys.frequency(TARGET), Date.now(), 'fa:1');
    await redis.sadd(rt.store.keys.suppression, TARGET, '+61412000999');

    expect((await searchRedis(redis, prefix, [DIGITS])).length).toBeGreaterThan(5);
    const types = await keyTypes(redis, prefix);
    for (const ty of ['hash', 'zset', 'set', 'stream']) expect(types).toContain(ty);

    const r = await forgetNumber({ store: rt.store, log: rt.log, hashKey: KEY }, '0412 000 301', { country: 'AU' });

    expect(r.numbers).toEqual(['+614•••••301']);
    expect(r.newlyErased).toBe(true);
    expect(r.leftovers).toEqual([]);
    expect(r.frequencyKeys).toBe(1);
    expect(r.suppressionEntries).toBe(1);
    const by = Object.fromEntries(r.campaigns.map((e) => [e.campaign, e]));
    expect(by.fa).toMatchObject({ rows: 3, stopped: 0, deferred: 0, ledger: 1, deadLetters: 0 });
    expect(by.fa!.callIds).toHaveLength(1);
    expect(by.fa!.results.sort()).toEqual([a.resultsPath, a.resultsPath.replace(/\.csv$/, '.jsonl')].sort());
    expect(by.fb).toMatchObject({ rows: 1, ledger: 1, deadLetters: 1 });
    expect(by.fc).toMatchObject({ rows: 1, stopped: 1, ledger: 1 });

    // Nowhere in Redis: rows, ledgers, dead letters, BullMQ job hashes, audit streams, freq, suppression.
    expect(await searchRedis(redis, prefix, [DIGITS, '0412 000 301', '0412000301', 'Annabel', 'annabel@'])).toEqual([]);
    expect(await isErased(rt.store, TARGET, KEY)).toBe(true);
    expect(await redis.sismember(rt.store.keys.erased, numberHash(TARGET, KEY))).toBe(1);
    expect(await redis.sismember(rt.store.keys.suppression, '+61412000999')).toBe(1);

    // Rows stay with their outcome; the person's fields are blank.
    expect(await rt.store.getRow('fa', 1)).toMatchObject({ row: 1, name: '', phone: '', outcome: 'completed', attempts: 1 });
    expect((await rt.store.getRow('fa', 1))!.vars).toBeUndefined();
    expect(await rt.store.getRow('fa', 2)).toMatchObject({ name: 'Bob Other', phone: '+61412000302' });
    expect(await rt.store.getRow('fa', 3)).toMatchObject({ outcome: 'duplicate', phone: '' });
    expect(await rt.store.getRow('fa', 4)).toMatchObject({ outcome: 'rejected', phone: '' });
    expect(await rt.store.getRow('fb', 1)).toMatchObject({ outcome: 'dead-letter', phone: '' });
    expect(await redis.zrange(rt.store.keys.dlq('fb'), 0, -1)).toEqual(['2']);
    expect(await rt.store.getRow('fc', 1)).toMatchObject({ outcome: 'suppressed', error: 'number erased on request', phone: '' });
    expect(await rt.store.counts('fc')).toMatchObject({ suppressed: 1, finished: 1 });

    // Results files: same rows, outcomes kept, the person gone.
    for (const f of [a.resultsPath, a.resultsPath.replace(/\.csv$/, '.jsonl')]) {
      const text = await readFile(f, 'utf8');
      expect(text).not.toMatch(/61412000301|0412 000 301|Annabel|annabel@/);
      expect(text).toContain('Bob Other');
    }
    const table = parse<Record<string, string>>(await readFile(a.resultsPath, 'utf8'), { columns: true });
    expect(table.map((x) => [x.row, x.outcome, x.phone])).toEqual([['1', 'completed', ''], ['2', 'completed', '+61412000302'], ['3', 'duplicate', ''], ['4', 'rejected', '']]);

    // C is dialed now: only Bob is called.
    const before = postsByNumber(sim).get(TARGET) ?? 0;
    await dialToEnd(rt, c, 30_000, { campaign: 'fc', rows: 2, accepted: 2, rejected: 0, duplicates: 0, screened: 0, jobs: 2 });
    // D, a later campaign with the number in yet another format: suppressed at load, never POSTed.
    const d = await camp('fd', 'name,phone\nAnnabel Again,+61 (0)412 000 301\nCarl New,+61412000303\n');
    const loadD = await dialToEnd(rt, d);
    expect(loadD).toMatchObject({ screened: 1, jobs: 1 });
    expect(await rt.store.getRow('fd', 1)).toEqual({ row: 1, name: '', phone: '', outcome: 'suppressed', error: 'number erased on request', state: 'final' });
    expect(postsByNumber(sim).get(TARGET) ?? 0).toBe(before);
    expect(postsByNumber(sim).get('+61412000303')).toBe(1);
    expect(await searchRedis(redis, prefix, [DIGITS, 'Annabel'])).toEqual([]);

    // Forgetting again changes nothing and says so.
    const again = await forgetNumber({ store: rt.store, log: rt.log, hashKey: KEY }, TARGET);
    expect(again).toMatchObject({ newlyErased: false, campaigns: [], leftovers: [] });
  });

  it('the gate stops a number erased after its campaign was loaded; the sweep then blanks the row', async () => {
    const sim = await newSim({ callDurationMs: { min: 50, max: 150 }, outcomes: { completed: 1 } });
    await t?.rt.close();
    t = await openTestRuntime(prefix, sim, { hashKey: KEY });
    const { rt } = t;
    const e = await campaignIn(path.join(dir, 'fe'), { name: 'fe', assistant_id: 'CE_1', rate: { calls: 50, per_seconds: 1 } }, 'name,phone\nLate Eraser,+61412000401\nKeep Me,+61412000402\n');
    const load = await loadWithScreen(rt, e);
    expect(load.jobs).toBe(2);
    // As if `forget` ran between this load's screen and the dial.
    await markErased(rt.store, ['+61412000401'], KEY);
    await dialToEnd(rt, e, 30_000, load);
    expect(Object.fromEntries(postsByNumber(sim))).toEqual({ '+61412000402': 1 });
    expect(await rt.store.getRow('fe', 1)).toMatchObject({ outcome: 'suppressed', error: 'number erased on request' });
    expect(await completePendingErasures({ store: rt.store, log: rt.log })).toBe(1);
    expect(await rt.store.getRow('fe', 1)).toMatchObject({ name: '', phone: '', outcome: 'suppressed' });
    expect(await searchRedis(rt.redis as Redis, `${prefix}:c:fe`, ['61412000401', 'Late Eraser'])).toEqual([]);
  });

  it('a call in flight keeps its number until it ends, then the sweep erases it', async () => {
    await t?.rt.close();
    t = await openTestRuntime(prefix, undefined, { hashKey: KEY });
    const { rt } = t;
    const f = await campaignIn(path.join(dir, 'ff'), { name: 'ff', assistant_id: 'CE_1' }, 'name,phone,plan\nIn Flight,+61412000501,gold\n');
    await loadWithScreen(rt, f);
    expect((await rt.store.ledgerBegin('ff', '+61412000501', Date.now(), 'test-token', 60_000)).ok).toBe(true); // a worker is sending right now
    const r = await forgetNumber({ store: rt.store, log: rt.log, hashKey: KEY }, '+61412000501');
    expect(r.campaigns).toMatchObject([{ campaign: 'ff', rows: 0, deferred: 1, ledger: 0 }]);
    // The number stays in the row, the ledger and its sending index until the call ends: waiting, not left over
    // (history seed 206 had `forget` exit 1 naming ledger:sending).
    expect(r.leftovers).toEqual([]);
    expect(await rt.store.getRow('ff', 1)).toEqual({ row: 1, name: '', phone: '+61412000501', state: 'sending', job: 'ff-1' });
    expect(await rt.store.ledgerGet('ff', '+61412000501')).toMatchObject({ s: 'sending' });
    expect(await completePendingErasures({ store: rt.store, log: rt.log })).toBe(0); // still in flight
    await rt.store.updateRow('ff', 1, { call_id: 'call-9', summary: 'talked about gold' }, 'completed'); // the poller finishes it
    expect(await completePendingErasures({ store: rt.store, log: rt.log })).toBe(1);
    expect(await rt.store.getRow('ff', 1)).toEqual({ row: 1, name: '', phone: '', outcome: 'completed', call_id: 'call-9', state: 'final', job: 'ff-1' });
    expect(await rt.store.ledgerGet('ff', '+61412000501')).toBeUndefined();
    expect(await rt.redis.scard(rt.store.keys.erasePending)).toBe(0);
  });

  it('finds the person by an alternate number, and blanks the event deliveries Redis still holds for the row', async () => {
    const sim = await newSim({ callDurationMs: { min: 50, max: 150 }, outcomes: { completed: 1 } });
    await t?.rt.close();
    t = await openTestRuntime(prefix, sim, { hashKey: KEY });
    const { rt } = t;
    const g = await campaignIn(path.join(dir, 'fg'), { name: 'fg', assistant_id: 'CE_1', id_column: 'crm', phone_columns: ['mobile', 'work'], rate: { calls: 50, per_seconds: 1 } },
      'crm,name,mobile,work\nCRM-1,Alt Person,+61412000601,+61412000602\nCRM-2,Other Person,+61412000603,\n');
    await dialToEnd(rt, g);
    expect(await rt.store.getRow('fg', 1)).toMatchObject({ phone: '+61412000601', alts: ['+61412000602'], outcome: 'completed' });
    // Deliveries as the relay queues them, waiting for a retry (the receiver was down).
    const queue = eventsQueue(rt.redis, rt.store.keys);
    const event = (row: number, crm: string, name: string, phone: string) => eventJob({ url: 'https://crm.example/h', event: {
      id: `evt_fg_${row}_finished`, type: 'contact.finished', created: new Date().toISOString(), campaign: 'fg',
      data: { row, outcome: 'completed', call_id: null, attempts: 1, contact_id: crm, fields: { name, phone, outcome: 'completed' } } } }, 3);
    for (const e of [event(1, 'CRM-1', 'Alt Person', '+61412000601'), event(2, 'CRM-2', 'Other Person', '+61412000603')]) await queue.add(e.name, e.data, { ...e.opts, delay: 60_000 });
    try {
      const r = await forgetNumber({ store: rt.store, log: rt.log, hashKey: KEY }, '+61412000602');
      expect(r.leftovers).toEqual([]);
      expect(r.campaigns).toMatchObject([{ campaign: 'fg', rows: 1, deferred: 0, events: 1 }]);
      expect(await rt.store.getRow('fg', 1)).toMatchObject({ name: '', phone: '', outcome: 'completed' });
      expect((await rt.store.getRow('fg', 1))!.alts).toBeUndefined();
      expect((await queue.getJob('evt_fg_1_finished'))!.data.event.data).toEqual({ row: 1, outcome: 'completed', call_id: null, attempts: 1, fields: { name: '', phone: '', outcome: 'completed' } });
      expect((await queue.getJob('evt_fg_2_finished'))!.data.event.data).toMatchObject({ contact_id: 'CRM-2', fields: { name: 'Other Person', phone: '+61412000603' } });
      expect(await searchRedis(rt.redis as Redis, prefix, ['61412000601', '61412000602', 'Alt Person', 'CRM-1'])).toEqual([]);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it('a row in flight on its first number keeps it when its alternate is forgotten; the row is not ended under the call', async () => {
    await t?.rt.close();
    t = await openTestRuntime(prefix, undefined, { hashKey: KEY });
    const { rt } = t;
    const h = await campaignIn(path.join(dir, 'fh'), { name: 'fh', assistant_id: 'CE_1', phone_columns: ['mobile', 'work'] }, 'name,mobile,work\nFly Alt,+61412000701,+61412000702\n');
    await loadWithScreen(rt, h);
    expect((await rt.store.ledgerBegin('fh', '+61412000701', Date.now(), 'test-token', 60_000)).ok).toBe(true); // dialing the first number now
    const r = await forgetNumber({ store: rt.store, log: rt.log, hashKey: KEY }, '+61412000702');
    expect(r.campaigns).toMatchObject([{ campaign: 'fh', rows: 0, stopped: 0, deferred: 1 }]);
    const rec = await rt.store.getRow('fh', 1);
    expect(rec).toMatchObject({ name: '', phone: '+61412000701', state: 'sending' });
    expect(rec!.outcome).toBeUndefined();
    expect(await rt.redis.sismember(rt.store.keys.erasePending, 'fh|1')).toBe(1);
  });
});

describe('dialer forget (CLI)', () => {
  const env = () => ({ REDIS_URL, DIALER_PREFIX: prefix, LOG_LEVEL: 'warn' });

  it('refuses without DIALER_HASH_KEY, and prints what it removed with it', async () => {
    const no = await runCli(['forget', '+61412000302'], env());
    expect(no.code).toBe(1);
    expect(no.stderr).toMatch(/DIALER_HASH_KEY is not set/);
    const yes = await runCli(['forget', '0412 000 302', '--country', 'AU'], { ...env(), DIALER_HASH_KEY: KEY });
    expect(yes.stderr).toBe('');
    expect(yes.code).toBe(0);
    expect(yes.stdout).toMatch(/^forgot \+614•••••302; it will not be dialed again/);
    expect(yes.stdout).toMatch(/fa: 1 row\(s\) blanked, ledger entries 1, dead letters 0, rewrote /);
    expect(yes.stdout).toMatch(/fb: 1 row\(s\) blanked, ledger entries 1, dead letters 1/);
    expect(yes.stdout).not.toContain('WARNING');
    const bad = await runCli(['forget', '0412 000 302'], { ...env(), DIALER_HASH_KEY: KEY, DIALER_PREFIX: `${prefix}-empty` });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/give --country/);
  });
});
