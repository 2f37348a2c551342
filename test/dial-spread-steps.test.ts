/**
 * The spread layout's split dial steps (store/dial.ts, live.ts), on the plain
 * Redis: hash tags mean nothing there, so this checks what each step writes
 * and gives back; test/redis-cluster-spread.test.ts checks the slots.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../src/config/campaign.js';
import type { DialBeginArgs } from '../src/store/dial.js';
import { Store } from '../src/store/store.js';
import { REDIS_URL, deletePrefix, testPrefix } from './helpers/dialer.js';

const prefix = testPrefix('dial-spread');
let redis: Redis;
let store: Store;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
  store = new Store(redis, prefix, { layout: 'spread' });
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  await deletePrefix(redis, `{${prefix}}`);
  await redis.quit();
});

const phone = (row: number) => `+6141770000${row}`;

async function campaign(id: string, n: number): Promise<void> {
  await store.saveCampaign({ name: id } as Campaign, 'running');
  const rows = Array.from({ length: n }, (_, i) => i + 1);
  await store.loadRows(id, rows.map((row) => ({ row, name: `P${row}`, phone: phone(row), job: `j${row}` })));
  await store.claimNumbers(id, rows.map((row) => [phone(row), row]), Date.now());
}

/** A dial of `row` under its campaign's limiter and an account limiter of 1 a second. */
const args = (id: string, row: number, extra: Partial<DialBeginArgs> = {}): DialBeginArgs => ({
  number: phone(row), row, token: `t${row}-${Math.random()}`, lockMs: 60_000, caps: {}, liveLeaseMs: 10_000,
  limits: [{ scope: `c:${id}`, intervalMs: 10 }, { scope: 'account', intervalMs: 1000 }], earlyMs: 5, ...extra,
});
const accountLive = () => redis.zrange(store.keys.liveAccount, 0, -1);

describe('a dial in the spread layout: the account step, then the campaign step', () => {
  it('a refused campaign step gives back the account live slot and, when nobody booked after it, the account rate slot', async () => {
    const id = 'sp-a';
    await campaign(id, 2);
    expect(store.keys.rows(id)).toBe(`${prefix}:c:{${id}}:rows`);
    // Another row holds the campaign's only live-call slot.
    await redis.zadd(store.keys.live(id), Date.now() + 60_000, '9');
    expect(await store.dial.begin(id, args(id, 1, { caps: { campaign: 1 } }))).toEqual({ step: 'live-full', scope: 'campaign' });
    expect(await accountLive()).toEqual([]);
    expect((await store.ledgerGet(id, phone(1)))?.s).toBe('pending');
    // The account's rate slot came back: the next dial is due now, not in a second.
    await redis.zrem(store.keys.live(id), '9');
    expect(await store.dial.begin(id, args(id, 1, { caps: { campaign: 1 } }))).toMatchObject({ step: 'ok', live: 'taken', entry: { s: 'sending' } });
    expect(await accountLive()).toEqual([`${id}|1`]);
    expect(await redis.zrange(store.keys.live(id), 0, -1)).toEqual(['1']);
    // That slot was booked: the next one waits for it.
    const wait = await store.dial.begin(id, args(id, 2));
    expect(wait.step === 'wait' && wait.waitMs).toBeGreaterThan(900);
    expect(await accountLive()).toEqual([`${id}|1`]);
    // A move out of the live states gives back both slots (the campaign's in ROW_MOVE, the account's after it).
    expect(await store.moveRow(id, 1, { to: 'queued', from: ['sending'] })).toBe('applied');
    expect(await accountLive()).toEqual([]);
    expect(await redis.zcard(store.keys.live(id))).toBe(0);
  });

  it('the account cap refuses before anything of the campaign is touched; a placed call is scheduled and kept alive on both sides', async () => {
    const id = 'sp-b';
    await campaign(id, 1);
    const limits = [{ scope: `c:${id}`, intervalMs: 10 }];
    await redis.zadd(store.keys.liveAccount, Date.now() + 60_000, 'other|1');
    expect(await store.dial.begin(id, args(id, 1, { limits, caps: { account: 1 } }))).toEqual({ step: 'live-full', scope: 'account' });
    expect(await redis.zcard(store.keys.live(id))).toBe(0);
    await redis.zrem(store.keys.liveAccount, 'other|1');

    expect(await store.dial.begin(id, args(id, 1, { limits, caps: { account: 1 } }))).toMatchObject({ step: 'ok' });
    const now = new Date();
    await store.dial.placed(id, {
      number: phone(1), row: 1, now,
      ledger: { from: ['sending'], patch: { s: 'placed', t: now.getTime(), id: 'call_1', n: 1, ids: ['call_1'] } },
      rowPatch: { call_id: 'call_1', attempts: 1, status: 'queued', placed_at: now.getTime(), job: null },
      pollAt: now.getTime() + 5000, audit: { type: 'dial', row: 1, at: now.toISOString(), call_id: 'call_1', result: 'placed' },
    });
    expect(await redis.zscore(store.keys.polls, `${id}|1`)).toBe(String(now.getTime() + 5000));
    expect(await redis.zrange(store.keys.pollsOf(id), 0, -1)).toEqual(['1']);
    expect((await store.getRow(id, 1))?.state).toBe('placed');
    // The keep-alive renews the campaign's slot and the account's copy, a lease from now.
    expect(await store.live.keepAlive(id, 30_000, 30_000)).toEqual({ renewed: 1, dropped: 0 });
    expect(Number(await redis.zscore(store.keys.liveAccount, `${id}|1`))).toBeGreaterThan(Date.now() + 20_000);
    expect(Number(await redis.zscore(store.keys.live(id), '1'))).toBeGreaterThan(Date.now() + 20_000);
    // The call ends: both slots and both poll entries go.
    expect(await store.moveRow(id, 1, { outcome: 'completed', from: ['placed'] })).toBe('applied');
    await store.unschedulePoll(id, 1);
    expect(await accountLive()).toEqual([]);
    expect(await redis.zcard(store.keys.live(id))).toBe(0);
    expect(await store.pendingPolls()).toBe(0);
    expect(await redis.zcard(store.keys.pollsOf(id))).toBe(0);
  });
});
