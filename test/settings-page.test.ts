/**
 * The status page's settings form in headless Chromium: it shows a
 * campaign's rate and calling hours, sends only what was changed to PATCH
 * /campaigns/:name (under the strict CSP, no inline script), and shows the
 * server's refusal naming the key as text.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../src/server/app.js';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../src/runtime.js';
import { cleanupPrefix, openTestRuntime, testPrefix } from './helpers/dialer.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TOKEN = 'settings-page-token-0123456789';
const prefix = testPrefix('set-page');
const haveChromium = existsSync(CHROMIUM);

let rt: Runtime;
let app: FastifyInstance;
let url: string;
let browser: Browser;

describe.skipIf(!haveChromium)('settings form on the status page', () => {
  beforeAll(async () => {
    rt = (await openTestRuntime(prefix)).rt;
    app = await buildServer(rt, { token: TOKEN, uploadLimitBytes: 1024 * 1024, resultsDir: '/tmp' });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    const auth = { authorization: `Bearer ${TOKEN}` };
    const c = await app.inject({ method: 'POST', url: '/campaigns', headers: auth, payload: { name: 'page-set', assistant_id: 'CE_1', rate: { calls: 10, per_seconds: 1 }, calling_hours: { preset: 'none', start: '09:00', end: '18:00' } } });
    expect(c.statusCode, c.body).toBe(201);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await rt?.close();
    await cleanupPrefix(prefix);
  });

  it('changes the rate and the end of the calling hours; a bad time is refused naming the key', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(url);
    await page.fill('#token', TOKEN);
    await page.click('#save-token');
    const card = page.locator('.campaign[data-name="page-set"]');
    await card.waitFor();
    await card.locator('.settings summary').click();
    await expect.poll(() => card.locator('.s-rate-calls').inputValue()).toBe('10');
    expect(await card.locator('.s-end').inputValue()).toBe('18:00');
    expect(await card.locator('.s-live').inputValue()).toBe('');

    await card.locator('.s-rate-calls').fill('3');
    await card.locator('.s-end').fill('19:30');
    await card.locator('.s-save').click();
    await expect.poll(() => card.locator('.settings-result').textContent()).toMatch(/^Applied \(version \d+\): calling_hours\.end 18:00 → 19:30, rate\.calls 10 → 3\./);
    const info = (await rt.store.getCampaign('page-set'))!;
    expect(info.campaign.rate).toEqual({ calls: 3, per_seconds: 1 });
    expect(info.campaign.calling_hours).toMatchObject({ start: '09:00', end: '19:30' });

    await card.locator('.s-end').fill('25:00');
    await card.locator('.s-save').click();
    await expect.poll(() => card.locator('.settings-result').textContent()).toContain('Not changed: calling_hours.end: must be "HH:MM"');
    expect(await card.locator('.settings-result').getAttribute('class')).toContain('error');
    expect((await rt.store.getCampaign('page-set'))!.version).toBe(info.version);
    // The refusal (400) and the browser's own /favicon.ico (401: every route but the page's files needs the token)
    // are logged as failed resources; nothing else went wrong (no script error, no CSP violation).
    expect(errors.filter((e) => !/status of 40[01]/.test(e))).toEqual([]);
  }, 60_000);
});
