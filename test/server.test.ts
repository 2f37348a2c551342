import { hostname } from 'node:os';
/**
 * `dialer serve` end to end: a real Redis, the simulator over HTTP, the API on
 * a free port with workers and a poller in this process, spoken to with fetch.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEnv } from '../src/config/env.js';
import { openRuntime, type Runtime } from '../src/runtime.js';
import { buildServer } from '../src/server/app.js';
import { mergeExposition } from '../src/server/exposition.js';
import { startServer, type RunningServer } from '../src/server/service.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { numbers, sleep } from './helpers/sim-http.js';

const TOKEN = 'test-token-0123456789abcdef';
const SECRET = 'hook-secret-42';
const UPLOAD_LIMIT = 1024 * 1024;
const prefix = `t-server-${Math.random().toString(36).slice(2, 8)}`;

let sim: Simulator;
let rt: Runtime;
let server: RunningServer;
let resultsDir: string;

beforeAll(async () => {
  sim = await startSimulator({ seed: 11, callDurationMs: { min: 100, max: 400 } });
  rt = await openRuntime({ ...readEnv(), prefix, apiKey: 'sim-key', baseUrl: sim.url, logLevel: 'silent' });
  resultsDir = await mkdtemp(path.join(tmpdir(), 'dialer-server-'));
  server = await startServer(rt, {
    port: 0, host: '127.0.0.1', token: TOKEN, webhookSecret: SECRET, uploadLimitBytes: UPLOAD_LIMIT, resultsDir,
    withWorkers: true, workerScanMs: 100, pollerTickMs: 50,
  });
});

afterAll(async () => {
  await server?.close(true);
  if (rt) {
    await deleteKeys(rt, prefix);
    await rt.close();
  }
  await sim?.close();
  if (resultsDir) await rm(resultsDir, { recursive: true, force: true });
});

async function deleteKeys(r: Runtime, p: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await (r.redis as import('ioredis').Redis).scan(cursor, 'MATCH', `${p}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await r.redis.del(...keys);
  } while (cursor !== '0');
}

interface Res {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function call(method: string, p: string, o: { token?: string | null; body?: BodyInit; type?: string; headers?: Record<string, string> } = {}): Promise<Res> {
  const headers: Record<string, string> = { ...o.headers };
  const token = o.token === undefined ? TOKEN : o.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (o.type) headers['content-type'] = o.type;
  const res = await fetch(`${server.url}${p}`, { method, body: o.body, headers, redirect: 'manual' });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

const yaml = (name: string, extra = '') => `name: ${name}\nassistant_id: CE_1\ndefault_country: AU\nrate: { calls: 50, per_seconds: 1 }\nconcurrency: 10\npoll: { interval_seconds: 1 }\n${extra}`;
const csv = (phones: string[]) => ['name,phone', ...phones.map((p, i) => `Person ${i + 1},${p}`)].join('\n') + '\n';

async function createCampaign(name: string, extra = ''): Promise<void> {
  const r = await call('POST', '/campaigns', { body: yaml(name, extra), type: 'application/yaml' });
  expect(r.status, r.text).toBe(201);
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('auth', () => {
  const routes: Array<[string, string]> = [
    ['GET', '/campaigns'], ['POST', '/campaigns'], ['GET', '/campaigns/x'], ['GET', '/campaigns/x/results'],
    ['POST', '/campaigns/x/contacts'], ['POST', '/campaigns/x/pause'], ['POST', '/campaigns/x/resume'],
    ['POST', '/campaigns/x/cancel'], ['GET', '/metrics'], ['POST', '/webhooks/callease'], ['POST', '/session'],
    ['GET', '/admin/queues'], ['GET', '/admin/queues/api/queues'], ['GET', '/no-such-route'],
  ];
  it.each(routes)('%s %s answers 401 without the token and with a wrong one', async (method, p) => {
    const body = method === 'POST' ? '{}' : undefined;
    const type = body ? 'application/json' : undefined;
    for (const token of [null, 'wrong', `${TOKEN}x`, TOKEN.slice(0, -1), '']) {
      const r = await call(method, p, { token, body, type });
      expect(r.status, `${method} ${p} with ${JSON.stringify(token)}`).toBe(401);
      expect(r.json.error).toMatch(/unauthorized/);
    }
    const basic = await call(method, p, { token: null, body, type, headers: { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` } });
    expect(basic.status).toBe(401);
  });

  it('health probes and the static page shell need no token; the page has a strict CSP', async () => {
    expect((await call('GET', '/healthz', { token: null })).json).toEqual({ status: 'ok' });
    expect((await call('GET', '/readyz', { token: null })).status).toBe(200);
    const page = await call('GET', '/', { token: null });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(page.text).toContain('<script src="/app.js"');
    expect((await call('GET', '/app.js', { token: null })).text).toContain('Authorization'.toLowerCase());
  });

  it('Bull Board: ?token= becomes an HttpOnly cookie scoped to /admin/queues; the cookie opens the board and its API', async () => {
    await createCampaign('board-one');
    const bad = await call('GET', '/admin/queues?token=wrong', { token: null });
    expect(bad.status).toBe(401);
    const r = await call('GET', `/admin/queues?token=${TOKEN}`, { token: null });
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toBe('/admin/queues');
    const setCookie = r.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Path=\/admin\/queues/);
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(';')[0]!;
    const page = await call('GET', '/admin/queues', { token: null, headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/<html/i);
    const queues = await call('GET', '/admin/queues/api/queues', { token: null, headers: { cookie } });
    expect(queues.status).toBe(200);
    expect(JSON.stringify(queues.json)).toContain('dial-board-one');
    // The cookie is no bearer token, and does nothing outside the board.
    expect((await call('GET', '/campaigns', { token: null, headers: { cookie } })).status).toBe(401);
    expect((await call('GET', '/admin/queues', { token: null, headers: { cookie: `${cookie}x` } })).status).toBe(401);
    const session = await call('POST', '/session');
    expect(session.status).toBe(204);
    expect(session.headers.get('set-cookie')?.split(';')[0]).toBe(cookie);
  });
});

describe('POST /campaigns', () => {
  const bad: Array<[string, string, string, RegExp]> = [
    ['bad name', 'application/yaml', 'name: Not Valid\nassistant_id: CE_1\n', /campaign: name: /],
    ['missing assistant_id', 'application/yaml', 'name: ok-name\n', /assistant_id/],
    ['rate.calls not a number', 'application/yaml', 'name: ok-name\nassistant_id: CE_1\nrate: { calls: fast, per_seconds: 1 }\n', /rate\.calls/],
    ['unknown key', 'application/yaml', 'name: ok-name\nassistant_id: CE_1\nretries: 3\n', /unknown key "retries"/],
    ['a results path', 'application/yaml', 'name: ok-name\nassistant_id: CE_1\nresults: /etc/x.csv\n', /results: not accepted over HTTP/],
    ['a suppression path', 'application/yaml', 'name: ok-name\nassistant_id: CE_1\nsuppression: /etc/passwd\n', /suppression: /],
    ['broken YAML', 'application/yaml', 'name: [unclosed\n', /not valid YAML/],
    ['a list', 'application/yaml', '- name: x\n', /must be a mapping/],
    ['JSON with a bad field', 'application/json', JSON.stringify({ name: 'ok-name', assistant_id: 'CE_1', concurrency: -1 }), /concurrency/],
    ['empty body', 'application/yaml', '', /empty/],
  ];
  it.each(bad)('400 for %s, naming the field', async (_n, type, body, message) => {
    const r = await call('POST', '/campaigns', { body, type });
    expect(r.status, r.text).toBe(400);
    expect(r.json.error).toMatch(message);
    expect(await rt.store.getCampaign('ok-name')).toBeUndefined();
  });

  it('accepts JSON (contacts ignored); a campaign without contacts can be redefined, one with contacts cannot', async () => {
    const body = { name: 'json-one', assistant_id: 'CE_1', contacts: '/etc/passwd', default_country: 'AU' };
    const r = await call('POST', '/campaigns', { body: JSON.stringify(body), type: 'application/json' });
    expect(r.status, r.text).toBe(201);
    expect(r.json).toMatchObject({ campaign: 'json-one', state: 'loading', total: 0, contacts_upload: '/campaigns/json-one/contacts' });
    const info = await rt.store.getCampaign('json-one');
    expect(info!.campaign.contactsPath).toBe('upload');
    expect(info!.campaign.resultsPath).toBe(path.join(resultsDir, 'json-one.csv'));
    const again = await call('POST', '/campaigns', { body: yaml('json-one').replace('concurrency: 10', 'concurrency: 3'), type: 'text/yaml' });
    expect(again.status, again.text).toBe(200);
    expect((await rt.store.getCampaign('json-one'))!.campaign.concurrency).toBe(3);
    expect((await call('POST', '/campaigns/json-one/pause')).json).toEqual({ campaign: 'json-one', state: 'paused' });
    const up = await call('POST', '/campaigns/json-one/contacts', { body: csv(numbers(3, 61412000100)), type: 'text/csv' });
    expect(up.status, up.text).toBe(200);
    const dup = await call('POST', '/campaigns', { body: yaml('json-one'), type: 'application/yaml' });
    expect(dup.status).toBe(409);
    const second = await call('POST', '/campaigns/json-one/contacts', { body: csv(numbers(3, 61412000200)), type: 'text/csv' });
    expect(second.status).toBe(409);
    expect(second.json.error).toMatch(/already has 3 contacts/);
    expect((await call('POST', '/campaigns/json-one/cancel')).json).toEqual({ campaign: 'json-one', state: 'canceled', canceled: 3, in_flight: 0 });
  });

  it('404 for control, status and results of an unknown campaign; 404 for an upload before the campaign exists', async () => {
    for (const [m, p] of [['GET', '/campaigns/nope'], ['GET', '/campaigns/nope/results'], ['POST', '/campaigns/nope/pause'], ['POST', '/campaigns/nope/resume'], ['POST', '/campaigns/nope/cancel']]) {
      const r = await call(m!, p!);
      expect(r.status, `${m} ${p}`).toBe(404);
      expect(r.json.error).toMatch(/nope/);
    }
    const up = await call('POST', '/campaigns/nope/contacts', { body: csv(numbers(1)), type: 'text/csv' });
    expect(up.status).toBe(404);
    expect(up.json.error).toMatch(/POST \/campaigns first/);
  });
});

describe('POST /campaigns/:name/contacts', () => {
  it('400 naming the line and the reason for a broken CSV, and nothing of it is loaded; a corrected upload then works', async () => {
    await createCampaign('broken-csv');
    // The break comes after a whole chunk (1000 rows) was written: those rows, claims and jobs must go too.
    const good = numbers(1100, 61412400000);
    const body = csv(good) + 'Bob,"+61412000002\nCid,+61412000003\n';
    const r = await call('POST', '/campaigns/broken-csv/contacts?filename=list.csv', { body, type: 'text/csv' });
    expect(r.status, r.text).toBe(400);
    expect(r.json).toMatchObject({ code: 'CSV_INVALID', file: 'list.csv', line: 1102 });
    expect(r.json.reason).toMatch(/quoted field .* never closed/);
    expect(r.json.error).toMatch(/^list\.csv: line 1102: /);
    await sleep(300); // a worker that could see a job would have dialed by now
    expect(sim.requests.filter((q) => q.method === 'POST' && good.includes((q.body as { phoneNumber?: string }).phoneNumber ?? ''))).toEqual([]);
    expect(await rt.redis.hlen(rt.store.keys.rows('broken-csv'))).toBe(0);
    expect(await rt.redis.hlen(rt.store.keys.ledger('broken-csv'))).toBe(0);
    expect(await rt.queues.get('broken-csv').count()).toBe(0);
    const st = (await call('GET', '/campaigns/broken-csv')).json;
    expect(st).toMatchObject({ state: 'loading', total: 0 });

    const noPhone = await call('POST', '/campaigns/broken-csv/contacts', { body: 'name,email\nAnn,a@b.c\n', type: 'text/csv' });
    expect(noPhone.status).toBe(400);
    expect(noPhone.json).toMatchObject({ line: 1 });
    expect(noPhone.json.reason).toMatch(/no phone column/);

    const ok = await call('POST', '/campaigns/broken-csv/contacts', { body: csv(numbers(2, 61412000010)), type: 'text/csv' });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json).toMatchObject({ campaign: 'broken-csv', rows: 2, accepted: 2 });
  });

  it('a multipart form with a file field is streamed in the same way; a form without a file is a 400', async () => {
    await createCampaign('multi-part');
    const none = new FormData();
    none.append('note', 'no file here');
    expect((await call('POST', '/campaigns/multi-part/contacts', { body: none })).status).toBe(400);
    const form = new FormData();
    form.append('file', new Blob([csv([...numbers(3, 61412000020), 'not-a-number'])], { type: 'text/csv' }), 'people.csv');
    const r = await call('POST', '/campaigns/multi-part/contacts', { body: form });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ rows: 4, accepted: 3, rejected: 1 });
    expect((await rt.store.getCampaign('multi-part'))!.campaign.contactsPath).toBe('people.csv');

    // Broken early in a large form: the rest is read and dropped, so the client still gets its 400.
    await createCampaign('multi-broken');
    const broken = new FormData();
    broken.append('file', new Blob(['name,phone\nAnn,"+61412000001\n', 'x'.repeat(60_000) + '\n', csv(numbers(5000, 61412500000))], { type: 'text/csv' }), 'big.csv');
    broken.append('after', 'a field after the file');
    const b = await call('POST', '/campaigns/multi-broken/contacts', { body: broken });
    expect(b.status, b.text).toBe(400);
    expect(b.json).toMatchObject({ file: 'big.csv', line: 2 });
    expect(await rt.redis.hlen(rt.store.keys.rows('multi-broken'))).toBe(0);
  });

  it('413 past the upload limit, streamed (never read whole), and nothing is kept', async () => {
    await createCampaign('too-big');
    const line = 'Someone with a long name to fill the upload,+61412000000\n';
    let sent = 0;
    const total = UPLOAD_LIMIT * 8;
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('name,phone\n'));
      },
      pull(c) {
        if (sent >= total) return c.close();
        const chunk = new TextEncoder().encode(line.repeat(1000));
        sent += chunk.length;
        c.enqueue(chunk);
      },
    });
    const res = await fetch(`${server.url}/campaigns/too-big/contacts`, {
      method: 'POST', body: stream, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/csv' }, duplex: 'half',
    } as RequestInit).catch((e: unknown) => e as Error);
    if (res instanceof Error) throw res;
    expect(res.status).toBe(413);
    expect((await res.json()).error).toMatch(/larger than the limit of 1 MB/);
    expect(sent).toBeLessThan(total); // the server stopped reading
    await waitFor('rollback', async () => (await rt.redis.hlen(rt.store.keys.rows('too-big'))) === 0 && (await rt.store.getCampaign('too-big'))?.state === 'loading');
    expect(await rt.queues.get('too-big').count()).toBe(0);
  });

  it('?partial=keep keeps the whole chunks before a broken line (paused campaign: nothing dials)', async () => {
    await createCampaign('keep-part');
    expect((await call('POST', '/campaigns/keep-part/pause')).json.state).toBe('paused');
    const body = csv(numbers(1200, 61412100000)) + 'Broken,"+61412999999\n';
    const r = await call('POST', '/campaigns/keep-part/contacts?partial=keep', { body, type: 'text/csv' });
    expect(r.status, r.text).toBe(200);
    expect(r.json.partial).toMatchObject({ kept_rows: 1000, line: 1202 });
    const st = (await call('GET', '/campaigns/keep-part')).json;
    expect(st).toMatchObject({ state: 'paused', total: 1000, pending: 1000 });
    expect(st.queued).toBe(1000);
    const cancel = await call('POST', '/campaigns/keep-part/cancel');
    expect(cancel.json).toMatchObject({ state: 'canceled', canceled: 1000 });
  });
});

describe('an upload that broke off (the server crashed mid-upload)', () => {
  it('a new upload takes the campaign over and loads it afresh: total set, dialed, one result per row', async () => {
    expect((await call('POST', '/campaigns', { body: yaml('crashed-up'), type: 'application/yaml' })).status).toBe(201);
    // What a server killed half-way through an upload leaves: rows of the first
    // file, the campaign still `loading`, the lease held by a process that is gone.
    await rt.store.loadRows('crashed-up', numbers(5, 61412000700).map((phone, i) => ({ row: i + 1, name: `Old ${i}`, phone, job: `crashed-up-${i + 1}` })));
    expect((await rt.store.loadLease('crashed-up', `${hostname()}|2147483646|gone`, Date.now() + 60_000)).held).toBe(true);
    const up = await call('POST', '/campaigns/crashed-up/contacts', { body: csv(numbers(3, 61412000800)), type: 'text/csv' });
    expect(up.status, up.text).toBe(200);
    expect(up.json).toMatchObject({ rows: 3, accepted: 3 });
    await waitFor('the re-uploaded campaign to finish', async () => (await rt.store.campaignState('crashed-up')) === 'done', 20_000);
    const info = await rt.store.getCampaign('crashed-up');
    expect(info?.total).toBe(3);
    expect((await rt.store.getRow('crashed-up', 1))?.name).toBe('Person 1');
    expect(await rt.store.getRow('crashed-up', 4)).toBeUndefined();
  });
});

describe('upload → dial → results over HTTP', () => {
  const name = 'e2e-http';
  const phones = [...numbers(18, 61412000500), '12', '+61412000500']; // one invalid, one duplicate of row 1

  it('dials every contact once and serves the results as CSV and JSONL', async () => {
    await createCampaign(name);
    const up = await call('POST', `/campaigns/${name}/contacts`, { body: csv(phones), type: 'text/csv' });
    expect(up.status, up.text).toBe(200);
    expect(up.json).toMatchObject({ rows: 20, accepted: 18, rejected: 1, duplicates: 1 });

    const done = await waitFor('campaign done', async () => {
      const s = (await call('GET', `/campaigns/${name}`)).json;
      return s.state === 'done' ? s : undefined;
    });
    expect(done).toMatchObject({ total: 20, finished: 20, pending: 0 });
    const calls = ['completed', 'no-answer', 'busy', 'voicemail', 'failed'].reduce((a, o) => a + done.outcomes[o], 0);
    expect(calls).toBe(18);

    const list = (await call('GET', '/campaigns')).json.campaigns as Array<{ campaign: string }>;
    expect(list.map((c) => c.campaign)).toContain(name);

    const res = await call('GET', `/campaigns/${name}/results`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/csv/);
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${name}-results.csv"`);
    const table = parseCsv<Record<string, string>>(res.text, { columns: true });
    expect(res.text).toMatch(/^row,name,phone,outcome,call_id,attempts,/);
    expect(table).toHaveLength(20);
    expect(table.map((r) => Number(r.row))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(table[18]).toMatchObject({ name: 'Person 19', phone: '12', outcome: 'rejected' });
    expect(table[19]).toMatchObject({ name: 'Person 20', phone: '+61412000500', outcome: 'duplicate', error: 'duplicate of row 1' });
    expect(table.slice(0, 18).every((r) => r.call_id && ['completed', 'no-answer', 'busy', 'voicemail', 'failed'].includes(r.outcome!))).toBe(true);

    for (const accept of ['application/x-ndjson', 'application/jsonl']) {
      const j = await call('GET', `/campaigns/${name}/results`, { headers: { accept } });
      expect(j.headers.get('content-type')).toMatch(/application\/x-ndjson/);
      const rows = j.text.trim().split('\n').map((l) => JSON.parse(l));
      expect(rows).toHaveLength(20);
      expect(rows.filter((r) => r.call_id).length).toBe(18);
      expect(new Set(rows.map((r) => r.call_id).filter(Boolean)).size).toBe(18);
    }
    // Exactly one POST /calls per distinct valid number.
    const posts = sim.requests.filter((r) => r.method === 'POST' && r.path === '/calls' && phones.includes((r.body as { phoneNumber: string }).phoneNumber));
    expect(posts).toHaveLength(18);
  });

  it('/metrics shows calls by outcome, API latency, queue depth, ledger states and BullMQ\'s own export', async () => {
    const r = await call('GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/plain/);
    const sample = (re: RegExp) => [...r.text.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
    expect(sample(new RegExp(`^dialer_call_outcomes\\{campaign="${name}",outcome="(?:completed|no-answer|busy|voicemail|failed)"\\} (\\d+)$`, 'gm'))).toBe(18);
    expect(sample(new RegExp(`^dialer_call_outcomes\\{campaign="${name}",outcome="rejected"\\} (\\d+)$`, 'gm'))).toBe(1);
    expect(sample(/^dialer_api_request_duration_seconds_count\{route="POST \/calls",status="201"\} (\d+)$/gm)).toBeGreaterThanOrEqual(18);
    expect(sample(new RegExp(`^dialer_ledger_entries\\{campaign="${name}",state="placed"\\} (\\d+)$`, 'gm'))).toBe(18);
    expect(r.text).toMatch(new RegExp(`^dialer_queue_jobs\\{campaign="${name}",state="wait"\\} 0$`, 'm'));
    expect(r.text).toMatch(new RegExp(`^dialer_campaign_state\\{campaign="${name}",state="done"\\} 1$`, 'm'));
    expect(r.text).toMatch(/^dialer_workers_alive \d+$/m);
    expect(r.text).toMatch(/^# TYPE dialer_api_rate_limited_total counter$/m);
    expect(r.text).toMatch(new RegExp(`^bullmq_job_count\\{queue="dial-${name}", state="\\w+", campaign="${name}"\\} \\d+$`, 'm'));
    // One HELP/TYPE per family, though BullMQ exports its families once per queue.
    const helps = r.text.split('\n').filter((l) => l.startsWith('# HELP '));
    expect(new Set(helps).size).toBe(helps.length);
    expect(r.text.match(/^# TYPE bullmq_job_count gauge$/gm)).toHaveLength(1);
  });
});

describe('POST /webhooks/callease', () => {
  it('stores every delivery; the secret or the token is required', async () => {
    const list = rt.store.keys.webhooks;
    const event = { type: 'call.ended', data: { id: 'call_unknown', status: 'completed' } };
    const post = (q: string, headers: Record<string, string>, token: string | null = null) =>
      call('POST', `/webhooks/callease${q}`, { token, body: JSON.stringify(event), type: 'application/json', headers });
    expect((await post('', {})).status).toBe(401);
    expect((await post('', { 'x-callease-secret': 'nope' })).status).toBe(401);
    expect((await post('?secret=nope', {})).status).toBe(401);
    const before = await rt.redis.llen(list);
    const a = await post('', { 'x-callease-secret': SECRET });
    expect(a.status).toBe(202);
    expect(a.json).toEqual({ received: true, matched: false, nudged: false });
    expect((await post(`?secret=${SECRET}`, {})).status).toBe(202);
    expect((await post('', {}, TOKEN)).status).toBe(202);
    expect(await rt.redis.llen(list)).toBe(before + 3);
    const stored = JSON.parse((await rt.redis.lindex(list, 0))!);
    expect(stored).toMatchObject({ match: null, body: event });
    const broken = await call('POST', '/webhooks/callease', { token: null, body: '{"id":', type: 'application/json', headers: { 'x-callease-secret': SECRET } });
    expect(broken.status).toBe(400);
  });

  it('matches by call id, updates the status and nudges the poller, but never finalizes a row itself', async () => {
    // Calls last 6 s and are polled every 60 s: only a nudge can end this row early.
    sim.setOptions({ callDurationMs: { min: 6000, max: 6000 } });
    const name = 'hooked';
    const body = yaml(name).replace('interval_seconds: 1', 'interval_seconds: 60');
    expect((await call('POST', '/campaigns', { body, type: 'application/yaml' })).status).toBe(201);
    expect((await call('POST', `/campaigns/${name}/contacts`, { body: csv(['+61412000900']), type: 'text/csv' })).status).toBe(200);
    // The first poll of a placed call is one interval (60 s) away: only webhooks make it sooner.
    const placed = await waitFor('call placed', async () => {
      const rec = await rt.store.getRow(name, 1);
      return rec?.call_id ? rec : undefined;
    });
    const callId = placed.call_id!;
    const hook = (payload: unknown) => call('POST', '/webhooks/callease', { token: null, body: JSON.stringify(payload), type: 'application/json', headers: { 'x-callease-secret': SECRET } });

    // A "completed" event while the call is in fact still running: status hint only, no outcome.
    const early = await hook({ event: 'status-update', call_id: callId, status: 'COMPLETED' });
    expect(early.json).toEqual({ received: true, matched: true, nudged: true });
    await sleep(1500); // the nudged poll has run and seen the call still going
    const mid = await rt.store.getRow(name, 1);
    expect(mid!.outcome).toBeUndefined();
    expect(sim.requests.filter((r) => r.method === 'GET' && r.path.includes(callId)).length).toBeGreaterThanOrEqual(1);

    // Once the call has really ended, a webhook makes the poller look now instead of in a minute.
    await waitFor('call ended in the simulator', async () => (sim.view(callId)?.status as string | undefined) === 'completed' || ['no-answer', 'busy', 'voicemail', 'failed'].includes(String(sim.view(callId)?.status)), 10_000);
    const t = Date.now();
    const late = await hook({ data: { id: callId, status: 'ended' } });
    expect(late.json.nudged).toBe(true);
    const final = await waitFor('row final', async () => (await rt.store.getRow(name, 1))?.outcome && (await rt.store.getRow(name, 1)), 5000);
    expect(Date.now() - t).toBeLessThan(5000);
    expect(final.outcome).toBe(String(sim.view(callId)!.status));
    expect((await hook({ callId, status: 'completed' })).json).toEqual({ received: true, matched: true, nudged: false });
    const stored = JSON.parse((await rt.redis.lindex(rt.store.keys.webhooks, 0))!);
    expect(stored.match).toEqual({ campaign: name, row: 1 });
  });
});

describe('health', () => {
  it('/readyz: ready with a recent worker heartbeat; 503 with none, or when Redis is gone', async () => {
    const ready = await call('GET', '/readyz', { token: null });
    expect(ready.status).toBe(200);
    expect(ready.json).toMatchObject({ ready: true, redis: 'ok' });
    expect(ready.json.workers).toBeGreaterThanOrEqual(1);

    const lonelyPrefix = `${prefix}-lonely`;
    const lonely = await openRuntime({ ...readEnv(), prefix: lonelyPrefix, logLevel: 'silent' });
    const app = await buildServer(lonely, { token: TOKEN, uploadLimitBytes: UPLOAD_LIMIT, resultsDir });
    try {
      const r = await app.inject({ method: 'GET', url: '/readyz' });
      expect(r.statusCode).toBe(503);
      expect(r.json()).toEqual({ ready: false, redis: 'ok', workers: 0 });
      await lonely.redis.hset(lonely.store.keys.workers, 'w1', Date.now() - 120_000);
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
      await lonely.redis.hset(lonely.store.keys.workers, 'w2', Date.now());
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      // Redis gone: both of the runtime's connections (BullMQ's and the store's) drop.
      lonely.redis.disconnect();
      lonely.store.redis.disconnect();
      const gone = await app.inject({ method: 'GET', url: '/readyz' });
      expect(gone.statusCode).toBe(503);
      expect(gone.json().redis).toMatch(/unreachable/);
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await app.close();
      await lonely.redis.connect().catch(() => undefined);
      await lonely.store.redis.connect().catch(() => undefined);
      await deleteKeys(lonely, lonelyPrefix).catch(() => undefined);
      await lonely.close();
    }
  });
});

describe('exposition merge', () => {
  it('keeps one HELP/TYPE per family and every sample', () => {
    const a = '# HELP x_total a\n# TYPE x_total counter\nx_total{q="1"} 1\n';
    const b = '# HELP x_total a\n# TYPE x_total counter\nx_total{q="2"} 2\n# HELP h h\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n';
    expect(mergeExposition([a, b])).toBe('# HELP x_total a\n# TYPE x_total counter\nx_total{q="1"} 1\nx_total{q="2"} 2\n# HELP h h\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n');
  });
});
