import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zonesForNumber } from '../src/phone/zones.js';
import type { Runtime } from '../src/runtime.js';
import { FREQUENCY_WINDOW_MS, recentCalls, reserveFrequency } from '../src/gate/frequency.js';
import { readNumbersFile } from '../src/gate/numbers-file.js';
import { addToSuppression, isSuppressed, listSuppression } from '../src/gate/suppression.js';
import { DateTime } from 'luxon';
import { localIso, windowDecision } from '../src/gate/window.js';
import { rowZones, zoneLabel } from '../src/gate/zone.js';
import { detectOptOut } from '../src/safety/optout.js';
import { cleanupPrefix, openTestRuntime, testPrefix } from './helpers/dialer.js';

const prefix = testPrefix('safety-parts');
let rt: Runtime;
beforeAll(async () => {
  rt = (await openTestRuntime(prefix)).rt;
});
afterAll(async () => {
  await rt?.close();
  await cleanupPrefix(prefix);
});

describe('detectOptOut', () => {
  it.each([
    [{ endedReason: 'customer-requested-dnc' }, true],
    [{ ended_reason: 'do-not-call-requested' }, true],
    [{ summary: 'The customer asked to be put on the Do Not Call list.' }, true],
    [{ summary: 'Caller opted out of further contact.' }, true],
    [{ summary: 'Wants to unsubscribe.' }, true],
    [{ transcript: 'AI: Hi Ann.\nUser: Stop calling me, please.' }, true],
    [{ transcript: 'AI: Hello?\nUser: Take me off your list.' }, true],
    [{ transcript: 'hello... please do not call me again' }, true],
    [{ endedReason: 'customer-ended-call', summary: 'Spoke with Ann, who booked a follow-up for Thursday morning.' }, false],
    [{ transcript: 'AI: You can opt out at any time by saying stop calling.\nUser: Sure, go ahead.' }, false],
    [{ summary: 'asked to be called back next month' }, false],
    [{ summary: null, transcript: undefined, endedReason: 42 }, false],
  ])('%j → %s', (details, expected) => {
    expect(detectOptOut(details)).toBe(expected);
  });

  it('addToSuppression adds once; the gate set sees it', async () => {
    expect(await addToSuppression(rt.store, '+61298765000')).toBe(true);
    expect(await addToSuppression(rt.store, '+61298765000')).toBe(false);
    expect(await isSuppressed(rt.store, '+61298765000')).toBe(true);
    expect(await listSuppression(rt.store)).toContain('+61298765000');
  });
});

describe('zone labels', () => {
  const c = { fallback_timezone: 'America/Chicago' } as const;
  it('round-trips number zones, column zones, fallback and unknown', () => {
    const mobile = rowZones(c, { phone: '+61412345678' });
    expect(mobile.zones).toHaveLength(7);
    expect(rowZones(c, { phone: '+61412345678', timezone: zoneLabel(mobile) })).toEqual(mobile);
    expect(rowZones({ timezone_column: 'tz' }, { phone: '+61412345678', timezone: 'australia/perth' })).toMatchObject({ zones: ['Australia/Perth'], source: 'column', country: 'AU' });
    const tollFree = rowZones(c, { phone: '+18005550100' });
    expect(zoneLabel(tollFree)).toBe('America/Chicago (fallback)');
    expect(rowZones(c, { phone: '+18005550100', timezone: 'America/Chicago (fallback)' })).toMatchObject({ zones: ['America/Chicago'], source: 'fallback' });
    expect(zoneLabel(rowZones({}, { phone: '+18005550100' }))).toBe('unknown');
    expect(rowZones({}, { phone: '+18005550100', timezone: 'unknown' }).zones).toEqual([]);
  });
});

describe('localIso (the audit\'s local_time)', () => {
  it('is what luxon writes, across offset changes, half-hour and 45-minute zones, whole seconds and milliseconds', () => {
    const zones = ['Australia/Sydney', 'Australia/Lord_Howe', 'Australia/Perth', 'America/New_York', 'America/St_Johns', 'Asia/Kathmandu', 'Pacific/Chatham', 'Europe/London', 'UTC', 'Etc/GMT+5', 'America/Sao_Paulo'];
    // Around 2026's changes of clocks (Sydney/Lord Howe in April and October, the US in March and November, Chatham, London), and a plain day.
    const around = ['2026-04-04T15:59:00Z', '2026-04-04T14:59:00Z', '2026-10-03T15:59:00Z', '2026-03-08T06:59:00Z', '2026-11-01T05:59:00Z', '2026-04-04T13:44:00Z', '2026-03-29T00:59:00Z', '2026-06-03T00:30:00Z'];
    let checked = 0;
    for (const zone of zones) {
      for (const at of around) {
        const start = Date.parse(at);
        // Every second of two minutes either side of the change, plus odd milliseconds.
        for (let ms = start - 60_000; ms <= start + 120_000; ms += 997) {
          for (const t of [ms, ms - (ms % 1000)]) {
            expect(localIso(zone, t), `${zone} ${new Date(t).toISOString()}`).toBe(DateTime.fromMillis(t, { zone }).toISO({ suppressMilliseconds: true }));
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(10_000);
    expect(localIso(undefined, Date.now())).toBeUndefined();
    expect(localIso('Not/AZone', Date.now())).toBeUndefined();
  });
});

describe('windowDecision', () => {
  const AU = { calling_hours: { preset: 'au-telemarketing' as const } };
  it('delays to the next opening in real ms, with the business-time opening', () => {
    const now = Date.parse('2026-06-07T02:00:00Z'); // Sunday 12:00 Sydney
    const d = windowDecision(AU, zonesForNumber('+61298765432'), now);
    expect(d).toMatchObject({ action: 'delay', nextAt: '2026-06-07T23:00:00.000Z', delayMs: 21 * 3_600_000 });
  });
  it('several zones: closed while one is closed', () => {
    const now = Date.parse('2026-06-03T00:30:00Z'); // Wed 10:30 Sydney, 08:30 Perth
    expect(windowDecision(AU, zonesForNumber('+61298765432'), now)).toMatchObject({ action: 'go', rule: expect.stringContaining('Australia/Sydney'), localTime: '2026-06-03T10:30:00+10:00' });
    expect(windowDecision(AU, zonesForNumber('+61412345678'), now)).toMatchObject({ action: 'delay', nextAt: '2026-06-03T01:00:00.000Z', reason: expect.stringContaining('Australia/Perth') });
  });
  it('unknown zone: rejected under calling hours, fine without', () => {
    const unknown = { zones: [], source: 'fallback' as const };
    expect(windowDecision(AU, unknown, Date.now())).toMatchObject({ action: 'skip', outcome: 'rejected' });
    expect(windowDecision({}, unknown, Date.now())).toMatchObject({ action: 'go' });
  });
});

describe('readNumbersFile', () => {
  it('finds the phone column of a wider CSV, any number format; --column picks one', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'safety-numbers-'));
    const wide = path.join(dir, 'wide.csv');
    await writeFile(wide, 'id,Customer,Mobile,Landline\n1,Ann,0412 345 678,(02) 9876 5432\n2,Bob,+61 412 000 111,\n3,Cat,not known,02 9876 5433\n');
    expect(await readNumbersFile(wide, { country: 'AU' })).toEqual({ numbers: ['+61412345678', '+61412000111'], invalid: 1, column: 'Mobile' });
    expect((await readNumbersFile(wide, { country: 'AU', column: 'landline' })).numbers).toEqual(['+61298765432', '+61298765433']);
    const bare = path.join(dir, 'bare.csv');
    await writeFile(bare, '+61298765432\n0061 2 9876 5433\n');
    expect(await readNumbersFile(bare)).toEqual({ numbers: ['+61298765432', '+61298765433'], invalid: 0, column: 'column 1' });
    await expect(readNumbersFile(wide, { column: 'nope' })).rejects.toThrow(/no column "nope"/);
    await expect(readNumbersFile(path.join(dir, 'missing.csv'))).rejects.toThrow(/cannot read/);
  });
});

describe('frequency cap (Lua on the real Redis)', () => {
  it('concurrent reservations: exactly `cap` succeed; the rest learn when a slot frees', async () => {
    const now = Date.parse('2026-06-08T00:00:00Z');
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => reserveFrequency(rt.store, '+61298760001', 3, now + i, `t|${i}`)));
    const ok = results.filter((r) => r.reserved);
    expect(ok).toHaveLength(3);
    const full = results.find((r) => !r.reserved);
    expect(full && !full.reserved && full.freeAt).toBeGreaterThanOrEqual(now + FREQUENCY_WINDOW_MS);
    expect(await recentCalls(rt.store, '+61298760001', now + 100)).toBe(3);
  });

  it('release gives the slot back; old calls leave the window', async () => {
    const t0 = Date.parse('2026-06-08T00:00:00Z');
    const a = await reserveFrequency(rt.store, '+61298760002', 1, t0);
    expect(a.reserved).toBe(true);
    const b = await reserveFrequency(rt.store, '+61298760002', 1, t0 + 1000);
    expect(b).toEqual({ reserved: false, freeAt: t0 + FREQUENCY_WINDOW_MS });
    if (a.reserved) await a.release();
    expect((await reserveFrequency(rt.store, '+61298760002', 1, t0 + 2000)).reserved).toBe(true);
    expect((await reserveFrequency(rt.store, '+61298760002', 1, t0 + 3000)).reserved).toBe(false);
    expect((await reserveFrequency(rt.store, '+61298760002', 1, t0 + 2000 + FREQUENCY_WINDOW_MS)).reserved).toBe(true);
  });

  it('the same logical call tried again keeps its one slot; releasing a reused slot keeps it', async () => {
    const t0 = Date.parse('2026-06-08T00:00:00Z');
    const first = await reserveFrequency(rt.store, '+61298760003', 2, t0, 'c|1|');
    const again = await reserveFrequency(rt.store, '+61298760003', 2, t0 + 1000, 'c|1|');
    expect([first.reserved, again.reserved]).toEqual([true, true]);
    if (again.reserved) await again.release(); // may stand for a call placed by the first POST
    expect(await recentCalls(rt.store, '+61298760003', t0 + 2000)).toBe(1);
    expect((await reserveFrequency(rt.store, '+61298760003', 2, t0 + 2000, 'c|1|call_a')).reserved).toBe(true); // a redial: new slot
    expect((await reserveFrequency(rt.store, '+61298760003', 2, t0 + 3000, 'c|1|call_b')).reserved).toBe(false);
  });
});
