/** The per-outcome row indexes as bitmaps (store/outcome-index.ts), and the sorted sets of campaigns indexed before still read and kept. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rowsPage } from '../src/campaign/rows-page.js';
import { loadCampaign } from '../src/loader/load.js';
import { useTestBed } from './helpers/bed.js';
import { campaignIn, openTestRuntime } from './helpers/dialer.js';

const bed = useTestBed('outcome-index');

async function runtime() {
  const t = await openTestRuntime(bed.prefix);
  bed.open.push({ t });
  return t.rt;
}

/** Every row of the index, paged `limit` at a time as the campaign page pages. */
async function allPages(rt: Awaited<ReturnType<typeof runtime>>, id: string, outcome: string, limit: number): Promise<number[]> {
  const out: number[] = [];
  let after = 0;
  for (;;) {
    const page = await rt.store.rowPages.outcomeRows(id, outcome, after, limit);
    out.push(...page);
    if (page.length < limit) return out;
    after = page[page.length - 1]!;
  }
}

describe('outcome index', () => {
  it('is a bitmap in a new campaign: the page filter, its total and the counts read it', async () => {
    const rt = await runtime();
    const csv = ['name,phone', 'A,+61412000001', 'B,12345', 'C,+61412000001', 'D,call me', 'E,+61412000005'].join('\n') + '\n';
    const c = await campaignIn(path.join(bed.dir, 'bits'), { name: 'bits', assistant_id: 'CE_1', default_country: 'AU' }, csv);
    await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => Date.now() }, c);
    expect(await rt.redis.type(rt.store.keys.rowsByOutcome('bits', 'rejected'))).toBe('string');
    const page = await rowsPage(rt.store, 'bits', { outcome: 'rejected' });
    expect(page).toMatchObject({ total: 2, next_after: null });
    expect(page.rows.map((r) => [r.row, r.outcome])).toEqual([[2, 'rejected'], [4, 'rejected']]);
    expect((await rowsPage(rt.store, 'bits', { outcome: 'duplicate' })).rows.map((r) => r.row)).toEqual([3]);
    expect((await rowsPage(rt.store, 'bits', { outcome: 'rejected', limit: 1 })).next_after).toBe(2);
    expect(await rt.store.rowPages.indexedCount('bits')).toBe(3);
    expect(await rt.store.rowPages.outcomeCount('bits', 'completed')).toBe(0);

    // A dead letter sent back to the queue leaves its index.
    await rt.store.moveRow('bits', 1, { outcome: 'dead-letter', patch: { error: 'x' } });
    expect(await rt.store.rowPages.outcomeRows('bits', 'dead-letter', 0, 10)).toEqual([1]);
    expect(await rt.store.reopenRow('bits', 1, 'dead-letter', 'bits-1-dlq')).toBe(true);
    expect(await rt.store.rowPages.outcomeRows('bits', 'dead-letter', 0, 10)).toEqual([]);
    expect(await rt.store.rowPages.outcomeCount('bits', 'dead-letter')).toBe(0);
  });

  it('pages dense and sparse bitmaps across chunks, in order, after any row', async () => {
    const rt = await runtime();
    const id = 'pages';
    const rows = rt.store.keys.rows(id);
    // Rows 1..12000: every 7th busy, a few far apart voicemail (runs of zero bytes longer than a chunk).
    const busy: number[] = [];
    const voicemail = [3, 4100, 4101, 11_999, 12_000];
    const flat: string[] = [];
    for (let r = 1; r <= 12_000; r++) {
      const outcome = voicemail.includes(r) ? 'voicemail' : r % 7 === 0 ? 'busy' : 'completed';
      if (outcome === 'busy') busy.push(r);
      flat.push(String(r), JSON.stringify({ row: r, name: '', phone: '', outcome }));
    }
    await rt.redis.hset(rows, ...flat);
    expect(await rt.store.rowPages.backfillOutcomes(id)).toBe(12_000);
    expect(await rt.store.rowPages.outcomeCount(id, 'busy')).toBe(busy.length);
    expect(await rt.store.rowPages.outcomeCount(id, 'voicemail')).toBe(5);
    expect(await rt.store.rowPages.indexedCount(id)).toBe(12_000);
    for (const limit of [1, 50, 5000]) {
      expect(await allPages(rt, id, 'busy', limit)).toEqual(busy);
      expect(await allPages(rt, id, 'voicemail', limit)).toEqual(voicemail);
    }
    for (const after of [0, 2, 3, 4099, 4100, 4101, 11_998, 11_999, 12_000, 50_000]) {
      expect(await rt.store.rowPages.outcomeRows(id, 'voicemail', after, 3)).toEqual(voicemail.filter((r) => r > after).slice(0, 3));
      expect(await rt.store.rowPages.outcomeRows(id, 'busy', after, 2)).toEqual(busy.filter((r) => r > after).slice(0, 2));
    }
    expect(await rt.store.rowPages.outcomeRows(id, 'failed', 0, 10)).toEqual([]);
  });

  it('keeps reading and writing the sorted set of a campaign indexed before', async () => {
    const rt = await runtime();
    const csv = ['name,phone', 'A,+61412000001', 'B,12345', 'C,+61412000003', 'D,call me'].join('\n') + '\n';
    const c = await campaignIn(path.join(bed.dir, 'old'), { name: 'old', assistant_id: 'CE_1', default_country: 'AU' }, csv);
    await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => Date.now() }, c);
    // As the version before wrote it: a sorted set, member and score the row number.
    const rejected = rt.store.keys.rowsByOutcome('old', 'rejected');
    const dead = rt.store.keys.rowsByOutcome('old', 'dead-letter');
    await rt.redis.del(rejected);
    await rt.redis.zadd(rejected, 2, '2', 4, '4');
    await rt.redis.zadd(dead, 9, '9');
    expect((await rowsPage(rt.store, 'old', { outcome: 'rejected' })).rows.map((r) => r.row)).toEqual([2, 4]);
    expect(await rt.store.rowPages.outcomeRows('old', 'rejected', 2, 10)).toEqual([4]);
    expect(await rt.store.rowPages.indexedCount('old')).toBe(3);

    // A row that ends now goes into the sorted set that is there, and leaves it again.
    await rt.store.moveRow('old', 1, { outcome: 'dead-letter', patch: { error: 'x' } });
    expect(await rt.redis.type(dead)).toBe('zset');
    expect(await rt.redis.zrange(dead, 0, -1)).toEqual(['1', '9']);
    expect(await rt.store.rowPages.outcomeRows('old', 'dead-letter', 0, 10)).toEqual([1, 9]);
    expect(await rt.store.reopenRow('old', 1, 'dead-letter', 'old-1-dlq')).toBe(true);
    expect(await rt.redis.zrange(dead, 0, -1)).toEqual(['9']);
    // An outcome with no key yet gets a bitmap.
    await rt.store.moveRow('old', 3, { outcome: 'busy', patch: {} });
    expect(await rt.redis.type(rt.store.keys.rowsByOutcome('old', 'busy'))).toBe('string');
    expect(await rt.store.rowPages.outcomeRows('old', 'busy', 0, 10)).toEqual([3]);
  });
});
