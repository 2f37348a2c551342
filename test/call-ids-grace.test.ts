/** A settled campaign's call id index (Keys.callIds) lasts a grace period for late webhooks, then goes; a call id written again keeps it. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CALL_IDS_GRACE_MS } from '../src/store/index-lua.js';
import { useTestBed } from './helpers/bed.js';
import { useSimulators } from './helpers/sim-http.js';
import { campaignIn, openTestRuntime, startDialing } from './helpers/dialer.js';

const bed = useTestBed('callids-grace');
const simulator = useSimulators();

describe('call id index after the campaign', () => {
  it('expires a grace period after the campaign is done; a call id written again (a row dialed again) keeps it', async () => {
    const sim = await simulator({ callDurationMs: { min: 50, max: 100 } });
    const t = await openTestRuntime(bed.prefix, sim);
    const { rt } = t;
    const c = await campaignIn(path.join(bed.dir, 'g'), {
      name: 'grace', assistant_id: 'A1', default_country: 'AU', rate: { calls: 100, per_seconds: 1 }, poll: { interval_seconds: 0.1 },
      results: path.join(bed.dir, 'g', 'results.csv'),
    }, 'name,phone\nAnn,0412 000 001\nBob,0412 000 002\n');
    const d = await startDialing(rt, c);
    bed.open.push({ t, d });
    await d.done(30_000);
    const key = rt.store.keys.callIds('grace');
    const ann = (await rt.store.getRow('grace', 1))!;
    // Done: a late webhook still finds the row, for the grace period.
    expect(await rt.store.indexes.rowOfCall(['grace'], ann.call_id!)).toEqual({ campaign: 'grace', row: 1 });
    const ttl = await rt.redis.pttl(key);
    expect(ttl).toBeGreaterThan(CALL_IDS_GRACE_MS - 60_000);
    expect(ttl).toBeLessThanOrEqual(CALL_IDS_GRACE_MS);
    // A call id written again keeps the index (the row's number dialed again after a dead-letter retry, an append).
    expect(await rt.store.ledgerMove('grace', '+61412000001', ['placed'], { s: 'placed', id: 'call_again' })).toBeTruthy();
    expect(await rt.redis.pttl(key)).toBe(-1);
    expect(await rt.store.indexes.rowOfCall(['grace'], 'call_again')).toEqual({ campaign: 'grace', row: 1 });
  });
});
