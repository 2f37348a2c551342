/**
 * The status page in headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core): token entry, a refused upload, an upload through the form,
 * pause/resume, progress to 100 %, and the results download. The screenshot is
 * saved in a temporary directory whose path is printed.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEnv } from '../src/config/env.js';
import { openRuntime, type Runtime } from '../src/runtime.js';
import { startServer, type RunningServer } from '../src/server/service.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { numbers } from './helpers/sim-http.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TOKEN = 'browser-token-0123456789abcdef';
const prefix = `t-browser-${Math.random().toString(36).slice(2, 8)}`;
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`browser test skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);

let sim: Simulator;
let rt: Runtime;
let server: RunningServer;
let browser: Browser;
let outDir: string;

describe.skipIf(!haveChromium)('status page in Chromium', () => {
  beforeAll(async () => {
    outDir = await mkdtemp(path.join(tmpdir(), 'dialer-browser-'));
    sim = await startSimulator({ seed: 5, callDurationMs: { min: 200, max: 900 } });
    rt = await openRuntime({ ...readEnv(), prefix, apiKey: 'sim-key', baseUrl: sim.url, logLevel: 'silent' });
    server = await startServer(rt, {
      port: 0, host: '127.0.0.1', token: TOKEN, uploadLimitBytes: 10 * 1024 * 1024, resultsDir: outDir,
      withWorkers: true, workerScanMs: 100, pollerTickMs: 50,
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close(true);
    if (rt) {
      let cursor = '0';
      do {
        const [next, keys] = await (rt.redis as import('ioredis').Redis).scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await rt.redis.del(...keys);
      } while (cursor !== '0');
      await rt.close();
    }
    await sim?.close();
  });

  it('uploads a list through the form, shows progress to 100 % and downloads the results', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(server.url);
    await expect.poll(() => page.textContent('#campaigns')).toContain('Enter the API token');

    // A wrong token is refused and said so.
    await page.fill('#token', 'not-the-token');
    await page.click('#save-token');
    await expect.poll(() => page.textContent('#notice')).toContain('token was refused');

    await page.fill('#token', TOKEN);
    await page.click('#save-token');
    await expect.poll(() => page.textContent('#campaigns')).toContain('No campaigns yet');
    expect(await page.evaluate(() => localStorage.getItem('dialer.token'))).toBe(TOKEN);

    const name = 'browser-demo';
    await page.fill('#campaign-yaml', `name: ${name}\nassistant_id: CE_1\ndefault_country: AU\nrate: { calls: 4, per_seconds: 1 }\nconcurrency: 4\npoll: { interval_seconds: 1 }\n`);

    // A broken list: refused with the line and the reason; nothing loaded.
    await page.setInputFiles('#csv-file', { name: 'broken.csv', mimeType: 'text/csv', buffer: Buffer.from('name,phone\nAnn,+61412000001\nBob,"+61412000002\n') });
    await page.click('#upload-btn');
    await expect.poll(() => page.textContent('#upload-result')).toMatch(/Upload refused, nothing was loaded: broken\.csv: line 3: a quoted field/);
    expect(await page.getAttribute('#upload-result', 'class')).toContain('error');

    // The corrected list: 14 numbers, one invalid, one duplicate.
    const phones = [...numbers(14, 61412300000), '0000', '+61412300000'];
    const csv = ['name,phone', ...phones.map((p, i) => `Contact ${i + 1},${p}`)].join('\n') + '\n';
    await page.setInputFiles('#csv-file', { name: 'contacts.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.click('#upload-btn');
    await expect.poll(() => page.textContent('#upload-result')).toContain(`Loaded ${name}: 16 rows, 14 to dial, 1 rejected, 1 duplicates`);

    const card = page.locator(`.campaign[data-name="${name}"]`);
    await card.waitFor();
    // Pause, then resume, from the page.
    await card.locator('button.pause').click();
    await expect.poll(() => card.locator('.state').textContent()).toBe('paused');
    expect(await rt.store.getCampaign(name).then((c) => c?.state)).toBe('paused');
    await card.locator('button.resume').click();
    await expect.poll(() => card.locator('.state').textContent()).toMatch(/running|done/);
    await page.screenshot({ path: path.join(outDir, 'status-page-running.png'), fullPage: true });

    await expect.poll(() => card.locator('.progress-label').textContent(), { timeout: 45_000, interval: 250 }).toBe('100%');
    await expect.poll(() => card.locator('.state').textContent()).toBe('done');
    expect(await card.locator('.eta').textContent()).toBe('done');
    expect(await card.locator('.finished').textContent()).toBe('16 / 16');
    const legend = await card.locator('.legend li').allTextContents();
    expect(legend.join(' ')).toMatch(/rejected 1/);
    expect(legend.join(' ')).toMatch(/duplicate 1/);
    expect(await card.locator('.outcomes .seg').count()).toBeGreaterThanOrEqual(3);

    const [download] = await Promise.all([page.waitForEvent('download'), card.locator('button.download-csv').click()]);
    expect(download.suggestedFilename()).toBe(`${name}-results.csv`);
    const file = path.join(outDir, download.suggestedFilename());
    await download.saveAs(file);
    const rows = parseCsv<Record<string, string>>(await readFile(file, 'utf8'), { columns: true });
    expect(rows).toHaveLength(16);
    expect(rows[14]).toMatchObject({ phone: '0000', outcome: 'rejected' });
    expect(rows[15]).toMatchObject({ outcome: 'duplicate' });
    expect(rows.slice(0, 14).every((r) => r.call_id !== '' && r.outcome !== 'pending')).toBe(true);

    // The queue dashboard opens in a new tab, let in by the session cookie the page obtained.
    const [board] = await Promise.all([page.context().waitForEvent('page'), page.click('#open-board')]);
    await board.waitForLoadState();
    const failed: string[] = [];
    board.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
    });
    await expect.poll(() => board.textContent('body'), { timeout: 15_000 }).toContain(name);
    await expect.poll(() => board.textContent('body'), { timeout: 15_000 }).not.toContain('Loading');
    expect(failed).toEqual([]);
    await board.screenshot({ path: path.join(outDir, 'bull-board.png') });
    await board.close();

    const shot = path.join(outDir, 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`status page screenshot: ${shot}`);
    console.log(`downloaded results: ${file}`);
    // The refused token (401) and the refused list (400) show as failed loads; nothing else may go wrong.
    expect(errors.filter((e) => !/^Failed to load resource: .* (401|400) /.test(e))).toEqual([]);
  });
});
