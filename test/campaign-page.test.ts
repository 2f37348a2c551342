/**
 * The campaign page (/campaigns/:name) in headless Chromium (Debian's
 * chromium driven by playwright-core), on a real server with workers:
 * - a 100,000-row campaign seeded through the store (no need to dial it):
 *   paging, outcome and state filters, search by row, number and masked
 *   number; the server-side time of each kind of request is measured and
 *   printed (the bound asserted is generous: the machine is shared);
 * - a small campaign dialed on the simulator: the call detail (summary,
 *   transcript, recording link, attempts, audit trail), pause/resume, and a
 *   dead letter sent back with the page's retry button.
 */
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RowRecord } from '../src/campaign/row.js';
import { parseCampaign } from '../src/config/campaign.js';
import { maskPhone } from '../src/log.js';
import type { Runtime } from '../src/runtime.js';
import { startServer, type RunningServer } from '../src/server/service.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { cleanupPrefix, openTestRuntime, testPrefix, waitFor } from './helpers/dialer.js';
import { numbers } from './helpers/sim-http.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TOKEN = 'page-token-0123456789abcdef';
const prefix = testPrefix('page');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`campaign page test skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);

const BIG = 'page-big';
const ROWS = 100_000;
const SMALL = 'page-small';

let sim: Simulator;
let rt: Runtime;
let server: RunningServer;
let browser: Browser;
let outDir: string;

/** Row i of the big campaign: 5 in 10 completed, 2 no-answer, 1 busy, 1 rejected, 1 still queued. */
function bigRow(i: number): RowRecord {
  const k = i % 10;
  const phone = k === 8 ? `bad-${i}` : `+614${String(10_000_000 + i)}`;
  const base: RowRecord = { row: i, name: `Person ${i}`, phone };
  if (k === 9) return { ...base, job: `${BIG}-${i}` };
  if (k === 8) return { ...base, outcome: 'rejected', error: `not a valid phone number: "${phone}"` };
  const outcome = k < 5 ? 'completed' : k < 7 ? 'no-answer' : 'busy';
  return { ...base, outcome, attempts: 1, call_id: `call-${i}`, duration_seconds: outcome === 'completed' ? 30 + (i % 90) : 0, ended_at: new Date(Date.UTC(2026, 2, 2, 1) + i * 1000).toISOString(), cost: 0.01 };
}

async function seedBig(): Promise<void> {
  const c = parseCampaign(`name: ${BIG}\nassistant_id: CE_1\ncontacts: big.csv\ndefault_country: AU\n`, 'big.yaml', outDir, outDir);
  // Paused: its open rows are never dialed, whatever the reaper does with them.
  await rt.store.saveCampaign(c, 'paused');
  for (let start = 1; start <= ROWS; start += 1000) {
    const recs = Array.from({ length: 1000 }, (_, j) => bigRow(start + j));
    await rt.store.loadRows(BIG, recs);
    await rt.store.claimNumbers(BIG, recs.filter((r) => r.phone.startsWith('+')).map((r) => [r.phone, r.row] as [string, number]), Date.now());
  }
  expect(await rt.store.finishLoading(BIG, ROWS)).toBe('paused');
}

async function get<T>(url: string): Promise<T> {
  const res = await fetch(`${server.url}${url}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status, url).toBe(200);
  return (await res.json()) as T;
}

type Page_ = { rows: { row: number; outcome: string | null; state: string; phone: string }[]; total: number | null; next_after: number | null; cursor: string | null; server_ms: number; scanned: number };

async function openPage(name: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(server.url);
  await page.fill('#token', TOKEN);
  await page.click('#save-token');
  await page.goto(`${server.url}/campaigns/${name}`);
  return { page, errors };
}

describe.skipIf(!haveChromium)('campaign page in Chromium', () => {
  beforeAll(async () => {
    outDir = await mkdtemp(path.join(tmpdir(), 'dialer-page-'));
    // One simulator for both tests (the helper's would close after the first).
    sim = await startSimulator({ seed: 21, callDurationMs: { min: 200, max: 600 }, outcomes: { completed: 3, 'no-answer': 1 }, faults: { rejectRate: 0.35 } });
    // Long leases: the big campaign's open rows are seeded without dial jobs, and the reaper must leave them be.
    rt = (await openTestRuntime(prefix, sim, { logLevel: 'silent', rowLeaseMs: 600_000 })).rt;
    server = await startServer(rt, { port: 0, host: '127.0.0.1', token: TOKEN, uploadLimitBytes: 1 << 20, resultsDir: outDir, withWorkers: true, workerScanMs: 100, pollerTickMs: 50 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    await seedBig();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close(true);
    await rt?.close();
    await sim?.close();
    await cleanupPrefix(prefix);
  });

  it('pages and filters a 100,000-row campaign from the server, each request bounded', async () => {
    // Server-side time of each kind of request (median of 5), on the 100k rows.
    const kinds: [string, string, (p: Page_) => void][] = [
      ['first page', 'limit=50', (p) => expect(p.rows.map((r) => r.row)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))],
      ['page at row 50,000', 'limit=50&after=50000', (p) => expect(p.rows[0]!.row).toBe(50_001)],
      ['last page', 'limit=50&after=99950', (p) => expect([p.rows.length, p.next_after]).toEqual([50, null])],
      ['outcome=completed', 'limit=50&outcome=completed&after=60000', (p) => expect(p.rows.every((r) => r.outcome === 'completed' && r.row > 60_000)).toBe(true)],
      ['outcome=rejected', 'limit=50&outcome=rejected', (p) => expect([p.total, p.rows[0]!.row, p.rows.every((r) => r.outcome === 'rejected')]).toEqual([10_000, 8, true])],
      ['state=queued (open rows, range scan)', 'limit=50&state=queued&after=30000', (p) => expect(p.rows.every((r) => r.state === 'queued' && r.row % 10 === 9)).toBe(true)],
      ['search row 77777', 'q=77777', (p) => expect(p.rows.map((r) => r.row)).toEqual([77_777])],
      ['search full number', `q=${encodeURIComponent('+61410012345')}`, (p) => expect(p.rows.map((r) => r.row)).toEqual([12_345])],
      ['search masked number (one ledger scan step)', `q=${encodeURIComponent(maskPhone('+61410012345'))}`, (p) => expect(p.rows.every((r) => r.phone === maskPhone('+61410012345'))).toBe(true)],
    ];
    const figures: string[] = [];
    for (const [what, query, check] of kinds) {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const p = await get<Page_>(`/campaigns/${BIG}/rows?${query}`);
        check(p);
        expect(p.rows.every((r) => !/\d{6}/.test(r.phone))).toBe(true);
        times.push(p.server_ms);
      }
      times.sort((a, b) => a - b);
      figures.push(`${what.padEnd(40)} median ${times[2]!.toFixed(1).padStart(6)} ms, max ${times[4]!.toFixed(1).padStart(6)} ms`);
      // A generous bound: the target is 300 ms on a quiet machine; this one is shared.
      expect(times[2], what).toBeLessThan(1500);
    }
    console.log(`campaign page rows requests on ${ROWS} rows (server-side):\n${figures.join('\n')}`);

    // A masked number: each request scans a bounded part of the ledger; the cursor goes on until it is found.
    let cursor: string | null = '0';
    const hits = new Set<number>();
    for (let i = 0; i < 20 && cursor !== null && !hits.has(12_345); i++) {
      const p: Page_ = await get<Page_>(`/campaigns/${BIG}/rows?q=${encodeURIComponent('*0012345')}${cursor === '0' ? '' : `&cursor=${cursor}`}`);
      expect(p.scanned).toBeLessThanOrEqual(20_000);
      for (const r of p.rows) hits.add(r.row);
      cursor = p.cursor;
    }
    expect([...hits]).toEqual([12_345]);

    const { page, errors } = await openPage(BIG);
    await expect.poll(() => page.textContent('#rows-info'), { timeout: 15_000 }).toContain('rows 1–50 · 100000 matching');
    expect(await page.locator('#rows-body tr').count()).toBe(50);
    expect(await page.textContent('#rows-ms')).toMatch(/server [\d.]+ ms/);
    await page.click('#rows-next');
    await expect.poll(() => page.textContent('#rows-info')).toContain('rows 51–100');
    await page.click('#rows-prev');
    await expect.poll(() => page.textContent('#rows-info')).toContain('rows 1–50');

    await page.selectOption('#f-outcome', 'rejected');
    await page.click('#f-apply');
    await expect.poll(() => page.textContent('#rows-info')).toContain('10000 matching');
    const outcomes = await page.locator('#rows-body td.outcome').allTextContents();
    expect(new Set(outcomes)).toEqual(new Set(['rejected']));
    await page.click('#rows-next');
    await expect.poll(() => page.textContent('#rows-info')).toContain('rows 508–998');

    await page.selectOption('#f-outcome', '');
    await page.selectOption('#f-state', 'open');
    await page.click('#f-apply');
    await expect.poll(() => page.textContent('#rows-info')).toContain('rows 9–499 · 10000 matching');

    await page.selectOption('#f-state', '');
    await page.fill('#f-q', '12345');
    await page.click('#f-apply');
    await expect.poll(() => page.locator('#rows-body tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.row))).toEqual(['12345']);
    expect(await page.textContent('#rows-body')).toContain(maskPhone('+61410012345'));
    await page.fill('#f-q', '');

    // The charts are there, from the report of the 100k rows.
    await expect.poll(() => page.locator('#charts figure.chart').count(), { timeout: 20_000 }).toBeGreaterThanOrEqual(7);
    expect(await page.textContent('#kpis')).toContain('100000');
    expect(await page.textContent('#rejects-count')).toBe('(10000)');
    expect(await page.locator('#rejects-body tr').count()).toBe(100);
    await page.screenshot({ path: path.join(outDir, 'campaign-page-100k.png'), fullPage: true });
    console.log(`campaign page screenshot: ${path.join(outDir, 'campaign-page-100k.png')}`);

    // Resume and pause from the page.
    await expect.poll(() => page.textContent('#state')).toBe('paused');
    await page.click('#resume');
    await expect.poll(() => page.textContent('#state'), { timeout: 30_000 }).toBe('running');
    expect((await rt.store.getCampaign(BIG))?.state).toBe('running');
    await page.click('#pause');
    await expect.poll(() => page.textContent('#state'), { timeout: 30_000 }).toBe('paused');
    expect((await rt.store.getCampaign(BIG))?.state).toBe('paused');

    // Cancel from the page: the queued rows end canceled. While it ran, the
    // feeder gave the campaign a window of dial jobs and a worker may have
    // dialed a few: those end with their call, every other one canceled.
    page.on('dialog', (d) => void d.accept());
    await page.click('#cancel');
    await expect.poll(() => page.textContent('#state'), { timeout: 20_000 }).toBe('canceled');
    const queued = await rt.store.getRows(BIG, Array.from({ length: ROWS / 10 }, (_, j) => j * 10 + 9));
    const dialed = queued.filter((r) => r?.outcome !== 'canceled');
    for (const r of dialed) {
      expect(r?.outcome, `row ${r?.row}`).toBeDefined();
      expect((await rt.store.ledgerGet(BIG, r!.phone))?.s, `row ${r?.row}`).not.toBe('pending');
    }
    expect((await rt.store.counts(BIG)).canceled).toBe(10_000 - dialed.length);
    expect(await rt.store.rowPages.outcomeCount(BIG, 'canceled')).toBe(10_000 - dialed.length);
    expect(errors).toEqual([]);
    await page.close();
  }, 150_000);

  it('shows a call in detail and sends a dead letter back with the retry button', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const yaml = `name: ${SMALL}\nassistant_id: CE_1\ndefault_country: AU\nrate: { calls: 4, per_seconds: 1 }\nconcurrency: 3\nretry: { attempts: 3, backoff_ms: 50 }\npoll: { interval_seconds: 0.2 }\nkeep_transcripts: true\n`;
    expect((await fetch(`${server.url}/campaigns`, { method: 'POST', headers: { ...auth, 'content-type': 'application/yaml' }, body: yaml })).status).toBe(201);
    const phones = numbers(10, 61413700000);
    const csv = ['name,phone', ...phones.map((p, i) => `Small ${i + 1},${p}`), 'Nobody,12'].join('\n') + '\n';
    expect((await fetch(`${server.url}/campaigns/${SMALL}/contacts`, { method: 'POST', headers: { ...auth, 'content-type': 'text/csv' }, body: csv })).status).toBe(200);

    const { page, errors } = await openPage(SMALL);
    await expect.poll(() => page.textContent('#state'), { timeout: 15_000 }).toMatch(/running|done/);
    await waitFor(async () => (await rt.store.getCampaign(SMALL))?.state === 'done', `${SMALL} done`, 60_000, 200);

    const counts = await rt.store.counts(SMALL);
    const why = JSON.stringify({ counts, errors: (await rt.store.getRows(SMALL, [1, 2, 3])).map((r) => r?.error) });
    expect(counts.completed ?? 0, why).toBeGreaterThan(0);
    expect(counts['dead-letter'] ?? 0, JSON.stringify(counts)).toBeGreaterThan(0);
    expect(await rt.store.rowPages.outcomeCount(SMALL, 'completed')).toBe(counts.completed);

    // The call detail of a completed row: summary, transcript, recording link, attempts, audit trail.
    await page.selectOption('#f-outcome', 'completed');
    await page.click('#f-apply');
    // Wait for the filtered page itself (the unfiltered one has more rows: rejects, dead letters).
    await expect.poll(() => page.locator('#rows-body tr').count()).toBe(counts.completed);
    const first = page.locator('#rows-body tr').first();
    const row = Number(await first.getAttribute('data-row'));
    await first.click();
    await expect.poll(() => page.getAttribute('#detail .detail', 'data-row')).toBe(String(row));
    const rec = (await rt.store.getRow(SMALL, row))!;
    expect(await page.textContent('#detail .summary')).toBe(rec.summary);
    expect(await page.textContent('#detail .transcript')).toBe(rec.transcript);
    expect(await page.getAttribute('#detail a.recording', 'href')).toBe(rec.recording_url);
    const audit = await page.locator('#detail table.audit tbody tr').allTextContents();
    expect(audit.some((t) => t.includes('dial'))).toBe(true);
    expect(audit.some((t) => t.includes('outcome') && t.includes('completed'))).toBe(true);
    expect(await page.textContent('#detail')).toContain(maskPhone(rec.phone));
    expect(await page.textContent('#detail')).not.toContain(rec.phone);

    // A dead letter goes back once with its retry button, and ends with a real outcome.
    await page.reload();
    await expect.poll(() => page.locator('#dlq-body tr').count(), { timeout: 15_000 }).toBeGreaterThan(0);
    const dlqRow = Number(await page.locator('#dlq-body tr').first().getAttribute('data-row'));
    const before = (await rt.store.getRow(SMALL, dlqRow))!;
    expect(before.outcome).toBe('dead-letter');
    await page.locator(`#dlq-body tr[data-row="${dlqRow}"] button.retry`).click();
    await expect.poll(() => page.textContent('#notice')).toContain('1 dead letter back in the queue');
    await waitFor(async () => {
      const r = await rt.store.getRow(SMALL, dlqRow);
      return r?.outcome !== undefined && r.dlq_retried === true && (r.attempts ?? 0) > (before.attempts ?? 0);
    }, `row ${dlqRow} dialed again to an outcome`, 30_000, 200);
    const events = await get<{ audit: { type: string }[] }>(`/campaigns/${SMALL}/rows/${dlqRow}`);
    expect(events.audit.map((e) => e.type)).toEqual(expect.arrayContaining(['dial', 'dlq-retry']));
    expect(events.audit.filter((e) => e.type === 'dial').length).toBe(2);
    // The list and the button follow: the row is retried once, and only once.
    await page.reload();
    await expect.poll(async () => (await page.locator(`#dlq-body tr[data-row="${dlqRow}"] button.retry`).count()) === 0
      || (await page.locator(`#dlq-body tr[data-row="${dlqRow}"] button.retry`).isDisabled()), { timeout: 15_000 }).toBe(true);
    await page.screenshot({ path: path.join(outDir, 'campaign-page-detail.png'), fullPage: true });
    // Unknown rows and campaigns answer 404; a bad filter 400 with the parameter named.
    expect((await fetch(`${server.url}/campaigns/${SMALL}/rows/999`, { headers: auth })).status).toBe(404);
    const bad = await fetch(`${server.url}/campaigns/${SMALL}/rows?outcome=maybe`, { headers: auth });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^outcome: /);
    expect((await fetch(`${server.url}/campaigns/${SMALL}/rows`)).status).toBe(401);
    // The page shell is public (no data in it); its data is not.
    const shell = await fetch(`${server.url}/campaigns/${SMALL}`, { headers: { accept: 'text/html' } });
    expect(shell.status).toBe(200);
    expect(shell.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await shell.text()).not.toContain('Small 1');
    expect((await fetch(`${server.url}/campaigns/${SMALL}`, { headers: { accept: 'application/json' } })).status).toBe(401);
    expect(errors).toEqual([]);
    await page.close();
  }, 150_000);
});
