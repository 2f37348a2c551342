/**
 * The simulator faults the randomized-histories test needs: refusals (422),
 * calls whose lookups always fail, and slow lookups.
 */
import { describe, expect, it } from 'vitest';
import { callBody, numbers, simRequest as req, useSimulators } from './helpers/sim-http.js';

const sim = useSimulators();

describe('rejectRate', () => {
  it('answers 422 without creating a call, and a retry of the number draws again', async () => {
    const s = await sim({ seed: 3, faults: { rejectRate: 0.5 } });
    const nums = numbers(40);
    const first = await Promise.all(nums.map((n) => req(s, 'POST', '/calls', { body: callBody(n) })));
    const rejected = first.filter((r) => r.status === 422);
    expect(rejected.length).toBeGreaterThan(5);
    expect(rejected.length).toBeLessThan(35);
    expect(s.calls.size).toBe(40 - rejected.length);
    expect(s.requests.filter((e) => e.fault === 'reject')).toHaveLength(rejected.length);
    // Keyed by (number, attempt): the second attempt of a rejected number is a fresh draw.
    const again = await Promise.all(nums.filter((_, i) => first[i]!.status === 422).map((n) => req(s, 'POST', '/calls', { body: callBody(n) })));
    expect(again.some((r) => r.status === 201)).toBe(true);
  });
});

describe('lookupFailRate', () => {
  it('makes every GET of some calls answer 503, by id and in lists, for good', async () => {
    const s = await sim({ seed: 5, faults: { lookupFailRate: 0.3 } });
    const nums = numbers(30);
    const created = await Promise.all(nums.map((n) => req(s, 'POST', '/calls', { body: callBody(n) })));
    expect(created.every((r) => r.status === 201)).toBe(true);
    const failing = [...s.calls.values()].filter((c) => c.lookupFails);
    expect(failing.length).toBeGreaterThan(2);
    expect(failing.length).toBeLessThan(20);
    const bad = failing[0]!;
    const good = [...s.calls.values()].find((c) => !c.lookupFails)!;
    // The rate going to 0 later does not heal calls already created.
    s.setOptions({ faults: { lookupFailRate: 0 } });
    for (let i = 0; i < 3; i++) {
      expect((await req(s, 'GET', `/calls?id=${bad.id}`)).status).toBe(503);
      expect((await req(s, 'GET', `/calls/${bad.id}`)).status).toBe(503);
      expect((await req(s, 'GET', `/calls?phoneNumber=${encodeURIComponent(bad.phoneNumber)}`)).status).toBe(503);
    }
    expect((await req(s, 'GET', `/calls?id=${good.id}`)).status).toBe(200);
    expect((await req(s, 'GET', `/calls?phoneNumber=${encodeURIComponent(good.phoneNumber)}`)).body.data).toHaveLength(1);
    expect(s.requests.filter((e) => e.fault === 'lookup')).toHaveLength(9);
    // Same seed, same numbers: the same calls fail.
    const s2 = await sim({ seed: 5, faults: { lookupFailRate: 0.3 } });
    await Promise.all(nums.map((n) => req(s2, 'POST', '/calls', { body: callBody(n) })));
    const phones = (m: typeof s.calls) => [...m.values()].filter((c) => c.lookupFails).map((c) => c.phoneNumber).sort();
    expect(phones(s2.calls)).toEqual(phones(s.calls));
  });
});

describe('lookupLatencyMs', () => {
  it('delays GET /calls only', async () => {
    const s = await sim({ faults: { lookupLatencyMs: { min: 300, max: 400 } } });
    const t0 = Date.now();
    const post = await req(s, 'POST', '/calls', { body: callBody(numbers(1)[0]!) });
    const tPost = Date.now() - t0;
    expect(post.status).toBe(201);
    const t1 = Date.now();
    expect((await req(s, 'GET', `/calls?id=${post.body.id}`)).status).toBe(200);
    const tGet = Date.now() - t1;
    expect(tPost).toBeLessThan(250);
    expect(tGet).toBeGreaterThanOrEqual(290);
  });

  it('refuses a bad range', async () => {
    await expect(sim({ faults: { lookupLatencyMs: { min: 5, max: 1 } } })).rejects.toThrow(/lookupLatencyMs/);
    await expect(sim({ faults: { lookupFailRate: 2 } })).rejects.toThrow(/lookupFailRate/);
  });
});
