import { describe, expect, it } from 'vitest';
import type { ZoneInfo } from '../src/phone/zones.js';
import { zonesForNumber } from '../src/phone/zones.js';
import { checkWindow, nextOpening, type CallingHours } from '../src/windows/index.js';

// Table tests with explicit instants (the "fake clock" is the `at` parameter).
const zone = (zones: string[], extra: Partial<ZoneInfo> = {}): ZoneInfo => ({ zones, source: 'column', ...extra });
const AU: CallingHours = { preset: 'au-telemarketing' };
const US: CallingHours = { preset: 'us-tcpa' };
const UK: CallingHours = { preset: 'uk' };
const SYD = zone(['Australia/Sydney'], { country: 'AU' });

type Row = [name: string, hours: CallingHours | undefined, zone: ZoneInfo, at: string, open: boolean, next?: string | null];

function run(rows: Row[]) {
  it.each(rows)('%s', (_name, hours, z, at, open, next) => {
    const d = checkWindow(hours, z, new Date(at));
    expect(d.open, d.rule).toBe(open);
    if (!open && next !== undefined) expect(d.nextOpen?.toISOString() ?? null).toBe(next);
    // nextOpening agrees: `at` itself when open, else the same nextOpen.
    const n = nextOpening(hours, z, new Date(at));
    expect(n?.toISOString() ?? null).toBe(open ? new Date(at).toISOString() : (d.nextOpen?.toISOString() ?? null));
  });
}

describe('au-telemarketing', () => {
  run([
    ['Mon 08:59 Sydney closed', AU, SYD, '2026-06-07T22:59:00Z', false, '2026-06-07T23:00:00.000Z'],
    ['Mon 09:00 Sydney open (King\'s Birthday is a NSW holiday, not national)', AU, SYD, '2026-06-07T23:00:00Z', true],
    ['Fri 19:59 Sydney open', AU, SYD, '2026-06-05T09:59:00Z', true],
    ['Fri 20:00 Sydney closed → Sat 09:00', AU, SYD, '2026-06-05T10:00:00Z', false, '2026-06-05T23:00:00.000Z'],
    ['Sat 17:30 Sydney closed → Mon 09:00', AU, SYD, '2026-06-06T07:30:00Z', false, '2026-06-07T23:00:00.000Z'],
    ['Easter Sat 17:30 AEDT → Tue 09:00 AEST (Easter Mon holiday, DST ends Sun)', AU, SYD, '2026-04-04T06:30:00Z', false, '2026-04-06T23:00:00.000Z'],
    ['Sunday closed', AU, SYD, '2026-06-07T02:00:00Z', false, '2026-06-07T23:00:00.000Z'],
    ['Christmas 2026 (Fri) → Boxing Day, substitute Mon → Tue 29th', AU, SYD, '2026-12-24T23:00:00Z', false, '2026-12-28T22:00:00.000Z'],
    ['Australia Day 2027 (Tue) → Wed 09:00', AU, SYD, '2027-01-25T23:00:00Z', false, '2027-01-26T22:00:00.000Z'],
    ['Christmas 2027 is a Saturday: still closed', AU, SYD, '2027-12-24T23:00:00Z', false, '2027-12-28T22:00:00.000Z'],
    // Sydney DST starts Sun 2026-10-04 02:00 → 03:00; Mon 09:00 AEDT = 22:00Z (NSW Labour Day: state only).
    ['Sun 2026-10-04 (DST start) → Mon 09:00 AEDT', AU, SYD, '2026-10-04T01:00:00Z', false, '2026-10-04T22:00:00.000Z'],
    ['Adelaide Mon 08:30 ACDT closed → 09:00 ACDT', AU, zone(['Australia/Adelaide']), '2026-10-04T22:00:00Z', false, '2026-10-04T22:30:00.000Z'],
    ['Adelaide Wed after DST ends: 09:00 ACST', AU, zone(['Australia/Adelaide']), '2026-04-07T23:00:00Z', false, '2026-04-07T23:30:00.000Z'],
    // Same instant, Tue 2026-11-03 09:30Z: Sydney 20:30 AEDT closed, Brisbane 19:30 AEST open.
    ['Sydney 20:30 AEDT closed', AU, SYD, '2026-11-03T09:30:00Z', false, '2026-11-03T22:00:00.000Z'],
    ['Brisbane 19:30 AEST open (no DST)', AU, zone(['Australia/Brisbane']), '2026-11-03T09:30:00Z', true],
    ['same instant in winter: both 19:30, both open', AU, zone(['Australia/Brisbane', 'Australia/Sydney']), '2026-06-02T09:30:00Z', true],
  ]);
});

describe('several candidate zones (intersection)', () => {
  const mobile = zonesForNumber('+61412345678');
  run([
    ['AU mobile 08:30 Perth / 10:30 Sydney → Perth 09:00', AU, mobile, '2026-06-03T00:30:00Z', false, '2026-06-03T01:00:00.000Z'],
    ['AU mobile Fri 20:00 Sydney / 18:00 Perth → Sat 09:00 Perth', AU, mobile, '2026-06-05T10:00:00Z', false, '2026-06-06T01:00:00.000Z'],
    ['AU mobile Sat 17:00 Sydney → Mon 09:00 Perth', AU, mobile, '2026-06-06T07:00:00Z', false, '2026-06-08T01:00:00.000Z'],
    ['AU mobile Sat summer: Sydney closes 17:00 AEDT = 06:00Z', AU, mobile, '2026-11-07T06:00:00Z', false, '2026-11-09T01:00:00.000Z'],
    ['US 850 20:30 EDT / 19:30 CDT → 08:00 CDT (FL 8–8)', US, zonesForNumber('+18505551234'), '2026-07-01T00:30:00Z', false, '2026-07-01T13:00:00.000Z'],
    ['US 850 open 09:00 CDT', US, zonesForNumber('+18505551234'), '2026-07-01T14:00:00Z', true],
  ]);

  it('open: closesAt is the first zone to close, and the rule names it', () => {
    const d = checkWindow(AU, mobile, new Date('2026-06-03T02:00:00Z'));
    expect(d).toMatchObject({ open: true, rule: 'au-telemarketing Wed 09:00-20:00 Australia/Brisbane' });
    expect(d.closesAt?.toISOString()).toBe('2026-06-03T10:00:00.000Z');
  });

  it('closed: the rule names a blocking zone and its window', () => {
    const d = checkWindow(AU, zone(['Australia/Perth', 'Australia/Sydney']), new Date('2026-06-06T07:30:00Z'));
    expect(d.rule).toBe('au-telemarketing Sat 09:00-17:00 Australia/Sydney');
    expect(checkWindow(AU, SYD, new Date('2026-12-24T23:00:00Z')).rule).toBe('au-telemarketing public holiday 2026-12-25 Christmas Day (AU national) Australia/Sydney');
  });
});

describe('us-tcpa and state narrowing', () => {
  const NY = zone(['America/New_York'], { country: 'US', subdivision: 'US-NY' });
  const LA = zone(['America/Los_Angeles'], { country: 'US', subdivision: 'US-CA' });
  run([
    // New York: DST starts Sun 2026-03-08 02:00 EST → 03:00 EDT; ends Sun 2026-11-01 02:00 EDT → 01:00 EST.
    ['NY Sat 07:59 EST closed', US, NY, '2026-03-07T12:59:00Z', false, '2026-03-07T13:00:00.000Z'],
    ['NY Sat 20:30 EST open', US, NY, '2026-03-08T01:30:00Z', true],
    ['NY Sat 21:30 EST → Sun 08:00 EDT', US, NY, '2026-03-08T02:30:00Z', false, '2026-03-08T12:00:00.000Z'],
    ['NY Sun (DST day) 08:59 EDT open', US, NY, '2026-03-08T12:59:00Z', true],
    ['NY Sat 23:30 EDT → Sun 08:00 EST', US, NY, '2026-11-01T03:30:00Z', false, '2026-11-01T13:00:00.000Z'],
    ['NY Sun (fall-back) 07:30 EST closed', US, NY, '2026-11-01T12:30:00Z', false, '2026-11-01T13:00:00.000Z'],
    ['NY 20:30 EDT open (federal 9 pm)', US, NY, '2026-07-01T00:30:00Z', true],
    ['LA Sun (DST day) 07:30 PDT → 08:00 PDT', US, LA, '2026-03-08T14:30:00Z', false, '2026-03-08T15:00:00.000Z'],
    ['LA Sun (fall-back) 07:30 PST → 08:00 PST', US, LA, '2026-11-01T15:30:00Z', false, '2026-11-01T16:00:00.000Z'],
    ['FL 305 20:30 EDT closed (FTSA 8 pm)', US, zonesForNumber('+13055551234'), '2026-07-01T00:30:00Z', false, '2026-07-01T12:00:00.000Z'],
    ['TX Sun 11:00 CDT closed → noon', US, zonesForNumber('+17135551234'), '2026-07-05T16:00:00Z', false, '2026-07-05T17:00:00.000Z'],
    ['TX Mon 08:30 CDT closed → 09:00', US, zonesForNumber('+17135551234'), '2026-07-06T13:30:00Z', false, '2026-07-06T14:00:00.000Z'],
    ['MS Sunday closed → Mon 08:00 CDT', US, zone(['America/Chicago'], { country: 'US', subdivision: 'US-MS' }), '2026-07-05T16:00:00Z', false, '2026-07-06T13:00:00.000Z'],
  ]);

  it('closesAt across fall-back: LA 21:00 PST', () => {
    expect(checkWindow(US, LA, new Date('2026-11-01T20:00:00Z')).closesAt?.toISOString()).toBe('2026-11-02T05:00:00.000Z');
  });

  it('state rule is named', () => {
    expect(checkWindow(US, zonesForNumber('+13055551234'), new Date('2026-07-01T00:30:00Z')).rule).toBe('us-tcpa+FL Tue 08:00-20:00 America/New_York');
  });
});

describe('uk', () => {
  const LON = zone(['Europe/London'], { country: 'GB' });
  run([
    ['Fri 08:30 GMT closed → 09:00 GMT', UK, LON, '2026-03-27T08:30:00Z', false, '2026-03-27T09:00:00.000Z'],
    ['Mon 09:30 BST open (BST began Sun)', UK, LON, '2026-03-30T08:30:00Z', true],
    ['Sat 17:00 BST closed → Mon 09:00 BST', UK, LON, '2026-06-06T16:00:00Z', false, '2026-06-08T08:00:00.000Z'],
    ['Early May bank holiday → Tue 09:00 BST', UK, LON, '2026-05-04T10:00:00Z', false, '2026-05-05T08:00:00.000Z'],
    ['Mon after BST ends: 09:00 GMT', UK, LON, '2026-10-26T08:30:00Z', false, '2026-10-26T09:00:00.000Z'],
  ]);
});
