/**
 * The stored form of a dial ledger entry: a claim made at load is
 * `{s, r}` only (no attempts, no time), entries written before read as they
 * are, and the dial's first step counts from the compact claim in real Redis.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { encodeRow } from '../src/store/row-codec.js';
import { parseLedgerEntry } from '../src/store/store.js';
import { cleanupPrefix, openTestRuntime, testPrefix } from './helpers/dialer.js';

const prefix = testPrefix('ledgercodec');
afterAll(() => cleanupPrefix(prefix));

describe('ledger codec', () => {
  it('reads a compact claim with a and t as 0, and an entry written before as it is', () => {
    expect(parseLedgerEntry('{"s":"pending","r":7}')).toEqual({ s: 'pending', r: 7, a: 0, t: 0 });
    const old = { a: 0, t: 1796214799672, s: 'pending', r: 743 };
    expect(parseLedgerEntry(JSON.stringify(old))).toEqual(old);
  });

  it('a claim is stored compact, and the step into sending counts its first attempt from it', async () => {
    const t = await openTestRuntime(prefix);
    try {
      const { store, redis } = t.rt;
      const phone = '+61412000001';
      await redis.hset(store.keys.campaign('l1'), 'state', 'running');
      await redis.hset(store.keys.rows('l1'), '1', encodeRow({ row: 1, name: 'A', phone, state: 'queued' }));
      expect(await store.claimNumbers('l1', [[phone, 1]], Date.now())).toEqual([0]);
      expect(await redis.hget(store.keys.ledger('l1'), phone)).toBe('{"s":"pending","r":1}');
      expect(await store.ledgerGet('l1', phone)).toEqual({ s: 'pending', r: 1, a: 0, t: 0 });
      // The same row claiming again owns it; another row is told the owner.
      expect(await store.claimNumbers('l1', [[phone, 1], [phone, 2]], Date.now())).toEqual([0, 1]);
      const now = Date.now();
      const begun = await store.ledgerBegin('l1', phone, now, 'tok-1', 60_000);
      expect(begun).toMatchObject({ ok: true, why: 'ok', entry: { s: 'sending', r: 1, a: 1, t: now, sent: now, tok: 'tok-1' } });
      expect(await store.getRow('l1', 1)).toMatchObject({ state: 'sending' });
    } finally {
      await t.rt.close();
    }
  });
});
