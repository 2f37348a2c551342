import { describe, expect, it } from 'vitest';
import { deadlineSpec, resolveDeadline, runDeadline } from '../src/campaign/deadline.js';
import { parseCampaign, type Campaign } from '../src/config/campaign.js';
import { parseDuration } from '../src/config/duration.js';
import { decideAfterCall } from '../src/poller/decide.js';
import { dialPriority, nextRedial, redialPlan } from '../src/poller/redial-plan.js';

const MIN = 60_000;
const parse = (extra: Record<string, unknown>): Campaign =>
  parseCampaign(JSON.stringify({ name: 'p', assistant_id: 'A', contacts: 'c.csv', ...extra }), '/x/p.json', '/x');
const error = (extra: Record<string, unknown>): string => {
  try {
    parse(extra);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a validation error');
};

describe('redial plans per outcome', () => {
  const plan = { 'no-answer': { after_minutes: [30, 120, 1440] }, busy: { after_minutes: [5, 30] }, voicemail: { after_minutes: [1440] } } as Campaign['redial'];
  // [outcome, calls so far (this one included), redials made per outcome, expected wait in minutes or 'finish']
  it.each([
    ['no-answer', 1, {}, 30],
    ['no-answer', 2, { 'no-answer': 1 }, 120],
    ['no-answer', 3, { 'no-answer': 2 }, 1440],
    ['no-answer', 4, { 'no-answer': 3 }, 'finish'],
    ['busy', 1, {}, 5],
    ['busy', 2, { busy: 1 }, 30],
    ['busy', 3, { busy: 2 }, 'finish'],
    ['voicemail', 1, {}, 1440],
    ['voicemail', 2, { voicemail: 1 }, 'finish'],
    // Each outcome counts its own redials: a busy after a no-answer redial is busy's first.
    ['busy', 2, { 'no-answer': 1 }, 5],
    ['no-answer', 3, { 'no-answer': 1, busy: 1 }, 120],
    ['failed', 1, {}, 'finish'],
    ['completed', 1, {}, 'finish'],
  ] as const)('%s after %i call(s), %j redials made → %s', (outcome, calls, redials, want) => {
    const d = decideAfterCall(plan, outcome, calls, { redials });
    const made: Record<string, number> = { ...redials };
    if (want === 'finish') expect(d).toEqual({ action: 'finish' });
    else expect(d).toEqual({ action: 'redial', delayMs: want * MIN, jobSuffix: `redial${calls}`, redials: { ...made, [outcome]: (made[outcome] ?? 0) + 1 } });
  });

  it('the one-plan shape means what it always meant: max redials in all, after_minutes each', () => {
    const one = { outcomes: ['no-answer', 'busy'], max: 2, after_minutes: 5 } as Campaign['redial'];
    expect(decideAfterCall(one, 'no-answer', 1)).toEqual({ action: 'redial', delayMs: 5 * MIN, jobSuffix: 'redial1' });
    expect(decideAfterCall(one, 'busy', 2)).toEqual({ action: 'redial', delayMs: 5 * MIN, jobSuffix: 'redial2' });
    expect(decideAfterCall(one, 'no-answer', 3)).toEqual({ action: 'finish' });
    expect(decideAfterCall(one, 'voicemail', 1)).toEqual({ action: 'finish' });
    // `redial: {}` (and `{priority}` alone) keep the defaults: no-answer, busy, voicemail; 2 redials; 240 min.
    expect(redialPlan({})).toEqual({ waitsMs: { 'no-answer': [240 * MIN, 240 * MIN], busy: [240 * MIN, 240 * MIN], voicemail: [240 * MIN, 240 * MIN] }, countBy: 'contact', priority: undefined });
    expect(redialPlan({ priority: 'first' })?.priority).toBe('first');
    expect(redialPlan(undefined)).toBeUndefined();
  });

  it('fractional minutes are kept', () => {
    expect(nextRedial(redialPlan({ busy: { after_minutes: [0.005] } }), 'busy', 1)).toEqual({ redial: true, delayMs: 300, counts: { busy: 1 } });
  });

  it('an empty list means no redial after that outcome', () => {
    expect(decideAfterCall({ busy: { after_minutes: [] } }, 'busy', 1)).toEqual({ action: 'finish' });
  });

  it('a redial that would be due at or after the deadline is not made', () => {
    const now = 1_000_000;
    expect(decideAfterCall(plan, 'busy', 1, { nowMs: now, deadlineMs: now + 5 * MIN })).toMatchObject({ action: 'finish', why: expect.stringContaining('deadline') });
    expect(decideAfterCall(plan, 'busy', 1, { nowMs: now, deadlineMs: now + 5 * MIN + 1 })).toMatchObject({ action: 'redial', delayMs: 5 * MIN });
  });

  it.each([
    [undefined, 'redial', undefined],
    [undefined, 'other', undefined],
    ['first', 'redial', 1],
    ['first', 'other', 2],
    ['last', 'redial', 3],
    ['last', 'other', 2],
  ] as const)('priority %s: a %s job gets BullMQ priority %s', (priority, kind, want) => {
    expect(dialPriority(priority, kind)).toBe(want);
  });
});

describe('redial key validation', () => {
  it('accepts either shape, with priority', () => {
    expect(parse({ redial: { busy: { after_minutes: [5, 30] }, priority: 'first' } }).redial).toEqual({ busy: { after_minutes: [5, 30] }, priority: 'first' });
    expect(parse({ redial: { outcomes: ['busy'], max: 1, after_minutes: 0.5, priority: 'last' } }).redial).toEqual({ outcomes: ['busy'], max: 1, after_minutes: 0.5, priority: 'last' });
  });
  it.each([
    [{ outcomes: ['busy'], busy: { after_minutes: [5] } }, '/x/p.json: redial.busy: cannot be combined with redial.outcomes'],
    [{ max: 3, 'no-answer': { after_minutes: [5] } }, '/x/p.json: redial.no-answer: cannot be combined with redial.max'],
    [{ after_minutes: [5, 30] }, '/x/p.json: redial.after_minutes: must be a number of minutes (one plan for all outcomes); a list of waits goes under redial.<outcome>.after_minutes'],
    [{ busy: { after_minutes: [-1] } }, '/x/p.json: redial.busy.after_minutes.0: '],
    [{ busy: { after: [1] } }, '/x/p.json: redial.busy: unknown key "after"'],
    [{ completed: { after_minutes: [1] } }, '/x/p.json: redial: unknown key "completed"'],
    [{ priority: 'soon' }, '/x/p.json: redial.priority: '],
  ])('%j → %s', (redial, message) => {
    expect(error({ redial })).toContain(message);
  });
});

describe('deadlines', () => {
  it.each([
    ['90m', 90 * MIN],
    ['2h', 120 * MIN],
    ['1d', 1440 * MIN],
    ['1h30m', 90 * MIN],
    ['45s', 45_000],
    ['0.5h', 30 * MIN],
    ['PT2H', 120 * MIN],
    ['P1DT12H', 36 * 60 * MIN],
    ['pt90m', 90 * MIN],
    ['2 h', 120 * MIN],
  ])('duration %s = %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
  it.each(['', '0m', 'h', '2x', 'P1M', 'P1Y', 'soon', '-5m', 'PT'])('"%s" is not a duration', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  const start = Date.parse('2026-12-01T09:00:00+10:00');
  it.each([
    ['end_at', { end_at: '2026-12-01T17:00:00+10:00' }, Date.parse('2026-12-01T07:00:00Z')],
    ['end_after from start_at', { start_at: '2026-12-01T09:00:00+10:00', end_after: '2h' }, start + 120 * MIN],
    ['end_after from a cron run', { cron: '0 9 * * 1-5', end_after: 'PT30M' }, start + 30 * MIN],
    ['no deadline', { start_at: '2026-12-01T09:00:00+10:00' }, undefined],
  ])('%s', (_name, schedule, want) => {
    expect(resolveDeadline(schedule as never, start)).toBe(want);
  });
  it('end_at is business time: DIALER_NOW shifts it onto the real clock', () => {
    expect(resolveDeadline({ end_at: '2026-12-01T10:00:00Z' }, 0, 3_600_000)).toBe(Date.parse('2026-12-01T09:00:00Z'));
  });
  it('a cron run keeps only the deadline; the spec names it', () => {
    expect(runDeadline({ cron: '0 9 * * *', timezone: 'UTC', end_after: '2h' })).toEqual({ end_after: '2h' });
    expect(runDeadline({ cron: '0 9 * * *' })).toBeUndefined();
    expect(deadlineSpec({ end_at: '2026-12-01T10:00:00Z' })).toBe('end_at:2026-12-01T10:00:00Z');
    expect(deadlineSpec(undefined)).toBeUndefined();
  });

  it('accepts a deadline alone or with start_at / cron', () => {
    expect(parse({ schedule: { end_after: '90m' } }).schedule).toEqual({ end_after: '90m' });
    expect(parse({ schedule: { start_at: '2026-12-01T09:00:00+10:00', end_at: '2026-12-01T17:00:00+10:00' } }).schedule).toMatchObject({ end_at: '2026-12-01T17:00:00+10:00' });
    expect(parse({ schedule: { cron: '0 9 * * 1-5', timezone: 'Australia/Brisbane', end_after: '8h' } }).schedule).toMatchObject({ cron: '0 9 * * 1-5', end_after: '8h' });
  });
  it.each([
    [{ end_at: '2026-12-01T17:00:00+10:00', end_after: '2h' }, '/x/p.json: schedule.end_after: cannot be combined with end_at'],
    [{ end_after: 'soon' }, '/x/p.json: schedule.end_after: must be a duration such as "90m", "2h", "1d" or ISO 8601 "PT2H"'],
    [{ end_at: '2026-12-01T17:00:00' }, '/x/p.json: schedule.end_at: '],
    [{ start_at: '2026-12-01T09:00:00+10:00', cron: '0 9 * * *' }, '/x/p.json: schedule.cron: cannot be combined with start_at'],
    [{ timezone: 'UTC', end_after: '1h' }, '/x/p.json: schedule.timezone: only goes with cron'],
    [{}, '/x/p.json: schedule: needs start_at, cron, end_at or end_after'],
    [{ end_after: '1h', stop: 1 }, '/x/p.json: schedule: unknown key "stop"'],
  ])('%j → %s', (schedule, message) => {
    expect(error({ schedule })).toContain(message);
  });
});
