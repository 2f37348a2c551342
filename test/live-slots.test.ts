import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../src/config/campaign.js';
import type { Runtime } from '../src/runtime.js';
import { cleanupPrefix, openTestRuntime, testPrefix } from './helpers/dialer.js';

const prefix = testPrefix('live-slots');
let rt: Runtime;

beforeAll(async () => {
  rt = (await openTestRuntime(prefix)).rt;
});
afterAll(async () => {
  await rt.close();
  await cleanupPrefix(prefix);
});

/** A running campaign with `n` queued rows. */
async function campaign(id: string, n: number): Promise<void> {
  await rt.store.saveCampaign({ name: id } as Campaign, 'running');
  await rt.store.loadRows(id, Array.from({ length: n }, (_, i) => ({ row: i + 1, name: `P${i + 1}`, phone: `+6141750000${i}`, job: `j${i + 1}` })));
}

describe('live-call slots in Redis', () => {
  it('are taken under the campaign cap and the account cap, and a row holding one is told so', async () => {
    await campaign('s-a', 4);
    await campaign('s-b', 4);
    const { live } = rt.store;
    expect(await live.acquire('s-a', 1, { campaign: 2, account: 3 }, 10_000)).toBe('taken');
    expect(await live.acquire('s-a', 1, { campaign: 2, account: 3 }, 10_000)).toBe('held');
    expect(await live.acquire('s-a', 2, { campaign: 2, account: 3 }, 10_000)).toBe('taken');
    expect(await live.acquire('s-a', 3, { campaign: 2, account: 3 }, 10_000)).toBe('campaign-full');
    expect(await live.acquire('s-b', 1, { account: 3 }, 10_000)).toBe('taken');
    expect(await live.acquire('s-b', 2, { account: 3 }, 10_000)).toBe('account-full');
    expect(await live.count('s-a')).toBe(2);
    expect(await live.accountCount()).toBe(3);
    await live.release('s-a', 2);
    expect(await live.acquire('s-b', 2, { account: 3 }, 10_000)).toBe('taken');
    expect((await live.rows('s-b')).sort()).toEqual([1, 2]);
  });

  it('go back with the row move that leaves a live state, and stay through moves between live states', async () => {
    await campaign('s-c', 3);
    const { live } = rt.store;
    for (const row of [1, 2, 3]) {
      expect(await live.acquire('s-c', row, {}, 10_000)).toBe('taken');
      await rt.store.moveRow('s-c', row, { to: 'sending' });
    }
    await rt.store.moveRow('s-c', 1, { to: 'placed', from: ['sending'] });
    await rt.store.moveRow('s-c', 2, { to: 'ambiguous', from: ['sending'] });
    await rt.store.moveRow('s-c', 1, { patch: { status: 'ringing' } });
    expect((await live.rows('s-c')).sort()).toEqual([1, 2, 3]);
    await rt.store.moveRow('s-c', 3, { to: 'queued', from: ['sending'] }); // a 429 or a definite failure
    await rt.store.moveRow('s-c', 2, { to: 'redial-due', from: ['ambiguous'] }); // no call found
    expect(await live.rows('s-c')).toEqual([1]);
    await rt.store.updateRow('s-c', 1, {}, 'completed'); // the call ended
    expect(await live.rows('s-c')).toEqual([]);
    expect(await live.accountCount()).toBe(3); // s-a's and s-b's, untouched
  });

  it('lapse at the end of the lease unless renewed; the keep-alive renews poll-owned rows, leaves sending to its worker, and drops a slot whose row is no longer live', async () => {
    await campaign('s-d', 4);
    const { live } = rt.store;
    for (const row of [1, 2, 3, 4]) expect(await live.acquire('s-d', row, {}, 3000)).toBe('taken');
    await rt.store.moveRow('s-d', 1, { to: 'sending' });
    await rt.store.moveRow('s-d', 1, { to: 'placed', from: ['sending'] });
    await rt.store.moveRow('s-d', 2, { to: 'sending' });
    // Row 3 left queued (a crash between taking the slot and the POST); row 4 final without its release.
    await rt.redis.hset(rt.store.keys.rows('s-d'), '4', JSON.stringify({ row: 4, name: 'P4', phone: '+61417500003', state: 'final', outcome: 'completed' }));
    expect(await live.keepAlive('s-d', 3000, 3000)).toEqual({ renewed: 1, dropped: 2 });
    expect((await live.rows('s-d')).sort()).toEqual([1, 2]);
    expect(await live.renew('s-d', 2, 3000)).toBe(true);
    await new Promise((r) => setTimeout(r, 3200));
    // Nobody renewed either: both lapsed; a renewal does not bring a lapsed slot back.
    expect(await live.rows('s-d')).toEqual([]);
    expect(await live.acquire('s-d', 3, { campaign: 1 }, 3000)).toBe('taken');
    expect(await live.renew('s-d', 4, 3000)).toBe(false);
    // A new owner of a call whose slot lapsed (the reaper, reconciliation adopting it) takes it again.
    await rt.store.moveRow('s-d', 2, { to: 'ambiguous', from: ['sending'] });
    expect((await live.rows('s-d')).sort()).toEqual([2, 3]);
  });
});
