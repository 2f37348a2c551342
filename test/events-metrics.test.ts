/**
 * /metrics for campaigns and events, scraped over HTTP from `serve
 * --with-workers` after a campaign created and uploaded over the API sent its
 * events; and the Grafana dashboard in deploy/ queries only metrics that a
 * real scrape has.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readEventsEnv } from '../src/config/events.js';
import { startServer, type RunningServer } from '../src/server/service.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { cleanupPrefix, openTestRuntime, REPO_ROOT, testPrefix, waitFor, type TestRuntime } from './helpers/dialer.js';
import { Receiver } from './helpers/receiver.js';
import { numbers } from './helpers/sim-http.js';

const prefix = testPrefix('events-metrics');
const TOKEN = 'metrics-token-0123456789abcdef';
const SECRET = 'whsec-metrics-secret';
const open: { t?: TestRuntime; sim?: Simulator; server?: RunningServer; receiver?: Receiver; dir?: string } = {};

afterAll(async () => {
  await open.server?.close();
  await open.t?.rt.close();
  await open.sim?.close();
  await open.receiver?.stop();
  await cleanupPrefix(prefix);
  if (open.dir) await rm(open.dir, { recursive: true, force: true });
});

async function call(method: string, p: string, body?: string, type?: string): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (type) headers['content-type'] = type;
  const res = await fetch(`${open.server!.url}${p}`, { method, body, headers });
  return { status: res.status, text: await res.text() };
}

/** Every metric name the dashboard's queries use (histogram series by their sample names). */
function dashboardMetrics(dashboard: { panels: { targets: { expr: string }[] }[]; templating: { list: { definition?: string }[] } }): string[] {
  const exprs = [...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...dashboard.templating.list.flatMap((v) => (v.definition ? [v.definition] : []))];
  return [...new Set(exprs.flatMap((e) => [...e.matchAll(/\b(dialer_[a-z0-9_]+)\b/g)].map((m) => m[1]!)))].sort();
}

describe('metrics', () => {
  it('per-campaign outcomes, live calls, dial rate, poll lag and event delivery in a real scrape; the dashboard queries only those', async () => {
    const receiver = (open.receiver = new Receiver(SECRET, { failRate: 0.3, seed: 5 }));
    await receiver.start();
    const sim = (open.sim = await startSimulator({ callDurationMs: { min: 100, max: 300 } }));
    const t = (open.t = await openTestRuntime(prefix, sim, {
      apiToken: TOKEN, events: { ...readEventsEnv({}), secret: SECRET, backoffMs: 50, maxBackoffMs: 200, attempts: 100, relayMs: 50 },
    }));
    open.dir = await mkdtemp(path.join(tmpdir(), 'dialer-events-metrics-'));
    open.server = await startServer(t.rt, {
      port: 0, host: '127.0.0.1', token: TOKEN, withWorkers: true, workerScanMs: 100, pollerTickMs: 50,
      uploadLimitBytes: 1 << 20, resultsDir: open.dir, workerStaleMs: 30_000,
    });
    const name = 'metrics-events';
    const created = await call('POST', '/campaigns', [
      `name: ${name}`, 'assistant_id: CE_1', 'default_country: AU', 'rate: { calls: 50, per_seconds: 1 }', 'concurrency: 10',
      'poll: { interval_seconds: 0.2 }', `events: { url: "${receiver.url}", fields: [name] }`,
    ].join('\n') + '\n', 'application/yaml');
    expect(created.status, created.text).toBe(201);
    const phones = numbers(12, 61417000000);
    const up = await call('POST', `/campaigns/${name}/contacts`, ['name,phone', ...phones.map((p, i) => `P${i + 1},${p}`), 'Bad,not-a-number'].join('\n') + '\n', 'text/csv');
    expect(up.status, up.text).toBeLessThan(300);
    await waitFor(async () => (await t.rt.store.getCampaign(name))?.state === 'done', 'the campaign to finish', 30_000, 100);
    const events = 13 + 2;
    await waitFor(() => receiver.delivered().size === events, 'every event to be delivered', 30_000, 100);
    await waitFor(async () => (await t.rt.store.events.backlog()).undelivered === 0, 'the backlog to empty', 10_000);

    const scrape = await call('GET', '/metrics');
    expect(scrape.status).toBe(200);
    const value = (series: string): number | undefined => {
      const line = scrape.text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    const outcomes = [...scrape.text.matchAll(new RegExp(`^dialer_call_outcomes\\{campaign="${name}",outcome="([a-z-]+)"\\} (\\d+)$`, 'gm'))];
    expect(outcomes.reduce((n, m) => n + Number(m[2]), 0)).toBe(13);
    expect(value(`dialer_call_outcomes{campaign="${name}",outcome="rejected"}`)).toBe(1);
    expect(value(`dialer_live_calls{campaign="${name}"}`)).toBe(0);
    expect(value(`dialer_dials_last_minute{campaign="${name}"}`)).toBe(12);
    expect(value('dialer_poll_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(value(`dialer_events_delivered_total{campaign="${name}"}`)).toBeGreaterThanOrEqual(events);
    expect(value(`dialer_events_failed_attempts_total{campaign="${name}"}`)).toBe(receiver.requests.filter((r) => r.status !== 200).length);
    expect(value(`dialer_events_dead_letters{campaign="${name}"}`)).toBe(0);
    expect(value('dialer_events_undelivered{stage="queue"}')).toBe(0);
    expect(value('dialer_events_oldest_undelivered_seconds')).toBe(0);
    expect(value('dialer_events_delivery_lag_seconds_count')).toBeGreaterThanOrEqual(events);

    // The dashboard: every metric it queries is in this scrape.
    const dashboard = JSON.parse(await readFile(path.join(REPO_ROOT, 'deploy/grafana/callease-dialer.json'), 'utf8')) as Parameters<typeof dashboardMetrics>[0];
    const queried = dashboardMetrics(dashboard);
    const scraped = new Set(scrape.text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0]));
    expect(queried.length).toBeGreaterThan(10);
    expect(queried.filter((m) => !scraped.has(m))).toEqual([]);
  }, 90_000);
});
