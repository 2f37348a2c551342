import { describe, expect, it } from 'vitest';
import { parseCampaign, type Campaign } from '../src/config/campaign.js';
import { applySettings, diffSettings, fixedReason, flattenPatch, parseAssignment, SettingsError, type Assignment } from '../src/config/settings-patch.js';

const base: Campaign = parseCampaign(
  'name: spring\nassistant_id: CE_1\ncontacts: c.csv\nrate: { calls: 20, per_seconds: 1 }\ncalling_hours: { preset: au-telemarketing, end: "18:00" }\nredial: { max: 2 }\n',
  '/x/spring.yaml', '/x', '/w',
);

/** The issues a refused change reports, as "key: message". */
function issues(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof SettingsError) return e.issues.map((i) => `${i.key}: ${i.message}`);
    throw e;
  }
  throw new Error('expected a SettingsError');
}

describe('parseAssignment: KEY=VALUE with YAML values', () => {
  it.each<[string, Assignment]>([
    ['rate.calls=5', { key: 'rate.calls', value: 5 }],
    ['calling_hours.end=19:00', { key: 'calling_hours.end', value: '19:00' }],
    ['redial.busy.after_minutes=[10,60]', { key: 'redial.busy.after_minutes', value: [10, 60] }],
    ['rate={calls: 5, per_seconds: 2}', { key: 'rate', value: { calls: 5, per_seconds: 2 } }],
    ['detach_actions_on_finish=true', { key: 'detach_actions_on_finish', value: true }],
    ['max_live_calls=null', { key: 'max_live_calls', value: undefined }],
    ['on_ambiguous=skip', { key: 'on_ambiguous', value: 'skip' }],
    ['a=b=c', { key: 'a', value: 'b=c' }],
  ])('%s', (arg, want) => {
    expect(parseAssignment(arg)).toEqual(want);
  });

  it.each([
    ['rate.calls', 'rate.calls: expected KEY=VALUE'],
    ['=5', '=5: expected KEY=VALUE'],
    ['rate..calls=5', 'rate..calls: expected KEY=VALUE'],
    ['rate.calls=', 'rate.calls: no value'],
    ['rate.calls=[1,', 'rate.calls: value is not valid YAML'],
  ])('%s is refused naming the key', (arg, start) => {
    expect(issues(() => parseAssignment(arg))[0]).toMatch(new RegExp(`^${start.replace(/[.[\]]/g, '\\$&')}`));
  });
});

describe('flattenPatch: PATCH bodies', () => {
  it('a partial campaign, dotted keys and "set" give the same assignments', () => {
    const want = [{ key: 'rate.calls', value: 5 }, { key: 'calling_hours.end', value: '19:00' }, { key: 'redial.busy.after_minutes', value: [10, 60] }];
    expect(flattenPatch({ rate: { calls: 5 }, calling_hours: { end: '19:00' }, redial: { busy: { after_minutes: [10, 60] } } })).toEqual(want);
    expect(flattenPatch({ 'rate.calls': 5, 'calling_hours.end': '19:00', 'redial.busy.after_minutes': [10, 60] })).toEqual(want);
    expect(flattenPatch({ set: { 'rate.calls': 5, calling_hours: { end: '19:00' }, 'redial.busy': { after_minutes: [10, 60] } } })).toEqual(want);
  });
  it('null takes a key out', () => {
    expect(flattenPatch({ max_live_calls: null })).toEqual([{ key: 'max_live_calls', value: undefined }]);
  });
  it.each<[unknown, string]>([
    [[1], '(body): must be a JSON object'],
    ['rate.calls=5', '(body): must be a JSON object'],
    [{}, '(body): no settings to change'],
    [{ 'rate calls': 5 }, 'rate calls: not a settings key'],
  ])('%j is refused', (body, start) => {
    expect(issues(() => flattenPatch(body))[0]).toContain(start);
  });
});

describe('applySettings: merged, then validated by the campaign schema', () => {
  it('changes leaves and lists every change with old and new value', () => {
    const r = applySettings(base, [parseAssignment('rate.calls=2'), parseAssignment('calling_hours.end=19:00'), parseAssignment('concurrency=8')]);
    expect(r.campaign.rate).toEqual({ calls: 2, per_seconds: 1 });
    expect(r.campaign.calling_hours).toMatchObject({ preset: 'au-telemarketing', end: '19:00' });
    expect(r.changes).toEqual([
      { key: 'calling_hours.end', old: '18:00', new: '19:00' },
      { key: 'concurrency', old: 5, new: 8 },
      { key: 'rate.calls', old: 20, new: 2 },
    ]);
    // Paths worked out from the file stay; the campaign given is not touched.
    expect(r.campaign).toMatchObject({ file: '/x/spring.yaml', contactsPath: '/x/c.csv', resultsPath: '/w/results/spring.csv' });
    expect(base.rate.calls).toBe(20);
  });

  it('a value already so is no change', () => {
    expect(applySettings(base, [parseAssignment('rate.calls=20')]).changes).toEqual([]);
  });

  it('a key taken out goes back to its default; one never set comes with its defaults', () => {
    const r = applySettings(base, [parseAssignment('rate=null'), parseAssignment('poll.interval_seconds=1')]);
    expect(r.campaign.rate).toEqual({ calls: 10, per_seconds: 1 });
    expect(r.campaign.poll).toEqual({ interval_seconds: 1, timeout_minutes: 60 });
    const noRedial = parseCampaign('name: a\nassistant_id: X\ncontacts: c.csv\n', '/x/a.yaml', '/x');
    expect(applySettings(noRedial, [parseAssignment('redial.max=3')]).campaign.redial).toMatchObject({ max: 3 });
  });

  it.each<[string[], string[]]>([
    [['rate.calls=0'], ['rate.calls: ']],
    [['rate.calls=fast'], ['rate.calls: ']],
    [['calling_hours.end=7pm'], ['calling_hours.end: must be "HH:MM" (24-hour clock)']],
    [['calling_hours.preset=mars'], ['calling_hours.preset: ']],
    [['rate.burst=3'], ['rate.burst: unknown key']],
    [['colour=blue'], ['colour: unknown key']],
    [['rate.calls.max=3'], ['rate.calls.max: rate.calls is a number, not a group of settings']],
    [['rate.calls=0', 'concurrency=-1'], ['concurrency: ', 'rate.calls: ']],
  ])('%j is refused naming the key', (args, want) => {
    const got = issues(() => applySettings(base, args.map(parseAssignment)));
    expect(got).toHaveLength(want.length);
    for (const w of want) expect(got.some((g) => g.startsWith(w)), `${JSON.stringify(got)} has ${w}`).toBe(true);
  });

  it.each(['name=other', 'contacts=x.csv', 'results=r.csv', 'phone_column=mobile', 'name_column=n', 'timezone_column=tz', 'consent_column=c',
    'phone_columns=[a,b]', 'assistant_id=CE_2', 'default_country=NZ', 'variables=[a]', 'fallback_timezone=UTC', 'suppression=dnc.csv',
    'schedule.start_at=2027-01-01T00:00:00Z', 'sms_actions=[]'])('%s cannot change on a loaded campaign', (arg) => {
    const [msg] = issues(() => applySettings(base, [parseAssignment(arg)]));
    expect(msg).toMatch(new RegExp(`^${arg.split('=')[0]!.replace('.', '\\.')}: cannot change on a loaded campaign: \\S`));
  });

  it('a per-outcome retry plan is set like any other key', () => {
    const r = applySettings(base, [parseAssignment('redial=null'), parseAssignment('redial.busy.after_minutes=[10,60]')]);
    expect(r.changes).toEqual(expect.arrayContaining([expect.objectContaining({ key: 'redial.busy.after_minutes', new: [10, 60] })]));
    // The schema's own rules hold: a plan per outcome does not mix with the one-plan shape.
    expect(issues(() => applySettings(base, [parseAssignment('redial.busy.after_minutes=[10,60]')]))[0]).toMatch(/^redial\.busy: /);
  });

  it('keys it does not know of are left to the schema (a key added later needs no change here)', () => {
    expect(fixedReason('max_live_calls')).toBeUndefined();
    expect(fixedReason('redial.busy.after_minutes')).toBeUndefined();
    expect(fixedReason('keep_columns')).toMatch(/column/);
  });
});

describe('diffSettings', () => {
  it('compares leaves; lists are one leaf', () => {
    expect(diffSettings({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { b: 1, c: [1, 3] }, e: 2 })).toEqual([
      { key: 'a.c', old: [1, 2], new: [1, 3] },
      { key: 'd', old: 1, new: undefined },
      { key: 'e', old: undefined, new: 2 },
    ]);
  });
});
