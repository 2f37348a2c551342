/**
 * The stored form of a row (store/row-codec.ts): short names for the fields
 * no Lua script reads, times as ms, zone lists packed; rows written before
 * read as they are; a patch merged by the lifecycle script in real Redis
 * sets and clears the short names.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { RowRecord } from '../src/campaign/row.js';
import { decodeRow, encodeRow, encodeRowPatch, packZones, unpackZones } from '../src/store/row-codec.js';
import { cleanupPrefix, openTestRuntime, testPrefix } from './helpers/dialer.js';

const prefix = testPrefix('rowcodec');
afterAll(() => cleanupPrefix(prefix));

const AU = 'Australia/Adelaide|Australia/Brisbane|Australia/Darwin|Australia/Hobart|Australia/Melbourne|Australia/Perth|Australia/Sydney';
const full: RowRecord = {
  row: 7, name: 'Ann', phone: '+61412000007', vars: { city: 'Perth' }, state: 'final', outcome: 'completed', status: 'completed',
  call_id: 'call_1', attempts: 1, duration_seconds: 12.5, ended_reason: 'customer-ended-call', started_at: '2026-12-02T06:20:55.216Z',
  ended_at: '2026-12-02T06:21:07+10:00', cost: 0.02, http_status: 503, timezone: AU, consent: 'yes', placed_at: 1796192455094,
  assistant: 'CE_2', redials: { busy: 1 }, reaped: 1, upload: 2, summary: 'ok', recording_url: 'https://r.example/1.mp3',
};

describe('row codec', () => {
  it('round-trips every field and stores less', () => {
    const s = encodeRow(full);
    expect(decodeRow(s)).toEqual(full);
    expect(s.length).toBeLessThan(JSON.stringify(full).length - 150);
    const raw = JSON.parse(s) as Record<string, unknown>;
    // Times that read back exactly become ms; others stay as they came.
    expect(raw.sa).toBe(Date.parse(full.started_at!));
    expect(raw.ea).toBe(full.ended_at);
    // The names the Lua scripts read keep their names.
    for (const k of ['row', 'state', 'outcome', 'status', 'phone', 'call_id', 'attempts', 'vars', 'summary', 'recording_url']) expect(raw).toHaveProperty(k);
    expect(raw).not.toHaveProperty('timezone');
  });

  it('reads rows written before the encoding', () => {
    expect(decodeRow(JSON.stringify(full))).toEqual(full);
    // Both names present (an old row patched since): the short one is the newer.
    expect(decodeRow(JSON.stringify({ row: 1, name: '', phone: '', timezone: 'Europe/Paris', tz: 'Asia/Tokyo' })).timezone).toBe('Asia/Tokyo');
  });

  it('packs zone lists by area and unpacks them exactly', () => {
    expect(packZones(AU)).toBe('Australia/Adelaide|~Brisbane|~Darwin|~Hobart|~Melbourne|~Perth|~Sydney');
    for (const z of [AU, 'UTC', 'America/Argentina/Buenos_Aires|America/Argentina/Cordoba|America/New_York', 'Australia/Perth|UTC|Australia/Sydney', '']) {
      expect(unpackZones(packZones(z))).toBe(z);
    }
  });

  it('a patch merged by ROW_MOVE sets and clears the short names, and the long ones of an old row', async () => {
    const t = await openTestRuntime(prefix);
    try {
      const { store } = t.rt;
      const key = store.keys.rows('c');
      const old = { ...full, outcome: undefined, state: 'placed' as const };
      delete old.outcome;
      await t.rt.redis.hset(key, '7', JSON.stringify(old)); // the encoding before: long names
      expect(await store.moveRow('c', 7, { patch: { started_at: '2026-12-02T07:00:00.000Z', timezone: 'Asia/Tokyo', cost: null } })).toBe('applied');
      const raw = JSON.parse((await t.rt.redis.hget(key, '7'))!) as Record<string, unknown>;
      expect(raw).not.toHaveProperty('started_at');
      expect(raw).not.toHaveProperty('cost');
      expect(raw).not.toHaveProperty('c');
      const rec = (await store.getRow('c', 7))!;
      expect(rec).toMatchObject({ started_at: '2026-12-02T07:00:00.000Z', timezone: 'Asia/Tokyo', duration_seconds: 12.5, state: 'placed' });
      expect(rec.cost).toBeUndefined();
      expect(JSON.parse(encodeRowPatch({ cost: null }))).toEqual({ c: null, cost: null });
    } finally {
      await t.rt.close();
    }
  });
});
