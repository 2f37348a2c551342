import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../src/config/campaign.js';
import { DialerError } from '../src/errors.js';
import { feedWindow } from '../src/dialer/feeder.js';
import { loadCampaign } from '../src/loader/load.js';
import type { RowRecord } from '../src/campaign/row.js';
import { parseLedgerEntry, type LedgerEntry } from '../src/store/store.js';
import { campaignIn, cleanupPrefix, keysUnder, openTestRuntime, testPrefix, type TestRuntime } from './helpers/dialer.js';
import { decodeRow } from '../src/store/row-codec.js';

const prefix = testPrefix('load');
let t: TestRuntime;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-load-'));
  t = await openTestRuntime(prefix);
});

afterAll(async () => {
  await t?.rt.close();
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

const load = (c: Campaign) => loadCampaign({ store: t.rt.store, queues: t.rt.queues, log: t.rt.log, now: () => Date.now() }, c);
const campaign = (name: string, csv: string, extra: Record<string, unknown> = {}) =>
  campaignIn(path.join(dir, name), { name, assistant_id: 'CE_1', default_country: 'AU', ...extra }, csv);

async function rows(id: string): Promise<Map<number, RowRecord>> {
  const h = await t.rt.redis.hgetall(t.rt.store.keys.rows(id));
  return new Map(Object.entries(h).map(([k, v]) => [Number(k), decodeRow(v)]));
}

async function jobCount(id: string): Promise<number> {
  const c = await t.rt.queues.get(id).getJobCounts('wait', 'delayed', 'prioritized', 'active', 'completed', 'failed');
  return Object.values(c).reduce((a, b) => a + b, 0);
}

// Row: 1 valid, 2 invalid, 3 valid (US), 4 duplicate of 1 written another way, 5 blank phone,
// 6 valid, 7 duplicate of 3, 8 duplicate of 1 again.
const MIXED = [
  'name,phone,plan',
  'Ann,0412 000 001,gold',
  'Bob,12345,silver',
  'Cat,+1 (212) 201-0001,gold',
  'Dan,+61412000001,bronze',
  'Eve,,gold',
  'Fay,+61 412 000 006,silver',
  'Gus,+12122010001,gold',
  'Hal,04-1200-0001,gold',
].join('\n') + '\n';

describe('loadCampaign on Redis', () => {
  it('writes every row with its verdict; rejected and duplicate rows are final with reasons', async () => {
    const c = await campaign('mixed', MIXED);
    const sum = await load(c);
    expect(sum).toMatchObject({ campaign: 'mixed', rows: 8, accepted: 3, rejected: 2, duplicates: 3, screened: 0, jobs: 3 });

    const r = await rows('mixed');
    expect([...r.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(r.get(1)).toEqual({ row: 1, name: 'Ann', phone: '+61412000001', vars: { name: 'Ann', plan: 'gold' }, state: 'queued', job: 'mixed-1' });
    expect(r.get(3)).toMatchObject({ row: 3, name: 'Cat', phone: '+12122010001' });
    expect(r.get(6)).toMatchObject({ row: 6, name: 'Fay', phone: '+61412000006' });
    for (const n of [1, 3, 6]) expect(r.get(n)!.outcome).toBeUndefined();

    expect(r.get(2)).toMatchObject({ row: 2, name: 'Bob', phone: '12345', outcome: 'rejected' });
    expect(r.get(2)!.error).toMatch(/^phone: /);
    expect(r.get(5)).toMatchObject({ row: 5, outcome: 'rejected', error: 'phone: missing phone number' });

    expect(r.get(4)).toMatchObject({ row: 4, phone: '+61412000001', outcome: 'duplicate', error: 'duplicate of row 1' });
    expect(r.get(7)).toMatchObject({ row: 7, phone: '+12122010001', outcome: 'duplicate', error: 'duplicate of row 3' });
    expect(r.get(8)).toMatchObject({ row: 8, phone: '+61412000001', outcome: 'duplicate', error: 'duplicate of row 1' });

    expect(await t.rt.store.counts('mixed')).toEqual({ rejected: 2, duplicate: 3, finished: 5 });
    const info = await t.rt.store.getCampaign('mixed');
    expect(info).toMatchObject({ state: 'running', total: 8 });

    // The ledger holds one pending claim per distinct valid number, owned by its first row.
    const ledger = await t.rt.redis.hgetall(t.rt.store.keys.ledger('mixed'));
    expect(Object.fromEntries(Object.entries(ledger).map(([k, v]) => [k, (JSON.parse(v) as LedgerEntry).r]))).toEqual({
      '+61412000001': 1, '+12122010001': 3, '+61412000006': 6,
    });
    for (const v of Object.values(ledger)) {
      expect(parseLedgerEntry(v)).toMatchObject({ s: 'pending', a: 0 });
      // Stored compact: no attempts yet, no state change since the claim.
      expect(JSON.parse(v)).toEqual({ s: 'pending', r: parseLedgerEntry(v).r });
    }

    // One dial job per row to call, with the deterministic id; the queue is running.
    const q = t.rt.queues.get('mixed');
    const jobs = await q.getJobs(['wait', 'delayed', 'prioritized']);
    expect(jobs.map((j) => j.id).sort()).toEqual(['mixed-1', 'mixed-3', 'mixed-6']);
    expect(jobs.map((j) => j.data)).toEqual(expect.arrayContaining([{ row: 1 }, { row: 3 }, { row: 6 }]));
    expect(await q.isPaused()).toBe(false);
    // Personal data stays in the row table, not in the job.
    expect(JSON.stringify(jobs.map((j) => j.data))).not.toContain('Ann');
  });

  it('loading the same campaign twice adds no job and no row twice', async () => {
    const csv = ['name,phone', ...Array.from({ length: 1500 }, (_, i) => `P${i + 1},+614120${String(i % 1200).padStart(5, '0')}`)].join('\n');
    const c = await campaign('twice', csv);
    const first = await load(c);
    expect(first).toMatchObject({ rows: 1500, accepted: 1200, duplicates: 300, jobs: 1200 });
    const before = {
      jobs: await jobCount('twice'),
      counts: await t.rt.store.counts('twice'),
      rows: await t.rt.redis.hlen(t.rt.store.keys.rows('twice')),
      ledger: await t.rt.redis.hlen(t.rt.store.keys.ledger('twice')),
    };
    // The first window has its jobs (dialer/feeder.ts); the other queued rows wait above the feed cursor.
    expect(before).toEqual({ jobs: feedWindow(c), counts: { duplicate: 300, finished: 300 }, rows: 1500, ledger: 1200 });
    expect(await t.rt.store.feed.unfed('twice')).toBe(1200 - feedWindow(c));

    const second = await load(c);
    expect(second).toMatchObject({ rows: 1500, accepted: 1200, duplicates: 300 });
    expect({
      jobs: await jobCount('twice'),
      counts: await t.rt.store.counts('twice'),
      rows: await t.rt.redis.hlen(t.rt.store.keys.rows('twice')),
      ledger: await t.rt.redis.hlen(t.rt.store.keys.ledger('twice')),
    }).toEqual(before);
    // Row 1201 is still a duplicate of row 1, not the other way round.
    expect(await t.rt.store.getRow('twice', 1201)).toMatchObject({ outcome: 'duplicate', error: 'duplicate of row 1' });
    expect(await t.rt.store.getCampaign('twice')).toMatchObject({ state: 'running', total: 1500 });
  });

  it('a CSV broken half-way leaves nothing of the campaign in Redis, and the error names file and line', async () => {
    const lines = ['name,phone'];
    for (let i = 1; i < 2000; i++) lines.push(i === 1499 ? `"Broken ${i},+61412${String(i).padStart(6, '0')}` : `P${i},+61412${String(i).padStart(6, '0')}`);
    expect(lines).toHaveLength(2000);
    const c = await campaign('broken', lines.join('\n') + '\n');

    const err = await load(c).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DialerError);
    expect((err as DialerError).code).toBe('CSV_INVALID');
    expect((err as Error).message).toContain(c.contactsPath);
    expect((err as Error).message).toMatch(/line 1500\b/);

    const p = t.rt.store.keys.prefix;
    // The first 1000 rows were written (and queued) before the parser met line 1500: all gone now.
    expect(await keysUnder(t.rt.redis, `${p}:c:broken*`)).toEqual([]);
    expect(await keysUnder(t.rt.redis, `${p}:dial-broken:*`)).toEqual([]);
    expect(await keysUnder(t.rt.redis, `${p}:limiter:c:broken`)).toEqual([]);
    expect(await t.rt.store.listCampaigns()).not.toContain('broken');
    expect(await t.rt.store.getCampaign('broken')).toBeUndefined();
    expect(await jobCount('broken')).toBe(0);
  });

  it('keepOnCsvError keeps exactly the whole chunks read before the break, though a chunk is written while the next is read', async () => {
    const lines = ['name,phone'];
    for (let i = 1; i <= 2600; i++) lines.push(i === 2500 ? `"Broken ${i},+61413${String(i).padStart(6, '0')}` : `P${i},+61413${String(i).padStart(6, '0')}`);
    const c = await campaign('kept', lines.join('\n') + '\n');

    const err = await loadCampaign({ store: t.rt.store, queues: t.rt.queues, log: t.rt.log, now: () => Date.now(), keepOnCsvError: true }, c).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as DialerError).code).toBe('CSV_INVALID');
    // Rows 1–2000 (two chunks) were read before line 2501; the second one may still have been
    // on its way to Redis when the parser failed: the load returns only once it is written.
    const r = await rows('kept');
    expect(r.size).toBe(2000);
    expect(r.has(2000)).toBe(true);
    expect(r.has(2001)).toBe(false);
    // No job yet: the load broke off before its first window; the rows wait above the feed cursor for the workers.
    expect(await jobCount('kept')).toBe(0);
    expect(await t.rt.store.feed.unfed('kept')).toBe(2000);
  });

  it('a campaign whose every row is rejected is done at once, with nothing queued', async () => {
    const c = await campaign('allbad', 'name,phone\nA,12\nB,not a number\nC,\nD,+99 123\n');
    const sum = await load(c);
    expect(sum).toMatchObject({ rows: 4, accepted: 0, rejected: 4, jobs: 0 });
    const info = await t.rt.store.getCampaign('allbad');
    expect(info).toMatchObject({ state: 'done', total: 4 });
    expect(info!.finishedAt).toBeTruthy();
    expect(await t.rt.store.counts('allbad')).toEqual({ rejected: 4, finished: 4 });
    expect(await jobCount('allbad')).toBe(0);
    const r = await rows('allbad');
    expect([...r.values()].every((x) => x.outcome === 'rejected' && typeof x.error === 'string' && x.error.startsWith('phone: '))).toBe(true);
  });

  it('a duplicate-only tail still finishes the count: rows = accepted + rejected + duplicates', async () => {
    const c = await campaign('dups', 'phone\n0412 000 100\n+61412000100\n0412000100\n');
    const sum = await load(c);
    expect(sum).toMatchObject({ rows: 3, accepted: 1, duplicates: 2, jobs: 1 });
    expect(await t.rt.store.getCampaign('dups')).toMatchObject({ state: 'running', total: 3 });
    expect(await t.rt.store.counts('dups')).toEqual({ duplicate: 2, finished: 2 });
  });
});
