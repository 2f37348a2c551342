/**
 * The stored form of a row (store/row-codec.ts): short names for the fields
 * no Lua script reads, times as ms, zone lists packed; rows written before
 * read as they are; a patch merged by the lifecycle script in real Redis
 * sets and clears the short names. Zone lists are coded by a table that
 * only grows; a variable repeating the name is stored once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { RowRecord } from '../src/campaign/row.js';
import { createHash } from 'node:crypto';
import { decodeRow, encodeRow, encodeRowPatch, ENDED_REASONS, packZones, unpackZones } from '../src/store/row-codec.js';
import { codeZone, decodeZones, encodeZones, zoneCode } from '../src/store/zone-codes.js';
import { ZONE_TABLE } from '../src/store/zone-table.js';
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
    expect(raw.tz).toMatch(/^#[0-9A-Za-z]{14}$/);
    expect(raw.er).toBe(0);
  });

  it('stores known end reasons as their index, any other as it came', () => {
    for (const er of [...ENDED_REASONS, 'something-new', '3', '']) {
      const r: RowRecord = { row: 1, name: 'A', phone: '+61412000001', state: 'placed', ended_reason: er };
      expect(decodeRow(encodeRow(r))).toEqual(r);
      expect(decodeRow(encodeRowPatch({ ended_reason: er })).ended_reason).toBe(er);
    }
    expect(JSON.parse(encodeRow({ row: 1, name: '', phone: '', ended_reason: 'customer-busy' }))).toMatchObject({ er: 3 });
    // Written before: the reason as text.
    expect(decodeRow('{"row":1,"er":"customer-busy"}').ended_reason).toBe('customer-busy');
    // APPEND ONLY: a stored index keeps naming the same reason.
    expect(createHash('sha1').update(ENDED_REASONS.slice(0, 15).join(' ')).digest('hex')).toBe('ddb849c41d3ea182d0a27d3fbd405d9a0197b8b3');
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

  it('codes zone lists when every zone is in the table, and reads every encoding before', () => {
    expect(encodeZones(AU)).toHaveLength(15);
    expect(encodeZones('America/New_York')).toHaveLength(3);
    const lists = [AU, 'UTC', 'America/Argentina/Buenos_Aires|America/Argentina/Cordoba|America/New_York', 'Australia/Perth|UTC|Australia/Sydney', '',
      'Mars/Base', 'Australia/Perth|Mars/Base', '#0a', '##x', '#', 'australia/perth', 'Australia/Perth|', '|Australia/Perth', 'Australia/Perth Australia/Sydney'];
    for (const z of lists) expect(decodeZones(encodeZones(z))).toBe(z);
    // A list with a zone the table lacks is packed by area, as before.
    expect(encodeZones('Australia/Perth|Mars/Base')).toBe('Australia/Perth|Mars/Base');
    expect(encodeZones('#0a')).toBe('##0a');
    // Stored before: packed, or as it came.
    expect(decodeZones('Australia/Adelaide|~Brisbane')).toBe('Australia/Adelaide|Australia/Brisbane');
    expect(decodeZones('Europe/Paris')).toBe('Europe/Paris');
    expect(decodeRow(JSON.stringify({ row: 1, name: '', phone: '', tz: 'Australia/Hobart|~Melbourne' })).timezone).toBe('Australia/Hobart|Australia/Melbourne');
    for (const z of ZONE_TABLE) expect(codeZone(zoneCode(z)!)).toBe(z);
  });

  it('the zone table only grows: its first 422 zones keep their place', () => {
    expect(new Set(ZONE_TABLE).size).toBe(ZONE_TABLE.length);
    expect(ZONE_TABLE.length).toBeLessThanOrEqual(62 * 62);
    // Changing this hash means a stored code now names another zone: add new zones at the end instead.
    expect(createHash('sha1').update(ZONE_TABLE.slice(0, 422).join(' ')).digest('hex')).toBe('948ac6d3fa8afae4151277b9e3784e27579d2ca9');
  });

  it('stores a first variable that repeats the name once, and puts it back in front', () => {
    const rec: RowRecord = { row: 3, name: 'Ann Lee', phone: '+61412000003', state: 'queued', vars: { name: 'Ann Lee', city: 'Perth' } };
    const raw = JSON.parse(encodeRow(rec)) as Record<string, unknown>;
    expect(raw).toMatchObject({ vn: 1, vars: { city: 'Perth' } });
    const back = decodeRow(encodeRow(rec));
    expect(back).toEqual(rec);
    expect(Object.keys(back.vars!)).toEqual(['name', 'city']);
    const other: RowRecord = { ...rec, vars: { full_name: 'Ann Lee' } };
    expect(JSON.parse(encodeRow(other))).toMatchObject({ vn: 'full_name', vars: {} });
    expect(decodeRow(encodeRow(other))).toEqual(other);
    // Not first, not equal, no name: stored as they are.
    for (const vars of [{ city: 'Perth', name: 'Ann Lee' }, { name: 'Ann' }] as Record<string, string>[]) {
      const r = { ...rec, vars };
      expect(JSON.parse(encodeRow(r))).not.toHaveProperty('vn');
      expect(decodeRow(encodeRow(r))).toEqual(r);
    }
    expect(decodeRow(encodeRow({ ...rec, name: '' }))).toEqual({ ...rec, name: '' });
    // Blanked name and variables gone (erasure): nothing comes back.
    expect(decodeRow(JSON.stringify({ ...raw, name: '', vars: undefined })).vars).toBeUndefined();
    // A patch carries both or neither.
    expect(JSON.parse(encodeRowPatch({ name: 'Bo', vars: { name: 'Bo' } }))).toEqual({ name: 'Bo', vars: {}, vn: 1 });
    expect(JSON.parse(encodeRowPatch({ name: 'Bo', vars: { city: 'X' } }))).toEqual({ name: 'Bo', vars: { city: 'X' }, vn: null });
    expect(() => encodeRowPatch({ name: 'Bo' })).toThrow(/together/);
  });

  it('a patch merged by ROW_MOVE sets and clears the short names, and the long ones of an old row', async () => {
    const t = await openTestRuntime(prefix);
    try {
      const { store } = t.rt;
      const key = store.keys.rows('c');
      const old = { ...full, outcome: undefined, state: 'placed' as const };
      delete old.outcome;
      await t.rt.redis.hset(key, '7', JSON.stringify(old)); // the encoding before: long names
      expect(await store.moveRow('c', 7, { patch: { started_at: '2026-12-02T07:00:00.000Z', ended_at: '2026-12-02T07:00:09.500Z', timezone: 'Asia/Tokyo', cost: null } })).toBe('applied');
      const raw = JSON.parse((await t.rt.redis.hget(key, '7'))!) as Record<string, unknown>;
      expect(raw).not.toHaveProperty('started_at');
      expect(raw).not.toHaveProperty('ended_at');
      expect(raw).toMatchObject({ ed: 9500 });
      expect(raw).not.toHaveProperty('cost');
      expect(raw).not.toHaveProperty('c');
      const rec = (await store.getRow('c', 7))!;
      expect(rec).toMatchObject({ started_at: '2026-12-02T07:00:00.000Z', ended_at: '2026-12-02T07:00:09.500Z', timezone: 'Asia/Tokyo', duration_seconds: 12.5, state: 'placed' });
      expect(rec.cost).toBeUndefined();
      expect(JSON.parse(encodeRowPatch({ cost: null }))).toEqual({ c: null, cost: null });
      // A loaded row is queued without saying so.
      expect(await store.loadRows('c', [{ row: 9, name: 'B', phone: '+61412000009' }])).toEqual([1]);
      expect(JSON.parse((await t.rt.redis.hget(key, '9'))!)).not.toHaveProperty('state');
      expect(await store.getRow('c', 9)).toMatchObject({ state: 'queued' });
      // Final: the outcome stands for the state.
      expect(await store.moveRow('c', 7, { outcome: 'completed' })).toBe('applied');
      expect(JSON.parse((await t.rt.redis.hget(key, '7'))!)).not.toHaveProperty('state');
      expect(await store.getRow('c', 7)).toMatchObject({ state: 'final', outcome: 'completed' });
    } finally {
      await t.rt.close();
    }
  });

  it('a row with a coded zone and a folded name variable reads back whole after the lifecycle script and the erasure script rewrote it', async () => {
    const t = await openTestRuntime(prefix);
    try {
      const { store } = t.rt;
      const rec: RowRecord = { row: 8, name: 'Ann Lee', phone: '+61412000008', vars: { name: 'Ann Lee', city: 'Perth' }, timezone: AU, state: 'queued' };
      await t.rt.redis.hset(store.keys.rows('c2'), '8', encodeRow(rec));
      expect(await store.moveRow('c2', 8, { patch: { status: 'waiting' } })).toBe('applied');
      expect(await store.getRow('c2', 8)).toEqual({ ...rec, status: 'waiting' });
      await store.privacy.eraseNumber('c2', rec.phone, new Date().toISOString(), ['8']);
      const erased = (await store.getRow('c2', 8))!;
      expect(erased).toMatchObject({ name: '', phone: '', outcome: 'suppressed', timezone: AU });
      expect(erased.vars).toBeUndefined();
    } finally {
      await t.rt.close();
    }
  });
});
