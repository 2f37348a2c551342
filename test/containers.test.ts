/**
 * The image and docker-compose.yml, run for real (DIALER_CONTAINER_TESTS=1;
 * .ci/run sets it after starting a Docker engine). Builds the image, brings up
 * the demo (`--env-file demo.env --profile demo`), waits for the example
 * campaign through the HTTP API and checks its results; then dials 1,000
 * contacts while a worker container is killed with SIGKILL, the Redis
 * container restarts and the workers scale from 3 to 5: nobody is dialed
 * twice (the simulator's request log), no row is lost, every row is final.
 * DIALER_COMPOSE picks the compose command (see helpers/compose.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/dialer.js';
import { ComposeProject, rawLines, run } from './helpers/compose.js';

const ENABLED = process.env.DIALER_CONTAINER_TESTS === '1';
const demoEnv = Object.fromEntries(
  readFileSync(path.join(REPO_ROOT, 'demo.env'), 'utf8').split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);
const TOKEN = demoEnv.DIALER_API_TOKEN!;
const API = `http://127.0.0.1:${process.env.DIALER_HTTP_PORT || 8080}`;
const FINAL = new Set(['completed', 'no-answer', 'busy', 'voicemail', 'failed', 'canceled', 'unknown', 'rejected', 'duplicate', 'dead-letter', 'suppressed', 'no-consent']);
const SOAK = 1000;

interface Status {
  state: string;
  total: number;
  pending: number;
  finished: number;
  in_flight: number;
  outcomes: Record<string, number>;
}
interface LogEntry {
  t: number;
  method: string;
  path: string;
  status: number;
  body?: { phoneNumber?: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One API request; Redis restarting or the server starting answers late or not at all, so callers retry. */
async function api(route: string, init: RequestInit = {}): Promise<Response> {
  return fetch(API + route, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...init.headers }, signal: AbortSignal.timeout(10_000) });
}

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await sleep(1000);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

async function status(name: string): Promise<Status> {
  const r = await api(`/campaigns/${name}`);
  if (!r.ok) throw new Error(`GET /campaigns/${name}: ${r.status}`);
  return (await r.json()) as Status;
}

const done = (name: string, timeoutMs: number) => until(`campaign ${name} to finish`, timeoutMs, async () => {
  const s = await status(name);
  return s.state === 'done' ? s : undefined;
});

async function results(name: string): Promise<Array<Record<string, string | number | null>>> {
  const r = await api(`/campaigns/${name}/results?format=jsonl`);
  expect(r.status).toBe(200);
  return (await r.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, string | number | null>);
}

const figures: Record<string, unknown> = {};

describe.skipIf(!ENABLED)('containers: image + docker-compose.yml, demo profile', () => {
  const c = new ComposeProject(`dialerct${process.pid}`);
  const started = Date.now();
  let failed = false;

  async function requestLog(): Promise<LogEntry[]> {
    const out = await c.run(['exec', '-T', 'simulator', 'cat', '/tmp/simulator-requests.jsonl']);
    return out.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as LogEntry);
  }
  const posts = (log: LogEntry[]) => log.filter((e) => e.method === 'POST' && e.path === '/calls' && e.status >= 200 && e.status < 300);

  beforeAll(async () => {
    try {
      await c.down(); // a run killed half-way leaves its project behind
      let t = Date.now();
      await c.run(['build', 'server']);
      figures.build_s = (Date.now() - t) / 1000;
      const size = await run([...c.docker, 'image', 'inspect', '-f', '{{.Size}}', 'callease-dialer:local']);
      figures.image_mb = Math.round(Number(size.stdout.trim()) / 1e6);
      t = Date.now();
      await c.run(['up', '-d']);
      await until('the API to answer /healthz', 4 * 60_000, async () => ((await fetch(`${API}/healthz`, { signal: AbortSignal.timeout(3000) })).ok ? true : undefined));
      figures.up_s = (Date.now() - t) / 1000;
    } catch (e) {
      failed = true;
      throw e;
    }
  }, 20 * 60_000);

  afterAll(async () => {
    if (failed) {
      for (const s of ['server', 'worker', 'poller', 'redis']) {
        const lines = await c.logs(s).catch(() => []);
        process.stderr.write(`---- ${s} (last 40 lines)\n${lines.slice(-40).join('\n')}\n`);
      }
    }
    await c.down();
    figures.total_s = (Date.now() - started) / 1000;
    console.log(`container test figures: ${JSON.stringify(figures)}`);
  }, 5 * 60_000);

  it('runs the example campaign to the end through the HTTP API', async () => {
    try {
      const t = Date.now();
      const s = await done('example', 4 * 60_000);
      figures.example_s = (Date.now() - t) / 1000;
      expect(s.total).toBe(200);
      expect(s.pending).toBe(0);
      expect(Object.values(s.outcomes).reduce((a, b) => a + b, 0)).toBe(200);
      expect(s.outcomes.rejected).toBe(6);
      expect(s.outcomes.duplicate).toBe(5);
      const rows = await results('example');
      expect(rows).toHaveLength(200);
      expect(rows.filter((r) => !FINAL.has(String(r.outcome)))).toEqual([]);
      const dialed = rows.filter((r) => r.call_id);
      const sent = posts(await requestLog());
      expect(new Set(sent.map((e) => e.body?.phoneNumber)).size).toBe(sent.length);
      expect(sent).toHaveLength(dialed.length);
      expect(dialed.length).toBe(189);
      expect((await fetch(`${API}/readyz`)).status).toBe(200);
    } catch (e) {
      failed = true;
      throw e;
    }
  }, 6 * 60_000);

  it('1,000 contacts survive kill -9 of a worker, a Redis restart and scaling 3 → 5 workers', async () => {
    try {
      // Numbers of the example campaign, in whatever format it writes them (last 9 digits): not in this list.
      const example = new Set(readFileSync(path.join(REPO_ROOT, 'campaigns/example.csv'), 'utf8').split('\n')
        .flatMap((l) => l.split(',')).map((f) => f.replace(/\D/g, '')).filter((d) => d.length >= 9).map((d) => d.slice(-9)));
      const numbers: string[] = [];
      for (let n = 570_000; numbers.length < SOAK; n++) if (!example.has(`491${n}`)) numbers.push(`0491${n}`);
      const csv = 'name,phone\n' + numbers.map((p, i) => `Contact ${i + 1},${p}`).join('\n') + '\n';
      const yaml = [
        'name: soak', 'assistant_id: CE_DEMO_ASSISTANT', 'default_country: AU', 'variables: [name]',
        'rate: { calls: 20, per_seconds: 1 }', 'concurrency: 10', 'retry: { attempts: 3, backoff_ms: 200 }',
        'poll: { interval_seconds: 1, timeout_minutes: 10 }',
      ].join('\n');
      let r = await api('/campaigns', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: yaml });
      expect(r.status, await r.clone().text()).toBe(201);
      const t0 = Date.now();
      r = await api('/campaigns/soak/contacts?filename=soak.csv', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: csv });
      expect(r.status, await r.clone().text()).toBe(200);
      expect(((await r.json()) as { accepted: number }).accepted).toBe(SOAK);

      const progress = async (n: number) => until(`${n} rows of soak under way`, 5 * 60_000, async () => {
        const s = await status('soak');
        return s.finished + s.in_flight >= n ? s : undefined;
      });

      await progress(150);
      const workers = await c.running('worker');
      expect(workers).toHaveLength(3);
      const tKill = Date.now();
      await c.kill9(workers[0]!);
      figures.kill_at_s = (tKill - t0) / 1000;

      await progress(350);
      const tRestart = Date.now();
      await c.run(['restart', 'redis']);
      figures.redis_restart_s = (Date.now() - tRestart) / 1000;
      figures.redis_restart_at_s = (tRestart - t0) / 1000;

      await until('the API back after the Redis restart', 2 * 60_000, async () => ((await status('soak')).total === SOAK ? true : undefined));
      await progress(550);
      const tScale = Date.now();
      await c.run(['up', '-d', '--no-deps', '--no-recreate', '--scale', 'worker=5', 'worker']);
      figures.scale_at_s = (tScale - t0) / 1000;
      expect(await c.running('worker')).toHaveLength(5);

      const s = await done('soak', 8 * 60_000);
      figures.soak_s = (Date.now() - t0) / 1000;
      expect(s.total).toBe(SOAK);
      expect(s.pending).toBe(0);
      expect(Object.values(s.outcomes).reduce((a, b) => a + b, 0)).toBe(SOAK);

      const rows = await results('soak');
      const notFinal = rows.filter((x) => !FINAL.has(String(x.outcome)));
      const rowNumbers = new Set(rows.map((x) => Number(x.row)));
      figures.rows_lost = SOAK - rows.filter((x) => FINAL.has(String(x.outcome))).length;
      expect(rows).toHaveLength(SOAK);
      expect(rowNumbers.size).toBe(SOAK);
      expect(notFinal).toEqual([]);

      // Every POST /calls the simulator accepted, both campaigns: nobody twice.
      const log = await requestLog();
      const sent = posts(log);
      const soakNumbers = new Set(numbers.map((p) => `+61${p.slice(1)}`));
      const soakSent = sent.filter((e) => soakNumbers.has(String(e.body?.phoneNumber)));
      const seen = new Map<string, number>();
      for (const e of sent) seen.set(String(e.body?.phoneNumber), (seen.get(String(e.body?.phoneNumber)) ?? 0) + 1);
      figures.calls = soakSent.length;
      figures.duplicates = [...seen.values()].filter((n) => n > 1).length;
      const times = soakSent.map((e) => e.t).sort((a, b) => a - b);
      let gap = 0;
      for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
      figures.max_gap_between_calls_s = gap / 1000;
      figures.last_call_after_kill_s = (times[times.length - 1]! - tKill) / 1000;
      figures.last_call_after_scale_s = (times[times.length - 1]! - tScale) / 1000;
      figures.outcomes = s.outcomes;
      // Which numbers, when, against the kill / restart / scale times (seconds after the upload).
      figures.duplicate_posts = [...seen].filter(([, n]) => n > 1).slice(0, 10).map(([phone]) => ({
        row: rows.find((x) => `+61${String(x.phone).replace(/\D/g, '').slice(-9)}` === phone)?.row,
        at_s: sent.filter((e) => e.body?.phoneNumber === phone).map((e) => (e.t - t0) / 1000),
      }));
      expect(figures.duplicates).toBe(0);
      // The ledger forbids a second POST; the row table says which rows were placed.
      expect(soakSent.length).toBe(rows.filter((x) => x.call_id).length);

      // The Redis restart is told as JSON log lines, not raw ECONNREFUSED stack traces.
      const raw: string[] = [];
      for (const svc of ['server', 'worker', 'poller']) raw.push(...rawLines(await c.logs(svc)).map((l) => `${svc}: ${l}`));
      figures.raw_log_lines = raw.length;
      expect(raw.slice(0, 20)).toEqual([]);
      const serverLog = (await c.logs('server')).join('\n');
      expect(serverLog).toContain('Redis connection lost');
      expect(serverLog).toContain('Redis connection back');
    } catch (e) {
      failed = true;
      throw e;
    }
  }, 15 * 60_000);
});
