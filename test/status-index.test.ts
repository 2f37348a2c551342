/**
 * The indexes behind an O(1) `status` (waiting-for-window rows, sending
 * ledger entries, ledger counts, call id → row, the campaign's polls) agree
 * with a full scan of the rows and the ledger after random histories of
 * every store step that writes them: gate delays, POST steps, outcomes,
 * cancels, expiry at a deadline, erasure, dead-letter retry, released
 * claims, poll scheduling. Real Redis, the store's own scripts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanWaitingRows } from '../src/campaign/status.js';
import type { RowRecord } from '../src/campaign/row.js';
import { mulberry32 } from '../src/simulator/prng.js';
import { Store } from '../src/store/store.js';
import { REDIS_URL, campaignIn, cleanupPrefix, testPrefix } from './helpers/dialer.js';
import { indexDrift } from './helpers/index-drift.js';

const prefix = testPrefix('status-index');
let redis: Redis;
let store: Store;
let dir: string;

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  store = new Store(redis, prefix);
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-status-index-'));
});
afterAll(async () => {
  redis.disconnect();
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

async function newCampaign(name: string, rows: number): Promise<{ phones: string[] }> {
  const phones = Array.from({ length: rows }, (_, i) => `+6141${String(1000000 + i).slice(1)}`);
  const c = await campaignIn(path.join(dir, name), { name, assistant_id: 'CE_x', default_country: 'AU', results: path.join(dir, `${name}.csv`) }, 'name,phone\n');
  await store.saveCampaign(c, 'running');
  const recs: RowRecord[] = phones.map((phone, i) => ({ row: i + 1, name: `P${i + 1}`, phone, job: `j${i + 1}` }));
  await store.claimNumbers(name, phones.map((p, i) => [p, i + 1]), Date.now());
  await store.loadRows(name, recs);
  await store.finishLoading(name, rows);
  return { phones };
}

/** Polls of one campaign counted the old way (a scan of the account-wide schedule). */
async function scanPolls(id: string): Promise<number> {
  let n = 0;
  let cursor = '0';
  do {
    const [next, items] = await redis.zscan(store.keys.polls, cursor, 'MATCH', `${id}|*`, 'COUNT', 1000);
    cursor = next;
    n += items.length / 2;
  } while (cursor !== '0');
  return n;
}

async function expectAgreement(id: string, step: string): Promise<void> {
  expect(await indexDrift(redis, store.keys, id), step).toEqual([]);
  expect(await store.indexes.waiting(id), step).toEqual(await scanWaitingRows(store, id));
  expect(await store.pendingPolls(id), step).toBe(await scanPolls(id));
  const byScan = new Map<string, number>();
  for await (const [num, e] of store.ledgerEntries(id)) if (e.s === 'sending') byScan.set(num, e.sent ?? e.t);
  const byIndex = new Map((await store.indexes.sending(id, 1_000_000)).map((x) => [x.number, x.sentMs] as const));
  expect(byIndex, step).toEqual(byScan);
}

describe('status indexes', () => {
  it('agree with a scan after random histories of store steps', async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const rand = mulberry32(seed * 7919);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
      const id = `hist${seed}`;
      const N = 12;
      const { phones } = await newCampaign(id, N);
      const randomIso = () => new Date(Math.floor(rand() * 4_000_000_000_000) - 500_000_000_000).toISOString();
      let calls = 0;
      const log: string[] = [];
      for (let step = 0; step < 120; step++) {
        const row = 1 + Math.floor(rand() * N);
        const phone = phones[row - 1]!;
        const op = pick(['delay', 'delay', 'queued', 'begin', 'begin', 'placed', 'failed', 'ambiguous', 'finish', 'redial', 'cancel', 'expire', 'erase', 'reopen', 'release', 'poll', 'unpoll', 'patch'] as const);
        log.push(`${op} ${row}`);
        switch (op) {
          case 'delay':
            await store.moveRow(id, row, { to: 'waiting', patch: { status: 'waiting', next_at: rand() < 0.15 ? null : randomIso(), error: 'outside calling window' } });
            break;
          case 'queued':
            await store.moveRow(id, row, { to: 'queued', patch: rand() < 0.5 ? { status: 'queued' } : {} });
            break;
          case 'begin':
            await store.ledgerBegin(id, phone, Date.now() - Math.floor(rand() * 1e6), `tok${step}`, 60_000);
            break;
          case 'placed': {
            const callId = `call_${seed}_${++calls}`;
            const moved = await store.ledgerMove(id, phone, ['sending', 'ambiguous'], { s: 'placed', id: callId, t: Date.now() });
            if (moved) await store.moveRow(id, row, { to: 'placed', from: ['sending', 'ambiguous'], patch: { call_id: callId, status: 'queued', next_at: null, job: null } });
            await store.schedulePoll(id, row, Date.now(), true);
            break;
          }
          case 'failed':
            if (await store.ledgerMove(id, phone, ['sending'], { s: 'failed', t: Date.now(), e: 'HTTP 400' })) await store.moveRow(id, row, { to: 'queued', from: ['sending'] });
            break;
          case 'ambiguous':
            if (await store.ledgerMove(id, phone, ['sending'], { s: 'ambiguous', t: Date.now() })) await store.moveRow(id, row, { to: 'ambiguous', from: ['sending'] });
            break;
          case 'finish':
            await store.moveRow(id, row, { outcome: pick(['completed', 'no-answer', 'dead-letter', 'failed'] as const), patch: rand() < 0.5 ? { next_at: null } : {} });
            await store.unschedulePoll(id, row);
            break;
          case 'redial':
            if (await store.ledgerMove(id, phone, ['placed'], { s: 'pending', t: Date.now() })) {
              await store.moveRow(id, row, { to: 'redial-due', from: ['placed', 'ambiguous'], patch: { status: rand() < 0.3 ? 'waiting' : 'redial after no-answer', next_at: randomIso() } });
            }
            break;
          case 'cancel':
            await store.cancelRows(id, [row]);
            break;
          case 'expire':
            await store.setCampaignField(id, 'deadline_ms', '1');
            await store.deadline.expireRows(id, [row]);
            await redis.hdel(store.keys.campaign(id), 'deadline_ms');
            break;
          case 'erase':
            await store.privacy.eraseNumber(id, phone, new Date().toISOString(), [String(row)]);
            break;
          case 'reopen':
            await store.reopenRow(id, row, 'dead-letter', `retry${step}`);
            break;
          case 'release':
            await store.privacy.releaseClaim(id, phone, row);
            break;
          case 'poll':
            await store.schedulePoll(id, row, Date.now() + Math.floor(rand() * 10_000), rand() < 0.5);
            break;
          case 'unpoll':
            await store.unschedulePoll(id, row);
            break;
          case 'patch':
            await store.updateRow(id, row, rand() < 0.5 ? { status: 'waiting', next_at: randomIso() } : { status: 'in-progress' });
            break;
        }
        if (step % 5 === 4) await expectAgreement(id, `seed ${seed}, after ${log.slice(-5).join(', ')}`);
      }
      await expectAgreement(id, `seed ${seed}, end`);
    }
  }, 120_000);

  it('count waiting rows and find the earliest opening as the scan does', async () => {
    const id = 'opening';
    await newCampaign(id, 5);
    expect(await store.indexes.indexed(id)).toBe(true);
    await store.moveRow(id, 2, { to: 'waiting', patch: { status: 'waiting', next_at: '2031-03-01T09:00:00.000Z' } });
    await store.moveRow(id, 4, { to: 'waiting', patch: { status: 'waiting', next_at: '2030-12-31T23:59:59.999Z' } });
    await store.moveRow(id, 5, { to: 'waiting', patch: { status: 'waiting' } });
    expect(await store.indexes.waiting(id)).toEqual({ count: 3, next: '2030-12-31T23:59:59.999Z' });
    await store.moveRow(id, 4, { outcome: 'completed' });
    expect(await store.indexes.waiting(id)).toEqual({ count: 2, next: '2031-03-01T09:00:00.000Z' });
    await store.moveRow(id, 2, { to: 'sending' });
    await store.moveRow(id, 2, { to: 'placed', patch: { status: 'queued', next_at: null } });
    expect(await store.indexes.waiting(id)).toEqual({ count: 1, next: null });
    expect(await store.indexes.waiting(id)).toEqual(await scanWaitingRows(store, id));
  });

  it('follow an erasure that drops the ledger entries of the row\'s other numbers', async () => {
    const id = 'alts';
    const c = await campaignIn(path.join(dir, id), { name: id, assistant_id: 'CE_x', default_country: 'AU', results: path.join(dir, `${id}.csv`) }, 'name,phone\n');
    await store.saveCampaign(c, 'running');
    const [main, alt] = ['+61412000001', '+61412000002'];
    await store.claimNumbers(id, [[main, 1], [alt, 1]], Date.now());
    await store.loadRows(id, [{ row: 1, name: 'A', phone: main, alts: [alt], job: 'j1' }]);
    await store.finishLoading(id, 1);
    await store.moveRow(id, 1, { to: 'waiting', patch: { status: 'waiting', next_at: new Date().toISOString() } });
    await store.ledgerMove(id, alt, ['pending'], { s: 'failed', id: 'call_alt', t: Date.now() });
    expect(await store.indexes.ledgerCounts(id)).toEqual({ pending: 1, failed: 1 });
    await expectAgreement(id, 'before the erasure');
    const r = await store.privacy.eraseNumber(id, main, new Date().toISOString(), ['1']);
    expect(r.ledger).toBe(2);
    await expectAgreement(id, 'after the erasure');
    expect(await store.indexes.ledgerCounts(id)).toEqual({ pending: 0, failed: 0 });
    expect(await store.indexes.waiting(id)).toEqual({ count: 0, next: null });
    expect(await store.indexes.rowOfCall([id], 'call_alt')).toBeUndefined();
  });

  it('are deleted with the campaign', async () => {
    const id = 'gone';
    const { phones } = await newCampaign(id, 3);
    await store.moveRow(id, 1, { to: 'waiting', patch: { status: 'waiting', next_at: new Date().toISOString() } });
    await store.ledgerBegin(id, phones[1]!, Date.now(), 'tok', 60_000);
    await store.ledgerMove(id, phones[1]!, ['sending'], { s: 'placed', id: 'call_gone', t: Date.now() });
    await store.schedulePoll(id, 2, Date.now());
    expect(await store.indexes.rowOfCall(['opening', id], 'call_gone')).toEqual({ campaign: id, row: 2 });
    await store.deleteCampaign(id);
    const left = await Promise.all(store.indexes.keysOf(id).map((k) => redis.exists(k)));
    expect(left).toEqual(store.indexes.keysOf(id).map(() => 0));
  });
});
