/** The campaign page's outcome filter on a campaign whose rows ended before the outcome index existed. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsPage } from '../src/campaign/rows-page.js';
import { OUTCOMES } from '../src/campaign/row.js';
import { loadCampaign } from '../src/loader/load.js';
import { campaignIn, cleanupPrefix, openTestRuntime, testPrefix, type TestRuntime } from './helpers/dialer.js';

const prefix = testPrefix('rows-backfill');
let dir: string;
let t: TestRuntime;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-backfill-'));
  t = await openTestRuntime(prefix);
});
afterAll(async () => {
  await t.rt.close();
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

describe('outcome index backfill', () => {
  it('builds the index once from the rows, then pages by it', async () => {
    const { rt } = t;
    const csv = ['name,phone', 'A,+61412000001', 'B,12345', 'C,+61412000001', 'D,call me', 'E,+61412000005'].join('\n') + '\n';
    const c = await campaignIn(path.join(dir, 'bf'), { name: 'bf', assistant_id: 'CE_1', default_country: 'AU' }, csv);
    await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => Date.now() }, c);
    const before = await rowsPage(rt.store, 'bf', { outcome: 'rejected' });
    expect(before.rows.map((r) => r.row)).toEqual([2, 4]);

    // As a campaign of an older version: rows final, no index.
    await rt.redis.del(...OUTCOMES.map((o) => rt.store.keys.rowsByOutcome('bf', o)));
    expect(await rt.store.rowPages.indexedCount('bf')).toBe(0);
    const rejected = await rowsPage(rt.store, 'bf', { outcome: 'rejected' });
    expect(rejected).toMatchObject({ total: 2 });
    expect(rejected.rows.map((r) => [r.row, r.outcome])).toEqual([[2, 'rejected'], [4, 'rejected']]);
    expect((await rowsPage(rt.store, 'bf', { outcome: 'duplicate' })).rows.map((r) => r.row)).toEqual([3]);
    expect(await rt.store.rowPages.indexedCount('bf')).toBe(3);
    // Nothing more to add: a second pass finds every final row indexed.
    expect(await rt.store.rowPages.backfillOutcomes('bf')).toBe(0);
  });
});
