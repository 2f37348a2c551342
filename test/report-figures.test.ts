/** The report's pure parts: table tests of each rule, and a hand-computed small report. */
import { describe, expect, it } from 'vitest';
import { computeReport, firstZone, localHourDay, percentile, reasonOf, verdictOf, type ResultLike } from '../src/report/figures.js';
import { renderReportHtml } from '../src/report/html.js';
import { parseSearch } from '../src/campaign/rows-page.js';

describe('report rules', () => {
  it.each([
    ['completed', 'accepted'], ['dead-letter', 'accepted'], ['pending', 'accepted'], ['rejected', 'rejected'],
    ['duplicate', 'duplicate'], ['suppressed', 'screened'], ['no-consent', 'screened'],
  ])('verdict of %s is %s', (o, v) => expect(verdictOf(o)).toBe(v));

  it.each([
    [[], 50, null], [[7], 50, 7], [[7], 90, 7], [[1, 2], 50, 1], [[1, 2, 3, 4], 50, 2], [[1, 2, 3, 4], 90, 4],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90, 9], [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50, 5], [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 90, 10],
  ])('nearest-rank percentile of %j at p%i is %s', (xs, p, want) => expect(percentile(xs, p)).toBe(want));

  it.each([
    ['Australia/Sydney', 'Australia/Sydney'], ['Australia/Sydney|Australia/Perth', 'Australia/Sydney'],
    ['Europe/London (fallback)', 'Europe/London'], ['', ''], ['unknown', 'unknown'],
  ])('first zone of %j is %j', (cell, zone) => expect(firstZone(cell)).toBe(zone));

  it.each([
    // 2026-03-02 is a Monday. Sydney is UTC+11 in March (DST), Perth UTC+8, New York UTC-5.
    ['2026-03-02T01:30:00Z', 'Australia/Sydney', { hour: 12, day: 'mon' }],
    ['2026-03-02T01:30:00Z', 'Australia/Perth', { hour: 9, day: 'mon' }],
    ['2026-03-02T01:30:00Z', 'America/New_York', { hour: 20, day: 'sun' }],
    ['2026-03-02T13:00:00Z', 'Australia/Sydney', { hour: 0, day: 'tue' }],
    ['not a time', 'Australia/Sydney', undefined],
    ['2026-03-02T01:30:00Z', 'Mars/Olympus', undefined],
    ['2026-03-02T01:30:00Z', '', undefined],
  ])('local hour and day of %s in %s', (iso, zone, want) => expect(localHourDay(iso, zone)).toEqual(want));

  it.each([
    ['HTTP 422: call rejected (simulated)', 'HTTP #: call rejected (simulated)'],
    ['not a valid phone number: "12"', 'not a valid phone number: "…"'], ['row 7: same number as row 12', 'row #: same number as row #'],
    ['number +614•••••678 is on the list', 'number # is on the list'],
    ['', '(no reason given)'],
  ])('reason of %j groups as %j', (e, r) => expect(reasonOf(e)).toBe(r));

  it.each([
    ['1234', { kind: 'row', row: 1234 }], [' 77 ', { kind: 'row', row: 77 }],
    ['+61412345678', { kind: 'number', e164: '+61412345678' }], ['+61 412 345 678', { kind: 'number', e164: '+61412345678' }],
    ['+614•••••678', { kind: 'mask', glob: '+614?????678' }], ['*678', { kind: 'mask', glob: '*678' }], ['+614…678', { kind: 'mask', glob: '+614*678' }],
    ['alice', undefined], ['', undefined], ['+1', undefined], ['1]*', undefined],
  ])('search %j', (q, want) => expect(parseSearch(q)).toEqual(want));
});

const r = (o: Partial<Record<string, string | number | null>>): ResultLike => ({ outcome: 'completed', attempts: 1, timezone: 'Australia/Sydney', ...o });

describe('a small report, computed by hand', () => {
  const rows: ResultLike[] = [
    r({ duration_seconds: 60, cost: 0.12, started_at: '2026-03-02T01:10:30Z', ended_at: '2026-03-02T01:11:30Z' }), // Sydney mon 12h
    r({ duration_seconds: 120, cost: 0.24, attempts: 2, started_at: '2026-03-02T01:12:00Z', ended_at: '2026-03-02T01:14:00Z' }),
    r({ outcome: 'no-answer', duration_seconds: 0, cost: 0, attempts: 2, timezone: 'Australia/Perth|Australia/Sydney', ended_at: '2026-03-02T01:13:00Z' }), // Perth 9h
    r({ outcome: 'dead-letter', attempts: 1, error: 'HTTP 422: call rejected (simulated)', timezone: '' }),
    r({ outcome: 'rejected', attempts: 0, error: 'not a valid phone number' }),
    r({ outcome: 'rejected', attempts: null, error: 'not a valid phone number' }),
    r({ outcome: 'duplicate', attempts: 0, error: 'same number as row 1' }),
    r({ outcome: 'suppressed', attempts: 0 }),
  ];

  it('counts, rates, durations, attempts, timeline, reasons and cost', () => {
    const rep = computeReport('hand', rows, { dials: ['2026-03-02T01:10:00Z', '2026-03-02T01:10:59Z', '2026-03-02T01:12:00Z', '2026-03-02T01:12:30Z', '2026-03-02T01:13:10Z', '2026-03-02T01:13:20Z'], deadLetters: [{ retried: true }] });
    expect(rep.rows).toBe(8);
    expect(rep.by_outcome).toEqual({ completed: 2, 'dead-letter': 1, duplicate: 1, 'no-answer': 1, rejected: 2, suppressed: 1 });
    expect(rep.by_verdict).toEqual({ accepted: 4, rejected: 2, duplicate: 1, screened: 1 });
    expect(rep.pickup.overall).toEqual({ dialed: 4, completed: 2, rate: 0.5 });
    expect(rep.pickup.by_attempt).toEqual({ 1: { dialed: 2, completed: 1, rate: 0.5 }, 2: { dialed: 2, completed: 1, rate: 0.5 } });
    expect(rep.pickup.by_timezone).toEqual({ 'Australia/Perth': { dialed: 1, completed: 0, rate: 0 }, 'Australia/Sydney': { dialed: 2, completed: 2, rate: 1 }, unknown: { dialed: 1, completed: 0, rate: 0 } });
    expect(rep.pickup.by_local_hour['12']).toEqual({ dialed: 2, completed: 2, rate: 1 });
    expect(rep.pickup.by_local_hour['9']).toEqual({ dialed: 1, completed: 0, rate: 0 });
    expect(rep.pickup.by_local_hour['10']).toEqual({ dialed: 0, completed: 0, rate: null });
    expect(rep.pickup.by_weekday.mon).toEqual({ dialed: 3, completed: 2, rate: 2 / 3 });
    expect(rep.pickup.by_assistant).toBeNull();
    expect(rep.duration).toEqual({ calls: 2, p50_seconds: 60, p90_seconds: 120, total_minutes: 3 });
    expect(rep.attempts).toEqual({ contacts: 4, mean: 1.5, histogram: { 1: 2, 2: 2 } });
    expect(rep.timeline).toEqual({ start: '2026-03-02T01:10:00.000Z', bucket_seconds: 60, dials: [2, 0, 2, 2], answers: [1, 0, 1, 0], dials_from: 'audit' });
    expect(rep.dead_letters).toEqual({ rows: 1, listed: 1, retried: 1, by_reason: { 'HTTP #: call rejected (simulated)': 1 } });
    expect(rep.rejects).toEqual({ rows: 2, by_reason: { 'not a valid phone number': 2 } });
    expect(rep.cost.source).toBe('calls');
    expect(rep.cost.calls_with_cost).toBe(3);
    expect(rep.cost.total).toBeCloseTo(0.36, 12);
    expect(rep.cost.per_completed_call).toBeCloseTo(0.18, 12);
  });

  it('without a cost in the calls: an estimate from the price per minute, or none', () => {
    const noCost = rows.map((x) => ({ ...x, cost: null }));
    const est = computeReport('hand', noCost, { pricePerMinute: 0.1 });
    expect(est.cost).toMatchObject({ source: 'estimate', calls_with_cost: 0, price_per_minute: 0.1 });
    expect(est.cost.total).toBeCloseTo(0.3, 12);
    expect(est.cost.per_completed_call).toBeCloseTo(0.15, 12);
    expect(computeReport('hand', noCost).cost).toEqual({ source: 'none', total: null, per_completed_call: null, calls_with_cost: 0, price_per_minute: null });
  });

  it('an assistant column gives pickup by assistant; without dial times the timeline uses each row\'s last call', () => {
    const rep = computeReport('hand', rows.map((x, i) => ({ ...x, assistant: i % 2 ? 'CE_B' : 'CE_A' })));
    expect(rep.pickup.by_assistant).toEqual({ CE_A: { dialed: 2, completed: 1, rate: 0.5 }, CE_B: { dialed: 2, completed: 1, rate: 0.5 } });
    expect(rep.timeline).toEqual({ start: '2026-03-02T01:10:00.000Z', bucket_seconds: 60, dials: [1, 0, 1, 1], answers: [1, 0, 1, 0], dials_from: 'results' });
    expect(computeReport('x', [], { columns: ['row', 'assistant'] }).pickup.by_assistant).toEqual({});
  });

  it('a long campaign gets wider timeline buckets (at most 720)', () => {
    const dials = Array.from({ length: 3 * 24 * 60 }, (_, i) => new Date(Date.UTC(2026, 2, 2) + i * 60_000).toISOString());
    const rep = computeReport('long', [], { dials });
    expect(rep.timeline.bucket_seconds).toBe(6 * 60);
    expect(rep.timeline.dials).toHaveLength(720);
    expect(rep.timeline.dials.every((n) => n === 6)).toBe(true);
  });

  it('the HTML escapes every text and embeds the figures', () => {
    const rep = computeReport('hand', [r({ outcome: 'rejected', attempts: 0, error: '<img src=x onerror=alert(1)></script>' })]);
    const html = renderReportHtml(rep, '2026-03-02T00:00:00Z');
    expect(html).not.toContain('<img');
    expect(html.split('</script>')).toHaveLength(2);
    expect(Object.keys(rep.pickup.by_local_hour)).toEqual(Array.from({ length: 24 }, (_, h) => String(h)));
    expect(html).toContain('&lt;img src=x onerror=alert(#)&gt;');
    const data = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!;
    expect(JSON.parse(data)).toEqual(rep);
  });
});
