import { describe, expect, it } from 'vitest';
import type { CampaignFile } from '../src/config/campaign.js';
import type { ZoneInfo } from '../src/phone/zones.js';
import { checkWindow, nextOpening, type CallingHours } from '../src/windows/index.js';

const zone = (zones: string[], extra: Partial<ZoneInfo> = {}): ZoneInfo => ({ zones, source: 'column', ...extra });
const SYD = zone(['Australia/Sydney'], { country: 'AU' });
const NY = zone(['America/New_York'], { country: 'US', subdivision: 'US-NY' });
const at = (iso: string) => new Date(iso);
const iso = (d: Date | undefined) => d?.toISOString() ?? null;

// The campaign schema's calling_hours must be accepted as is.
export const schemaFits = (c: CampaignFile): CallingHours | undefined => c.calling_hours;

describe('custom fields only narrow a preset', () => {
  it.each([
    // [name, hours, at, open, nextOpen]
    ['start 10:00 narrows au 09:00: Mon 09:30 closed', { preset: 'au-telemarketing', start: '10:00' }, '2026-06-07T23:30:00Z', false, '2026-06-08T00:00:00.000Z'],
    ['start 07:00 cannot widen: Mon 08:00 still closed until 09:00', { preset: 'au-telemarketing', start: '07:00' }, '2026-06-07T22:00:00Z', false, '2026-06-07T23:00:00.000Z'],
    ['end 22:00 cannot widen: Mon 20:30 closed', { preset: 'au-telemarketing', end: '22:00' }, '2026-06-08T10:30:00Z', false, '2026-06-08T23:00:00.000Z'],
    ['end 18:00 narrows: Sat still ends 17:00, Mon 18:30 closed', { preset: 'au-telemarketing', end: '18:00' }, '2026-06-08T08:30:00Z', false, '2026-06-08T23:00:00.000Z'],
    ['days [sun] cannot add Sunday: never open', { preset: 'au-telemarketing', days: ['sun'] }, '2026-06-07T02:00:00Z', false, null],
    ['days [mon] only: Tue → next Mon 09:00', { preset: 'au-telemarketing', days: ['mon'] }, '2026-06-09T02:00:00Z', false, '2026-06-14T23:00:00.000Z'],
    ['holidays: false cannot re-open Christmas', { preset: 'au-telemarketing', holidays: false }, '2026-12-24T23:00:00Z', false, '2026-12-28T22:00:00.000Z'],
  ] as [string, CallingHours, string, boolean, string | null][])('%s', (_n, hours, t, open, next) => {
    const d = checkWindow(hours, SYD, at(t));
    expect(d.open, d.rule).toBe(open);
    expect(iso(d.nextOpen)).toBe(next);
  });

  it('custom narrowing is labelled', () => {
    expect(checkWindow({ preset: 'au-telemarketing', start: '10:00' }, SYD, at('2026-06-08T01:00:00Z')).rule).toBe('au-telemarketing+custom Mon 10:00-20:00 Australia/Sydney');
  });

  it('holidays: true adds the contact state\'s holidays (NSW Labour Day 2026-10-05)', () => {
    const nsw = zone(['Australia/Sydney'], { country: 'AU', subdivision: 'AU-NSW' });
    expect(checkWindow({ preset: 'au-telemarketing' }, nsw, at('2026-10-05T01:00:00Z')).open).toBe(true);
    const d = checkWindow({ preset: 'au-telemarketing', holidays: true }, nsw, at('2026-10-05T01:00:00Z'));
    expect(d.open).toBe(false);
    expect(d.rule).toContain('Labour Day (AU-NSW)');
    expect(iso(d.nextOpen)).toBe('2026-10-05T22:00:00.000Z');
  });

  it('holidays: true with us-tcpa skips US federal holidays (Independence Day observed Fri 2026-07-03)', () => {
    const d = checkWindow({ preset: 'us-tcpa', holidays: true }, NY, at('2026-07-03T14:00:00Z'));
    expect(d.open).toBe(false);
    expect(iso(d.nextOpen)).toBe('2026-07-05T12:00:00.000Z'); // Sat 4th is the holiday itself
  });
});

describe('none preset', () => {
  it('is always open, even with no zone, and never closes', () => {
    for (const z of [NY, zone([])]) {
      const d = checkWindow({ preset: 'none' }, z, at('2026-11-01T06:30:00Z'));
      expect(d).toEqual({ open: true, rule: 'none: no calling-hours limit' });
    }
    expect(checkWindow(undefined, NY, at('2026-01-01T03:00:00Z')).open).toBe(true);
  });

  it('custom start/end narrow it', () => {
    const h: CallingHours = { preset: 'none', start: '10:00', end: '18:00' };
    expect(iso(checkWindow(h, NY, at('2026-07-01T13:00:00Z')).nextOpen)).toBe('2026-07-01T14:00:00.000Z');
    expect(iso(checkWindow(h, NY, at('2026-07-01T15:00:00Z')).closesAt)).toBe('2026-07-01T22:00:00.000Z');
  });

  it('holidays: true uses the contact country (and is a no-op when the country is unknown)', () => {
    const h: CallingHours = { preset: 'none', holidays: true };
    const d = checkWindow(h, SYD, at('2027-01-26T02:00:00Z'));
    expect(d.open).toBe(false);
    expect(iso(d.nextOpen)).toBe('2027-01-26T13:00:00.000Z'); // midnight Sydney
    expect(checkWindow(h, zone(['Australia/Sydney']), at('2027-01-26T02:00:00Z')).open).toBe(true);
  });

  it('a window that runs to 24:00 continues into the next day', () => {
    const days = checkWindow({ preset: 'none', days: ['fri', 'sat'] }, NY, at('2026-07-03T14:00:00Z'));
    expect(iso(days.closesAt)).toBe('2026-07-05T04:00:00.000Z'); // Sun 00:00 EDT
    const daily = checkWindow({ preset: 'none', start: '08:00', end: '24:00' }, NY, at('2026-07-03T14:00:00Z'));
    expect(iso(daily.closesAt)).toBe('2026-07-04T04:00:00.000Z'); // Sat 00:00 EDT: Sat opens 08:00
  });

  it('start later than end is an overnight window', () => {
    const h: CallingHours = { preset: 'none', start: '22:00', end: '06:00' };
    const d = checkWindow(h, NY, at('2026-07-04T03:00:00Z')); // Fri 23:00 EDT
    expect(d.open).toBe(true);
    expect(iso(d.closesAt)).toBe('2026-07-04T10:00:00.000Z'); // Sat 06:00 EDT
    expect(iso(checkWindow(h, NY, at('2026-07-04T12:00:00Z')).nextOpen)).toBe('2026-07-05T02:00:00.000Z');
  });
});

describe('DST edges in custom windows', () => {
  it('spring forward: a start inside the skipped hour opens when the clock jumps', () => {
    // 2026-03-08 02:30 does not exist in New York: 02:00 EST → 03:00 EDT at 07:00Z.
    const d = checkWindow({ preset: 'none', start: '02:30' }, NY, at('2026-03-08T05:00:00Z'));
    expect(iso(d.nextOpen)).toBe('2026-03-08T07:00:00.000Z');
  });

  it('fall back: a start in the repeated hour is its first occurrence', () => {
    // 2026-11-01 01:30 happens at 05:30Z (EDT) and again at 06:30Z (EST).
    const d = checkWindow({ preset: 'none', start: '01:30' }, NY, at('2026-11-01T04:00:00Z'));
    expect(iso(d.nextOpen)).toBe('2026-11-01T05:30:00.000Z');
  });

  it('spring forward in Sydney: the 09:00 boundary exists (us-tcpa 08:00 AEDT)', () => {
    expect(iso(nextOpening({ preset: 'us-tcpa' }, SYD, at('2026-10-03T20:00:00Z')))).toBe('2026-10-03T21:00:00.000Z');
    expect(iso(nextOpening({ preset: 'us-tcpa' }, SYD, at('2026-04-04T21:30:00Z')))).toBe('2026-04-04T22:00:00.000Z');
  });
});

describe('unknown or bad zones', () => {
  it('a restrictive preset keeps a contact with no zone closed, with no nextOpen', () => {
    const d = checkWindow({ preset: 'us-tcpa' }, zone([]), at('2026-07-01T15:00:00Z'));
    expect(d).toEqual({ open: false, rule: "us-tcpa: contact's time zone unknown" });
    expect(nextOpening({ preset: 'us-tcpa' }, zone([]), at('2026-07-01T15:00:00Z'))).toBeUndefined();
  });

  it('an invalid zone name is closed, not a crash', () => {
    expect(checkWindow({ preset: 'uk' }, zone(['Mars/Olympus']), at('2026-07-01T15:00:00Z')).open).toBe(false);
  });

  it('an invalid Date throws', () => {
    expect(() => checkWindow({ preset: 'uk' }, NY, new Date('nope'))).toThrow(RangeError);
  });
});
