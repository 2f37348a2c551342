/**
 * The campaign report on a campaign run on the simulator over HTTP: every
 * figure is recomputed here, independently (luxon for local times, plain
 * loops), from the results file written by `export` and the audit export,
 * and compared with what `dialer report` (CLI), the report route and the
 * file-mode report computed. The HTML is opened in headless Chromium: no
 * console errors, the charts are there, a screenshot is written.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseCsv } from 'csv-parse/sync';
import { DateTime } from 'luxon';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecords } from '../src/privacy/audit.js';
import { campaignReport, fileReport } from '../src/report/build.js';
import type { CampaignReport, Rate } from '../src/report/figures.js';
import { writeResults } from '../src/results/export.js';
import { buildServer } from '../src/server/app.js';
import type { Simulator } from '../src/simulator/index.js';
import { campaignIn, cleanupPrefix, openTestRuntime, REDIS_URL, runCli, startDialing, testPrefix, type TestRuntime } from './helpers/dialer.js';
import { numbers, useSimulators } from './helpers/sim-http.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const prefix = testPrefix('report');
const simulator = useSimulators();
const NAME = 'report-sim';
const ZONES = ['Australia/Sydney', 'Australia/Perth', 'America/New_York', 'Europe/London'];

let dir: string;
let t: TestRuntime;
let sim: Simulator;
let resultsFile: string;
let rows: Record<string, string>[];
let dials: string[];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-report-'));
  sim = await simulator({ seed: 11, callDurationMs: { min: 150, max: 700 }, faults: { rejectRate: 0.12 } });
  t = await openTestRuntime(prefix, sim);
  const phones = numbers(48, 61413500000);
  const lines = phones.map((p, i) => `P${i + 1},${p},${ZONES[i % ZONES.length]}`);
  lines.push('Bad one,12,Australia/Sydney', 'Bad two,not a number,Australia/Sydney', `Twice,${phones[0]},Australia/Sydney`, `Thrice,${phones[1]},Australia/Perth`);
  const c = await campaignIn(path.join(dir, NAME), {
    name: NAME, assistant_id: 'CE_1', default_country: 'AU', rate: { calls: 200, per_seconds: 1 }, concurrency: 10,
    retry: { attempts: 2, backoff_ms: 50, max_backoff_ms: 200 }, poll: { interval_seconds: 0.2, timeout_minutes: 1 },
    redial: { outcomes: ['no-answer', 'busy', 'voicemail'], max: 1, after_minutes: 0 },
    timezone_column: 'tz', results: path.join(dir, `${NAME}.csv`),
  }, ['name,phone,tz', ...lines].join('\n') + '\n');
  const d = await startDialing(t.rt, c);
  await d.done(45_000);
  await d.stop();
  resultsFile = path.join(dir, `${NAME}.csv`);
  await writeResults(t.rt.store, NAME, resultsFile);
  rows = parseCsv<Record<string, string>>(await readFile(resultsFile, 'utf8'), { columns: true });
  dials = [];
  for await (const a of auditRecords(t.rt.store, NAME)) dials.push(a.at_utc);
}, 90_000);

afterAll(async () => {
  await t?.rt.close();
  await cleanupPrefix(prefix);
});

// ---- the independent recomputation -----------------------------------------------

const zoneOf = (r: Record<string, string>) => (r.timezone ?? '').split('|')[0]!.replace(/ \(.*\)$/, '') || 'unknown';
const rate = (rs: Record<string, string>[]): Rate => {
  const completed = rs.filter((r) => r.outcome === 'completed').length;
  return { dialed: rs.length, completed, rate: rs.length ? completed / rs.length : null };
};
function groupRates(rs: Record<string, string>[], key: (r: Record<string, string>) => string | undefined): Record<string, Rate> {
  const groups = new Map<string, Record<string, string>[]>();
  for (const r of rs) {
    const k = key(r);
    if (k === undefined) continue;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return Object.fromEntries([...groups].map(([k, g]) => [k, rate(g)]));
}
const nonEmpty = (m: Record<string, Rate>) => Object.fromEntries(Object.entries(m).filter(([, r]) => r.dialed > 0));
const localOf = (r: Record<string, string>) => (r.ended_at ? DateTime.fromISO(r.ended_at, { zone: zoneOf(r) }) : undefined);

function expectFigures(rep: CampaignReport): void {
  const dialed = rows.filter((r) => Number(r.attempts || 0) >= 1);
  const completed = rows.filter((r) => r.outcome === 'completed');
  expect(rep.rows).toBe(rows.length);
  const byOutcome: Record<string, number> = {};
  for (const r of rows) byOutcome[r.outcome!] = (byOutcome[r.outcome!] ?? 0) + 1;
  expect(rep.by_outcome).toEqual(byOutcome);
  expect(rep.by_verdict).toEqual({
    rejected: byOutcome.rejected ?? 0, duplicate: byOutcome.duplicate ?? 0,
    screened: (byOutcome.suppressed ?? 0) + (byOutcome['no-consent'] ?? 0),
    accepted: rows.length - (byOutcome.rejected ?? 0) - (byOutcome.duplicate ?? 0) - (byOutcome.suppressed ?? 0) - (byOutcome['no-consent'] ?? 0),
  });
  expect(rep.pickup.overall).toEqual(rate(dialed));
  expect(rep.pickup.by_attempt).toEqual(groupRates(dialed, (r) => r.attempts));
  expect(rep.pickup.by_timezone).toEqual(groupRates(dialed, zoneOf));
  expect(nonEmpty(rep.pickup.by_local_hour)).toEqual(groupRates(dialed, (r) => localOf(r)?.toFormat('H')));
  expect(nonEmpty(rep.pickup.by_weekday)).toEqual(groupRates(dialed, (r) => localOf(r)?.toFormat('ccc').toLowerCase()));
  expect(Object.keys(rep.pickup.by_local_hour)).toHaveLength(24);
  // The results carry an `assistant` column (the campaign's one assistant here).
  expect(rep.pickup.by_assistant).toEqual(groupRates(dialed, (r) => r.assistant || '(none)'));

  const durations = completed.map((r) => Number(r.duration_seconds)).sort((a, b) => a - b);
  const rank = (p: number) => durations[Math.ceil((p / 100) * durations.length) - 1];
  expect(rep.duration.calls).toBe(durations.length);
  expect(rep.duration.p50_seconds).toBe(rank(50));
  expect(rep.duration.p90_seconds).toBe(rank(90));
  const totalSeconds = rows.reduce((a, r) => a + Number(r.duration_seconds || 0), 0);
  expect(rep.duration.total_minutes).toBeCloseTo(totalSeconds / 60, 9);

  const hist: Record<string, number> = {};
  for (const r of dialed) hist[r.attempts!] = (hist[r.attempts!] ?? 0) + 1;
  expect(rep.attempts.histogram).toEqual(hist);
  expect(rep.attempts.contacts).toBe(dialed.length);
  expect(rep.attempts.mean).toBeCloseTo(dialed.reduce((a, r) => a + Number(r.attempts), 0) / dialed.length, 9);

  // Timeline: every POST of the audit record in its minute; answers at each completed call's start.
  const t0 = Math.floor(Math.min(...dials.map(Date.parse), ...completed.map((r) => Date.parse(r.started_at || r.ended_at!))) / 60_000) * 60_000;
  expect(rep.timeline.start).toBe(new Date(t0).toISOString());
  expect(rep.timeline.bucket_seconds).toBe(60);
  expect(rep.timeline.dials_from).toBe('audit');
  const perMinute = (ts: number[]) => {
    const out = new Array<number>(rep.timeline.dials.length).fill(0);
    for (const x of ts) out[Math.floor((x - t0) / 60_000)]!++;
    return out;
  };
  expect(rep.timeline.dials).toEqual(perMinute(dials.map(Date.parse)));
  expect(rep.timeline.answers).toEqual(perMinute(completed.map((r) => Date.parse(r.started_at || r.ended_at!))));
  expect(rep.timeline.dials.reduce((a, b) => a + b, 0)).toBe(dialed.reduce((a, r) => a + Number(r.attempts), 0));

  const reasons = (outcome: string) => {
    const m: Record<string, number> = {};
    for (const r of rows.filter((x) => x.outcome === outcome)) {
      const k = r.error!.trim().replace(/"[^"]*"/g, '"…"').replace(/\+?[\d•]+/g, '#').slice(0, 160) || '(no reason given)';
      m[k] = (m[k] ?? 0) + 1;
    }
    return m;
  };
  expect(rep.rejects).toEqual({ rows: byOutcome.rejected ?? 0, by_reason: reasons('rejected') });
  expect(rep.dead_letters.rows).toBe(byOutcome['dead-letter'] ?? 0);
  expect(rep.dead_letters.by_reason).toEqual(reasons('dead-letter'));

  const costs = rows.filter((r) => r.cost !== '' && r.cost !== undefined).map((r) => Number(r.cost));
  expect(rep.cost.source).toBe('calls');
  expect(rep.cost.calls_with_cost).toBe(costs.length);
  expect(rep.cost.total).toBeCloseTo(costs.reduce((a, b) => a + b, 0), 9);
  expect(rep.cost.per_completed_call).toBeCloseTo(costs.reduce((a, b) => a + b, 0) / completed.length, 9);
}

describe('campaign report', () => {
  it('the campaign has what the figures need: several outcomes, redials, rejects, dead letters, costs', () => {
    const outcomes = new Set(rows.map((r) => r.outcome));
    for (const o of ['completed', 'rejected', 'duplicate', 'dead-letter']) expect(outcomes, o).toContain(o);
    expect(rows.some((r) => Number(r.attempts) >= 2)).toBe(true);
    expect(rows.filter((r) => r.outcome === 'completed').every((r) => Number(r.cost) > 0)).toBe(true);
  });

  it('every figure of the report (from Redis, and from the results file) matches the results file', async () => {
    const fromRedis = await campaignReport(t.rt, NAME);
    expectFigures(fromRedis);
    expect(fromRedis.dead_letters.listed).toBe(fromRedis.dead_letters.rows);
    const fromFile = await fileReport(resultsFile, NAME, { dials });
    expectFigures(fromFile);
    expect({ ...fromFile, dead_letters: { ...fromFile.dead_letters, listed: 0 } }).toEqual({ ...fromRedis, dead_letters: { ...fromRedis.dead_letters, listed: 0 } });
  });

  it('the route serves the same figures as JSON, and HTML under its own CSP behind the token', async () => {
    const app = await buildServer(t.rt, { token: 'report-token-0123456789', uploadLimitBytes: 1 << 20, resultsDir: dir });
    try {
      const auth = { authorization: 'Bearer report-token-0123456789' };
      expect((await app.inject({ method: 'GET', url: `/campaigns/${NAME}/report` })).statusCode).toBe(401);
      const json = await app.inject({ method: 'GET', url: `/campaigns/${NAME}/report?format=json`, headers: auth });
      expect(json.statusCode).toBe(200);
      expectFigures(json.json<CampaignReport>());
      const byAccept = await app.inject({ method: 'GET', url: `/campaigns/${NAME}/report`, headers: { ...auth, accept: 'application/json' } });
      expect(byAccept.json<CampaignReport>().rows).toBe(rows.length);
      const html = await app.inject({ method: 'GET', url: `/campaigns/${NAME}/report`, headers: auth });
      expect(html.headers['content-type']).toMatch(/text\/html/);
      expect(html.headers['content-security-policy']).toMatch(/default-src 'none'/);
      expect(html.headers['content-security-policy']).not.toMatch(/script-src/);
      expect(html.body).toContain('<svg');
      expect((await app.inject({ method: 'GET', url: '/campaigns/nope/report', headers: auth })).statusCode).toBe(404);
      const bad = await app.inject({ method: 'GET', url: `/campaigns/${NAME}/report?price_per_minute=cheap`, headers: auth });
      expect(bad.statusCode).toBe(400);
      expect(bad.json<{ error: string }>().error).toMatch(/price_per_minute/);
    } finally {
      await app.close();
    }
  });

  it('dialer report writes the HTML file and --json the figures; Chromium opens the file offline with its charts', async () => {
    const env = { REDIS_URL, DIALER_PREFIX: prefix };
    const out = path.join(dir, 'report.html');
    const html = await runCli(['report', NAME, '--out', out], env);
    expect(html.code, html.stderr).toBe(0);
    expect(html.stdout).toContain(out);
    const text = await readFile(out, 'utf8');
    // Self-contained: no script to run, nothing fetched from anywhere.
    expect(text).not.toMatch(/<script(?![^>]*application\/json)/);
    expect(text).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    const embedded = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(text)![1]!) as CampaignReport;
    expectFigures(embedded);

    await expect(fileReport(path.join(dir, 'nope.csv'), NAME)).rejects.toThrow(/nope\.csv/);

    if (!existsSync(CHROMIUM)) {
      console.warn(`Chromium part skipped: no ${CHROMIUM}`);
      return;
    }
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
      });
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(pathToFileURL(out).href);
      expect(await page.title()).toBe(`Report: ${NAME}`);
      expect(await page.locator('figure.chart svg').count()).toBe(9); // with the by-assistant chart
      expect(await page.locator('figure.chart rect').count()).toBeGreaterThan(20);
      expect(await page.locator('polyline').count()).toBe(2);
      const kpis = await page.locator('.kpi').allTextContents();
      expect(kpis.join(' ')).toContain(`${(embedded.pickup.overall.rate! * 100).toFixed(1)}%`);
      const shot = path.join(dir, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`report screenshot: ${shot}`);
      expect(errors).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 150_000);
});
