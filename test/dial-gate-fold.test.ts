import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WorkerService } from '../src/dialer/service.js';
import { dialLimits, earlyMs } from '../src/dialer/rate.js';
import { loadCampaign } from '../src/loader/load.js';
import { Poller } from '../src/poller/poller.js';
import { createDialGate, createLoadScreen, FREQUENCY_WINDOW_MS, type DialGate } from '../src/gate/index.js';
import type { RowRecord } from '../src/campaign/row.js';
import { markErased } from '../src/privacy/hash.js';
import { addToSuppression } from '../src/gate/suppression.js';
import { campaignIn, cleanupPrefix, postsByNumber, testPrefix, waitFor, withRuntime } from './helpers/dialer.js';
import { useSimulators } from './helpers/sim-http.js';

const prefix = testPrefix('dial-gate-fold');
afterAll(() => cleanupPrefix(prefix));
const simulator = useSimulators();
const HASH_KEY = 'k'.repeat(32);

const fast = { assistant_id: 'A1', default_country: 'AU', rate: { calls: 100, per_seconds: 1 }, poll: { interval_seconds: 0.1, timeout_minutes: 1 } };

/**
 * The worker's gate leaves its Redis checks (erased, suppressed, frequency
 * slot) to DIAL_BEGIN: a number that becomes suppressed, erased or capped
 * after the gate's checks in Node, before the POST, is refused by that one
 * script, with the outcome the gate itself would have given.
 */
describe('the gate inside DIAL_BEGIN', () => {
  it('suppressed, erased or frequency-capped between the Node checks and the POST: never sent; the same outcome, audit and next number as from the gate', async () => {
    const sim = await simulator({ callDurationMs: { min: 30, max: 60 } });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dial-gate-fold-'));
    const c = await campaignIn(dir, { ...fast, name: 'fold', frequency_cap: 2, phone_columns: ['phone', 'work'] }, [
      'name,phone,work',
      'Ann,0298765801,',
      'Bob,0298765802,0298765812',
      'Cat,0298765803,',
      'Dan,0298765804,',
      'Eve,0298765805,',
    ].join('\n') + '\n');
    await withRuntime(prefix, sim, async ({ rt }) => {
      const real = createDialGate(rt);
      const deferred: string[] = [];
      // What happens to each number right after the gate's Node checks let it go.
      const between: Record<string, () => Promise<unknown>> = {
        '+61298765801': () => addToSuppression(rt.store, '+61298765801'),
        '+61298765802': () => addToSuppression(rt.store, '+61298765802'),
        '+61298765803': () => markErased(rt.store, ['+61298765803'], HASH_KEY),
        // Two calls by other campaigns in the last 24 h: the cap of 2 is full.
        '+61298765804': () => rt.redis.zadd(rt.store.keys.frequency('+61298765804'), rt.clock.now() - 1000, 'x|1|', rt.clock.now() - 2000, 'y|1|'),
      };
      const gate: DialGate = async (camp, rec, opts) => {
        const r = await real(camp, rec, opts);
        if (r.action === 'go' && r.deferred) deferred.push(rec.phone);
        if (r.action === 'go') await between[rec.phone]?.();
        return r;
      };
      await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => rt.clock.now(), screen: createLoadScreen(rt) }, c);
      const workers = new WorkerService(rt, { campaigns: [c.name], scanMs: 100, gate });
      const poller = new Poller({ store: rt.store, api: rt.api(), log: rt.log, queues: rt.queues, lockMs: rt.env.lockMs, tickMs: 50 });
      workers.start();
      poller.start();
      try {
        await waitFor(async () => {
          const rs = await rt.store.getRows(c.name, [1, 2, 3, 4, 5]);
          return [0, 1, 2, 4].every((i) => rs[i]?.outcome) && rs[3]?.status === 'waiting';
        }, 'every row but Dan final, Dan waiting');
      } finally {
        await Promise.all([workers.close(), poller.close()]);
      }
      // The Node checks left it to the script for every number (none refused in Node).
      expect(deferred).toEqual(expect.arrayContaining(['+61298765801', '+61298765802', '+61298765803', '+61298765804', '+61298765805', '+61298765812']));
      expect(postsByNumber(sim)).toEqual(new Map([['+61298765812', 1], ['+61298765805', 1]]));

      const [ann, bob, cat, dan, eve] = (await rt.store.getRows(c.name, [1, 2, 3, 4, 5])).map((r) => r!) as [RowRecord, RowRecord, RowRecord, RowRecord, RowRecord];
      expect(ann).toMatchObject({ outcome: 'suppressed', error: expect.stringMatching(/global suppression/) });
      // Bob's first number gave way to his second, dialed by the same job.
      expect(bob).toMatchObject({ phone: '+61298765812', attempts: 1 });
      expect(bob.outcome).not.toBe('suppressed');
      expect(cat).toMatchObject({ outcome: 'suppressed', error: 'number erased on request' });
      expect((await rt.store.privacy.pendingErasures()).map((p) => p.member)).toContain(`${c.name}|3`);
      expect(dan.outcome).toBeUndefined();
      expect(dan).toMatchObject({ status: 'waiting', error: expect.stringMatching(/^frequency cap: 2 calls to this number in 24 h across campaigns; next slot /) });
      expect(Date.parse(dan.next_at!) - rt.clock.now()).toBeGreaterThan(FREQUENCY_WINDOW_MS - 60_000);
      expect(eve.outcome).toBeDefined();
      // Nothing was taken for a refused dial: no ledger step, no frequency slot of ours.
      for (const n of ['+61298765801', '+61298765802', '+61298765803', '+61298765804']) expect((await rt.store.ledgerGet(c.name, n))?.a ?? 0).toBe(0);
      expect(await rt.redis.zrange(rt.store.keys.frequency('+61298765804'), 0, -1)).toEqual(['y|1|', 'x|1|']);
      expect(await rt.redis.zrange(rt.store.keys.frequency('+61298765805'), 0, -1)).toEqual([`${c.name}|5|`]);
      // The audit records the two suppressed outcomes as the gate's own refusals did.
      const audit: Record<string, string>[] = [];
      for await (const [, ev] of rt.store.privacy.auditEntries(c.name)) audit.push(ev);
      const suppressed = audit.filter((e) => e.type === 'outcome' && e.outcome === 'suppressed').map((e) => [e.row, e.error]).sort();
      expect(suppressed).toEqual([['1', expect.stringMatching(/global suppression/)], ['3', 'number erased on request']]);
      expect(audit.filter((e) => e.type === 'dial').map((e) => e.row).sort()).toEqual(['2', '5']);
    }, { hashKey: HASH_KEY });
  }, 60_000);

  it('a refusal by the gate inside DIAL_BEGIN takes nothing: no rate slot, live slot, ledger step or frequency slot', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dial-gate-fold-'));
    const c = await campaignIn(dir, { ...fast, name: 'fold-unit', frequency_cap: 1 }, 'name,phone\nAnn,0298765821\nBob,0298765822\n');
    await withRuntime(`${prefix}:unit`, undefined, async ({ rt }) => {
      await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => rt.clock.now(), screen: createLoadScreen(rt) }, c);
      const k = rt.store.keys;
      const limits = dialLimits(c, undefined);
      const check = (n: number) => ({ hash: '', nowMs: rt.clock.now(), windowMs: FREQUENCY_WINDOW_MS, cap: 1, member: `${c.name}|${n}|` });
      const begin = (row: number, phone: string, token = `t${row}`) => rt.store.dial.begin(c.name, {
        number: phone, row, token, lockMs: 60_000, caps: {}, liveLeaseMs: 30_000, limits, earlyMs: earlyMs(limits), gate: check(row),
      });
      const snapshot = async () => [await rt.redis.get(k.limiter(`c:${c.name}`)), await rt.redis.zcard(k.live(c.name)), await rt.redis.zcard(k.liveAccount), await rt.redis.hget(k.ledger(c.name), '+61298765821')];
      const before = await snapshot();
      await addToSuppression(rt.store, '+61298765821');
      expect(await begin(1, '+61298765821')).toEqual({ step: 'gate', gate: [3] });
      await rt.redis.zadd(k.frequency('+61298765822'), rt.clock.now() - 1000, 'other|1|');
      const full = await begin(2, '+61298765822');
      expect(full).toMatchObject({ step: 'gate', gate: [5, expect.any(Number)] });
      expect(await snapshot()).toEqual(before);
      expect(await rt.redis.zrange(k.frequency('+61298765822'), 0, -1)).toEqual(['other|1|']);
      // Cleared: the same call goes through and takes its frequency slot with the rest.
      await rt.redis.del(k.frequency('+61298765822'));
      expect(await begin(2, '+61298765822')).toMatchObject({ step: 'ok', gate: [4, 1, 1] });
      expect(await rt.redis.zrange(k.frequency('+61298765822'), 0, -1)).toEqual([`${c.name}|2|`]);
      expect((await rt.store.ledgerGet(c.name, '+61298765822'))?.s).toBe('sending');
      // The same step sent again (a resend after a reconnect) is not refused by what happened since: it already went through.
      await addToSuppression(rt.store, '+61298765822');
      await new Promise((r) => setTimeout(r, 20)); // the next rate slot (100/s)
      expect(await begin(2, '+61298765822')).toMatchObject({ step: 'ok', gate: [4, 0, 0] });
      expect(await begin(2, '+61298765822', 'another try')).toEqual({ step: 'gate', gate: [3] });
    });
  });
});
