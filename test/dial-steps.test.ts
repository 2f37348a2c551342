import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../src/config/campaign.js';
import type { Runtime } from '../src/runtime.js';
import type { DialBeginArgs } from '../src/store/dial.js';
import { cleanupPrefix, openTestRuntime, testPrefix } from './helpers/dialer.js';

const prefix = testPrefix('dial-steps');
let rt: Runtime;

beforeAll(async () => {
  rt = (await openTestRuntime(prefix)).rt;
});
afterAll(async () => {
  await rt.close();
  await cleanupPrefix(prefix);
});

const phone = (row: number) => `+6141760000${row}`;

/** A running campaign with `n` queued rows, their numbers claimed in the ledger. */
async function campaign(id: string, n: number): Promise<void> {
  await rt.store.saveCampaign({ name: id } as Campaign, 'running');
  const rows = Array.from({ length: n }, (_, i) => i + 1);
  await rt.store.loadRows(id, rows.map((row) => ({ row, name: `P${row}`, phone: phone(row), job: `j${row}` })));
  await rt.store.claimNumbers(id, rows.map((row) => [phone(row), row]), Date.now());
}

const args = (row: number, scope: string, extra: Partial<DialBeginArgs> = {}): DialBeginArgs => ({
  number: phone(row), row, token: `t${row}-${Math.random()}`, lockMs: 60_000, caps: {}, liveLeaseMs: 10_000,
  limits: [{ scope, intervalMs: 1000 }], earlyMs: 5, ...extra,
});

describe('a dial in two scripts (store/dial.ts)', () => {
  it('DIAL_BEGIN takes the live-call slot, the rate slot and `sending` together, or nothing at all', async () => {
    const id = 'd-a';
    await campaign(id, 3);
    const { dial, live } = rt.store;

    const first = await dial.begin(id, args(1, 'd-a-1'));
    expect(first).toMatchObject({ step: 'ok', live: 'taken', entry: { s: 'sending', a: 1, r: 1 } });
    expect((await rt.store.getRow(id, 1))?.state).toBe('sending');
    expect(await live.rows(id)).toEqual([1]);

    // The same limiter 1 s later is due: nothing is written, row 2 stays pending and slotless.
    const wait = await dial.begin(id, args(2, 'd-a-1'));
    expect(wait.step).toBe('wait');
    expect(wait.step === 'wait' && wait.waitMs).toBeGreaterThan(900);
    expect((await rt.store.ledgerGet(id, phone(2)))?.s).toBe('pending');
    expect(await live.rows(id)).toEqual([1]);

    // Row 1 again (another try): refused as dialed; the slot it holds stays with it.
    const again = await dial.begin(id, args(1, 'd-a-2'));
    expect(again).toMatchObject({ step: 'refused', why: 'dialed' });
    expect(await live.rows(id)).toEqual([1]);

    // The campaign's live-call cap: row 3 is told the campaign is full and takes nothing.
    expect(await dial.begin(id, args(3, 'd-a-3', { caps: { campaign: 1 } }))).toEqual({ step: 'live-full', scope: 'campaign' });
    expect((await rt.store.ledgerGet(id, phone(3)))?.s).toBe('pending');

    // Refused by the campaign's state: the slot it took goes back, and the rate slot is not booked.
    await rt.store.moveCampaign(id, 'paused');
    expect(await dial.begin(id, args(3, 'd-a-3'))).toMatchObject({ step: 'refused', why: 'paused' });
    expect(await live.rows(id)).toEqual([1]);
    await rt.store.moveCampaign(id, 'running');
    expect(await dial.begin(id, args(3, 'd-a-3'))).toMatchObject({ step: 'ok', live: 'taken' });
    expect((await live.rows(id)).sort()).toEqual([1, 3]);
  });

  it('DIAL_PLACED writes the ledger, the row, the poll, the dial record and the audit event in one step', async () => {
    const id = 'd-b';
    await campaign(id, 1);
    const begun = await rt.store.dial.begin(id, args(1, 'd-b'));
    expect(begun.step).toBe('ok');
    const now = new Date();
    // The record of recent dials: a count a second in a ring of 64; a second over a minute old is not counted, and its field is reused.
    const sec = Math.floor(now.getTime() / 1000);
    await rt.redis.hset(rt.store.keys.dials(id), String((sec - 60) % 64), `${sec - 60}:9`, String((sec - 59) % 64), `${sec - 59}:8`, String((sec - 64) % 64), `${sec - 64}:5`);
    await rt.store.dial.placed(id, {
      number: phone(1), row: 1, now,
      ledger: { from: ['sending'], patch: { s: 'placed', t: now.getTime(), id: 'call_1', n: 1, ids: ['call_1'] } },
      rowPatch: { call_id: 'call_1', attempts: 1, status: 'queued', placed_at: now.getTime(), job: null },
      pollAt: now.getTime() + 5000,
      audit: { type: 'dial', row: 1, at: now.toISOString(), call_id: 'call_1', result: 'placed', rule: undefined, number: '+612•••••001', error: 'say "hi" \\ ünï' },
    });
    expect(await rt.store.ledgerGet(id, phone(1))).toMatchObject({ s: 'placed', id: 'call_1', n: 1 });
    expect(await rt.store.getRow(id, 1)).toMatchObject({ state: 'placed', call_id: 'call_1', attempts: 1 });
    expect(await rt.redis.zscore(rt.store.keys.polls, `${id}|1`)).toBe(String(now.getTime() + 5000));
    expect(await rt.redis.zscore(rt.store.keys.pollsOf(id), '1')).toBe('0');
    // The field of `sec` held second sec - 64: it starts again at 1.
    expect(await rt.redis.hget(rt.store.keys.dials(id), String(sec % 64))).toBe(`${sec}:1`);
    expect(await rt.store.limits.dialsLastMinute(id, now.getTime())).toBe(9);
    expect(await rt.redis.pttl(rt.store.keys.dials(id))).toBeGreaterThan(100_000);
    const audit = await rt.redis.xrange(rt.store.keys.audit(id), '-', '+');
    expect(audit).toHaveLength(1);
    // Each field its own stream field, as the codec wrote them (the event went to Lua as one JSON argument).
    expect(audit[0]![1]).toEqual(['type', 'dial', 'row', '1', 'call_id', 'call_1', 'result', 'placed', 'number', '+612*****001', 'error', 'say "hi" \\ ünï']);
    const read: Record<string, string>[] = [];
    for await (const [, ev] of rt.store.privacy.auditEntries(id)) read.push(ev);
    expect(read).toEqual([expect.objectContaining({ type: 'dial', row: '1', number: '+612•••••001', error: 'say "hi" \\ ünï', call_id: 'call_1' })]);
    // The row keeps its live-call slot (placed is a live state).
    expect(await rt.store.live.rows(id)).toEqual([1]);
  });
});
