import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os, { hostname } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCampaignFile } from '../src/config/campaign.js';
import { readEnv } from '../src/config/env.js';
import { Dialer } from '../src/dialer.js';
import { writeResults } from '../src/results/export.js';
import { openRuntime, type Runtime } from '../src/runtime.js';
import { startServer, type RunningServer } from '../src/server/service.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { REDIS_URL, campaignIn, cleanupPrefix, postsByNumber, runCli, testPrefix, waitFor, writeCampaign } from './helpers/dialer.js';

const prefix = testPrefix('append');
const TOKEN = 'append-token-0123456789abcdef';
let sim: Simulator;
let rt: Runtime;
let server: RunningServer;
let dir: string;

beforeAll(async () => {
  sim = await startSimulator({ seed: 5, callDurationMs: { min: 30, max: 80 }, outcomes: { completed: 1 } });
  rt = await openRuntime({ ...readEnv({}), redisUrl: REDIS_URL, prefix, apiKey: 'sim-key', baseUrl: sim.url, logLevel: 'silent' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'append-'));
  server = await startServer(rt, { port: 0, host: '127.0.0.1', token: TOKEN, uploadLimitBytes: 1024 * 1024, resultsDir: dir, withWorkers: true, workerScanMs: 100, pollerTickMs: 50 });
});

afterAll(async () => {
  await server?.close(true);
  await rt?.close();
  await sim?.close();
  await cleanupPrefix(prefix);
  if (dir) await rm(dir, { recursive: true, force: true });
});

const list = (rows: string[]) => ['name,phone,city', ...rows].join('\n') + '\n';
const stream = (text: string) => Readable.from([Buffer.from(text)]);
const done = (name: string) => waitFor(async () => (await rt.store.getCampaign(name))?.state === 'done', `${name} done`, 30_000, 100);

async function upload(name: string, text: string, query = '?append=true'): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/campaigns/${name}/contacts${query}`, { method: 'POST', body: text, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/csv' } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function results(name: string): Promise<Record<string, string>[]> {
  const file = path.join(dir, `${name}-results.csv`);
  await writeResults(rt.store, name, file);
  return parse<Record<string, string>>(await readFile(file, 'utf8'), { columns: true });
}

describe('appending contacts to a campaign', () => {
  it('3 uploads with overlaps: one results file, one row per uploaded row, an upload column; the same upload twice adds nothing', async () => {
    const c = await campaignIn(path.join(dir, 'three'), { name: 'app-three', assistant_id: 'A1', default_country: 'AU', rate: { calls: 100, per_seconds: 1 }, poll: { interval_seconds: 0.1 } },
      list(['Ann,0412 000 101,Sydney', 'Bob,0412 000 102,Perth', 'Cat,0412 000 103,Hobart']));
    const dialer = new Dialer(rt);
    const first = await dialer.load(c);
    expect(first).toMatchObject({ rows: 3, accepted: 3 });
    await done(c.name);

    // Upload 2 into a done campaign (it runs again): Cat's row as it was (already in), Dan new,
    // Eve new with Bob's number (a duplicate of his row), and a row with no valid number.
    const second = list(['Cat,0412 000 103,Hobart', 'Dan,0412 000 104,Darwin', 'Eve,+61 412 000 102,Perth', 'Zed,12,Nowhere']);
    const s2 = await dialer.load(c, stream(second), { append: true });
    expect(s2).toMatchObject({ upload: 2, rows: 4, added: 3, already: 1, accepted: 1, duplicates: 1, rejected: 1 });
    await done(c.name);

    // Upload 3 over HTTP while the campaign may still be running: Dan again with his columns
    // in another order (the same content), two new, and two identical rows of one file (each keeps a row).
    const third = ['city,phone,name', 'Darwin,0412 000 104,Dan', 'Brisbane,0412 000 105,Fay', 'Cairns,0412 000 106,Gus', 'Cairns,0412 000 106,Gus'].join('\n') + '\n';
    const r3 = await upload(c.name, third);
    expect(r3.status, JSON.stringify(r3.json)).toBe(200);
    expect(r3.json).toMatchObject({ upload: 3, rows: 4, added: 3, already: 1, accepted: 2, duplicates: 1 });

    // The same uploads again add nothing (nor a new upload number's rows).
    const again3 = await upload(c.name, third);
    expect(again3.json).toMatchObject({ rows: 4, added: 0, already: 4 });
    const again2 = await dialer.load(c, stream(second), { append: true });
    expect(again2).toMatchObject({ rows: 4, added: 0, already: 4 });
    const again1 = await dialer.load(c, stream(await readFile(c.contactsPath, 'utf8')), { append: true });
    expect(again1).toMatchObject({ rows: 3, added: 0, already: 3 });
    await done(c.name);

    const rows = await results(c.name);
    expect(rows.map((r) => [r.row, r.name, r.upload, r.outcome])).toEqual([
      ['1', 'Ann', '1', 'completed'], ['2', 'Bob', '1', 'completed'], ['3', 'Cat', '1', 'completed'],
      ['4', 'Dan', '2', 'completed'], ['5', 'Eve', '2', 'duplicate'], ['6', 'Zed', '2', 'rejected'],
      ['7', 'Fay', '3', 'completed'], ['8', 'Gus', '3', 'completed'], ['9', 'Gus', '3', 'duplicate'],
    ]);
    expect(rows[4]!.error).toBe('duplicate of row 2');
    expect(rows[8]!.error).toBe('duplicate of row 8');
    const info = await rt.store.getCampaign(c.name);
    expect(info?.total).toBe(9);
    expect((await rt.store.counts(c.name)).finished).toBe(9);
    // Nobody was called twice.
    for (const n of ['+61412000101', '+61412000102', '+61412000103', '+61412000104', '+61412000105', '+61412000106']) expect(postsByNumber(sim).get(n), n).toBe(1);
  });

  it('keys on id_column when the campaign has one: a changed row with the same id adds nothing', async () => {
    // Written as the pass-through key of another part of issue 13; read here when present.
    const c0 = await campaignIn(path.join(dir, 'ids'), { name: 'app-ids', assistant_id: 'A1', default_country: 'AU', poll: { interval_seconds: 0.1 } }, 'crm_id,name,phone\nC1,Hal,0412 000 201\n');
    const c = { ...c0, id_column: 'crm_id' } as typeof c0;
    const dialer = new Dialer(rt);
    await dialer.load(c);
    const s = await dialer.load(c, stream('crm_id,name,phone\nC1,Hal Smith,0412 000 201\nC2,Ivy,0412 000 202\n'), { append: true });
    expect(s).toMatchObject({ upload: 2, added: 1, already: 1 });
    await done(c.name);
    expect((await results(c.name)).map((r) => [r.row, r.name, r.upload])).toEqual([['1', 'Hal', '1'], ['2', 'Ivy', '2']]);
  });

  it('appends at once after an append killed -9 (its lease ends with its process), not while its loader lives', async () => {
    const c = await campaignIn(path.join(dir, 'dead'), { name: 'app-dead', assistant_id: 'A1', default_country: 'AU', poll: { interval_seconds: 0.1 } }, list(['Mo,0412 000 401,Sydney']));
    const dialer = new Dialer(rt);
    await dialer.load(c);
    // The lease a killed append leaves: a process of this host that is gone, 15 s to run.
    await rt.store.loadLease(c.name, `${hostname()}|2147483646|gone`, Date.now() + 15_000);
    const s = await dialer.load(c, stream(list(['Ned,0412 000 402,Sydney'])), { append: true });
    expect(s).toMatchObject({ upload: 2, added: 1, already: 0 });
    // A loader that lives (this process) keeps its lease: the append waits for it.
    await rt.store.loadLease(c.name, `${hostname()}|${process.pid}|live`, Date.now() + 15_000);
    await expect(dialer.load(c, stream(list(['Ola,0412 000 403,Sydney'])), { append: true })).rejects.toThrow(/being loaded by another process/);
    expect(await rt.store.loadOwner(c.name)).toMatchObject({ owner: `${hostname()}|${process.pid}|live` });
    await rt.store.dropLoadLease(c.name);
    await done(c.name);
  });

  it("a re-load that ends while an append holds the load lease leaves that lease alone (the append is not 'taken over')", async () => {
    const c = await campaignIn(path.join(dir, 'lease'), { name: 'app-lease', assistant_id: 'A1', default_country: 'AU', schedule: { start_at: '2099-01-01T00:00:00Z' } }, list(['Sol,0412 000 601,Sydney']));
    const dialer = new Dialer(rt);
    await dialer.load(c);
    // An append under way on another machine (its process can't be checked from here) holds the lease.
    const other = 'another-host|4242|append';
    await rt.store.loadLease(c.name, other, Date.now() + 15_000);
    // A re-load of the first list (one upload so far: a plain re-load, which takes no lease) ends meanwhile.
    expect(await dialer.load(c)).toMatchObject({ rows: 1 });
    expect(await rt.store.loadOwner(c.name)).toMatchObject({ owner: other });
    // The append's next chunk renews its lease: still its own.
    expect(await rt.store.loadLease(c.name, other, Date.now() + 15_000)).toMatchObject({ held: true });
    // A first load, which holds the lease itself, still ends it when it finishes.
    await rt.store.dropLoadLease(c.name);
    const c2 = await campaignIn(path.join(dir, 'lease2'), { name: 'app-lease2', assistant_id: 'A1', default_country: 'AU', schedule: { start_at: '2099-01-01T00:00:00Z' } }, list(['Tia,0412 000 602,Sydney']));
    await dialer.load(c2);
    expect(await rt.store.loadOwner(c2.name)).toEqual({});
  });

  // A re-load of the first list that began before the first append (uploads 1, so not run as an append) and ends
  // after it: FINISH_LOADING keeps the larger total, so the appended rows stay in the total, the export and the
  // campaign's end (found by the histories' append step; test/histories/regressions.json, seed 43).
  it('a re-load racing the first append keeps the appended rows in total', async () => {
    const first = list(['Pia,0412 000 501,Sydney', 'Quin,0412 000 502,Perth']);
    const c = await campaignIn(path.join(dir, 'race'), { name: 'app-race', assistant_id: 'A1', default_country: 'AU', schedule: { start_at: '2099-01-01T00:00:00Z' } }, first);
    const dialer = new Dialer(rt);
    await dialer.load(c);
    // The re-load reads the campaign (one upload so far), then waits for its list.
    const pass = new PassThrough();
    const reloading = dialer.load(c, pass);
    await new Promise((r) => setTimeout(r, 500));
    expect(await dialer.load(c, stream(list(['Rae,0412 000 503,Hobart'])), { append: true })).toMatchObject({ added: 1 });
    pass.end(first);
    await reloading;
    expect(await rt.store.rowCount(c.name)).toBe(3);
    expect((await rt.store.getCampaign(c.name))?.total).toBe(3);
  });

  it('`dialer cancel` of a done campaign says nothing was canceled, and the campaign still takes appends', async () => {
    const file = await writeCampaign(path.join(dir, 'cancel-done'), { name: 'app-cdone', assistant_id: 'A1', default_country: 'AU', poll: { interval_seconds: 0.1 } }, list(['Uma,0412 000 701,Sydney']));
    const c = await loadCampaignFile(file);
    const dialer = new Dialer(rt);
    await dialer.load(c);
    await done(c.name);
    const env = { REDIS_URL, DIALER_PREFIX: prefix, CALLEASE_API_KEY: 'sim-key', CALLEASE_BASE_URL: sim.url };
    const r = await runCli(['cancel', c.name], env, 90_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^app-cdone is done: every contact has its outcome, nothing was canceled$/m);
    expect(r.stdout).not.toMatch(/^canceled /m);
    expect((await rt.store.getCampaign(c.name))?.state).toBe('done');
    expect(await dialer.load({ ...c, contactsPath: file }, stream(list(['Vic,0412 000 702,Sydney'])), { append: true })).toMatchObject({ added: 1 });
    await done(c.name);
  }, 120_000);

  it('refuses an append to a canceled campaign (409), to a campaign that does not exist (404), and appends over the CLI', async () => {
    const file = await writeCampaign(path.join(dir, 'cli'), { name: 'app-cli', assistant_id: 'A1', default_country: 'AU', schedule: { start_at: '2099-01-01T00:00:00Z' } }, list(['Jo,0412 000 301,Sydney']));
    const more = path.join(dir, 'cli', 'more.csv');
    await writeFile(more, list(['Kim,0412 000 302,Sydney', 'Jo,0412 000 301,Sydney']));
    const env = { REDIS_URL, DIALER_PREFIX: prefix, CALLEASE_API_KEY: 'sim-key', CALLEASE_BASE_URL: sim.url };
    const c = await loadCampaignFile(file);
    const dialer = new Dialer(rt);
    await expect(dialer.load({ ...c, contactsPath: more }, stream(list(['Kim,0412 000 302,Sydney'])), { append: true })).rejects.toThrow(/no campaign named "app-cli" to append to/);
    await dialer.load(c);
    // One CLI run (a subprocess is slow on a shared machine): the command and its summary.
    const ok = await runCli(['load', file, '--append', more, '--json'], env, 90_000);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ upload: 2, rows: 2, added: 1, already: 1 });
    const twice = await dialer.load({ ...c, contactsPath: more }, stream(await readFile(more, 'utf8')), { append: true });
    expect(twice).toMatchObject({ rows: 2, added: 0, already: 2 });
    expect(await rt.store.rowCount('app-cli')).toBe(2);

    await new Dialer(rt).cancel('app-cli');
    const canceled = await upload('app-cli', list(['Lu,0412 000 303,Sydney']));
    expect(canceled.status).toBe(409);
    expect(String(canceled.json.error)).toMatch(/was canceled; contacts cannot be appended/);
    expect((await upload('app-nope', list(['Lu,0412 000 303,Sydney']))).status).toBe(404);
  }, 120_000);
});
