import { describe, expect, it } from 'vitest';
import { canonicalZone, resolveContactZones, resolveZones, zonesForNumber } from '../src/phone/zones.js';

const AU_ALL = ['Australia/Adelaide', 'Australia/Brisbane', 'Australia/Darwin', 'Australia/Hobart', 'Australia/Melbourne', 'Australia/Perth', 'Australia/Sydney'];

describe('resolveContactZones', () => {
  it('a valid timezone column wins; country and state still come from the number', () => {
    expect(resolveContactZones('+61412345678', { timezoneColumnValue: 'Australia/Perth', fallbackTimezone: 'UTC' })).toEqual({ zones: ['Australia/Perth'], country: 'AU', source: 'column' });
    expect(resolveContactZones('+18505551234', { timezoneColumnValue: ' america/chicago ' })).toEqual({ zones: ['America/Chicago'], country: 'US', subdivision: 'US-FL', source: 'column' });
  });

  it('an invalid or blank column value falls back to the number', () => {
    for (const v of ['Mars/Olympus', 'AEST+10', '', '   ']) {
      expect(resolveContactZones('+61412345678', { timezoneColumnValue: v })).toMatchObject({ zones: AU_ALL, source: 'number' });
    }
  });

  it('an unknown number uses the fallback zone, else no zone', () => {
    expect(resolveContactZones('+15555550100', { fallbackTimezone: 'America/New_York' })).toEqual({ zones: ['America/New_York'], source: 'fallback' });
    expect(resolveContactZones('not a number', { fallbackTimezone: 'Europe/London' })).toEqual({ zones: ['Europe/London'], source: 'fallback' });
    expect(resolveContactZones('+8001234567', {})).toEqual({ zones: [], source: 'fallback' });
    expect(resolveContactZones('+8001234567', { fallbackTimezone: 'Nowhere/Else' })).toEqual({ zones: [], source: 'fallback' });
  });
});

describe('zonesForNumber: Australia', () => {
  it.each([
    ['mobile 04 → every state capital zone', '+61412345678', AU_ALL, undefined],
    ['02 NSW/ACT → Sydney', '+61293744000', ['Australia/Sydney'], undefined],
    ['03 VIC/TAS → Melbourne, Hobart', '+61398765432', ['Australia/Hobart', 'Australia/Melbourne'], undefined],
    ['07 → Brisbane, state QLD', '+61733334444', ['Australia/Brisbane'], 'AU-QLD'],
    ['07 55 Gold Coast/Tweed Heads → Brisbane and Sydney', '+61755361234', ['Australia/Brisbane', 'Australia/Sydney'], undefined],
    ['08 → Adelaide, Darwin, Perth', '+61882345678', ['Australia/Adelaide', 'Australia/Darwin', 'Australia/Perth'], undefined],
    ['08 9 Perth landline: still all 08 candidates', '+61892345678', ['Australia/Adelaide', 'Australia/Darwin', 'Australia/Perth'], undefined],
    ['Lord Howe Island exchange adds Lord_Howe', '+61255053123', ['Australia/Lord_Howe', 'Australia/Sydney'], undefined],
  ])('%s', (_name, n, zones, subdivision) => {
    const z = zonesForNumber(n);
    expect(z.zones).toEqual(zones);
    expect(z.subdivision).toBe(subdivision);
    expect(z.source).toBe('number');
  });

  it('Cocos (Keeling) Islands numbers share +61 but are their own region', () => {
    expect(zonesForNumber('+61891624000')).toMatchObject({ zones: ['Indian/Cocos'], country: 'CC' });
  });
});

describe('zonesForNumber: North America', () => {
  it.each([
    ['850 Florida panhandle spans Central and Eastern', '+18505551234', ['America/Chicago', 'America/New_York'], 'US-FL'],
    ['305 Miami', '+13055551234', ['America/New_York'], 'US-FL'],
    ['212 New York', '+12125551234', ['America/New_York'], 'US-NY'],
    ['713 Houston', '+17135551234', ['America/Chicago'], 'US-TX'],
    ['213 Los Angeles', '+12135551234', ['America/Los_Angeles'], 'US-CA'],
    ['208 Idaho spans Mountain and Pacific', '+12085551234', ['America/Boise', 'America/Los_Angeles'], 'US-ID'],
    ['928 Arizona: Navajo Nation keeps DST', '+19285551234', ['America/Denver', 'America/Phoenix'], 'US-AZ'],
    ['907 Alaska', '+19075551234', ['America/Adak', 'America/Anchorage'], 'US-AK'],
  ])('%s', (_name, n, zones, subdivision) => {
    expect(zonesForNumber(n)).toEqual({ zones, country: 'US', subdivision, source: 'number' });
  });

  it('Canada and the Caribbean get zones and country but no US state', () => {
    expect(zonesForNumber('+14165551234')).toEqual({ zones: ['America/Toronto'], country: 'CA', source: 'number' });
    expect(zonesForNumber('+17875551234')).toEqual({ zones: ['America/Puerto_Rico'], country: 'PR', source: 'number' });
  });

  it('an unassigned NPA is unknown, not "every zone of +1"', () => {
    expect(zonesForNumber('+15555550100').zones).toEqual([]);
  });
});

describe('zonesForNumber: elsewhere and caching', () => {
  it('a country with several zones → all of them', () => {
    const mx = zonesForNumber('+5215512345678');
    expect(mx.country).toBe('MX');
    expect(mx.zones).toEqual(expect.arrayContaining(['America/Mexico_City', 'America/Tijuana', 'America/Cancun']));
    expect([...mx.zones].sort()).toEqual(mx.zones);
  });

  it('single-zone countries', () => {
    expect(zonesForNumber('+442079460000')).toMatchObject({ zones: ['Europe/London'], country: 'GB' });
    expect(zonesForNumber('+33123456789')).toMatchObject({ zones: ['Europe/Paris'], country: 'FR' });
  });

  it('garbage is unknown', () => {
    for (const n of ['', '+', 'abc', '+12', '+1234567890123456789']) expect(zonesForNumber(n).zones).toEqual([]);
  });

  it('answers are cached by prefix and frozen', () => {
    const a = zonesForNumber('+61412345678');
    expect(zonesForNumber('+61412999999')).toBe(a);
    expect(Object.isFrozen(a) && Object.isFrozen(a.zones)).toBe(true);
    // Lord Howe exchanges sit deeper than the default prefix: the cache must not mix them up.
    expect(zonesForNumber('+61255053123')).not.toBe(zonesForNumber('+61255059999'));
  });

  it('resolveZones (async) agrees with the sync path', async () => {
    expect(await resolveZones('+18505551234')).toBe(zonesForNumber('+18505551234'));
  });

  it('canonicalZone', () => {
    expect(canonicalZone('australia/sydney')).toBe('Australia/Sydney');
    expect(canonicalZone('Nope/Nope')).toBeNull();
  });
});
