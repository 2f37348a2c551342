import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dueForArchive } from '../src/campaign/archive.js';
import { campaignStatus } from '../src/campaign/status.js';
import type { Campaign } from '../src/config/campaign.js';
import { Dialer } from '../src/dialer.js';
import { forgetNumber } from '../src/privacy/forget.js';
import { purgeExpired } from '../src/privacy/retention.js';
import { writeResults } from '../src/results/export.js';
import type { Runtime } from '../src/runtime.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { campaignIn, cleanupPrefix, openTestRuntime, postsByNumber, runCli, testPrefix, waitFor, REDIS_URL } from './helpers/dialer.js';

const prefix = testPrefix('archive');
const HASH_KEY = 'archive-test-hash-key-0123456789';
let sim: Simulator;
let rt: Runtime;
let dir: string;

beforeAll(async () => {
  sim = await startSimulator({ seed: 11, callDurationMs: { min: 20, max: 60 }, outcomes: { completed: 3, 'no-answer': 1, busy: 1 } });
  rt = (await openTestRuntime(prefix, sim, { logLevel: 'silent', hashKey: HASH_KEY })).rt;
  dir = await mkdtemp(path.join(os.tmpdir(), 'archive-'));
});

afterAll(async () => {
  await rt?.close();
  await sim?.close();
  await cleanupPrefix(prefix);
  if (dir) await rm(dir, { recursive: true, force: true });
});

let nextNumber = 100000;

/** `n` contacts with numbers no other campaign here has (the frequency cap is account-wide): every 9th invalid, every 7th a repeat of the row before. */
function contacts(n: number): string {
  const lines = ['name,phone,email'];
  const number = (k: number) => `0412 ${String(k).slice(0, 3)} ${String(k).slice(3)}`;
  for (let i = 1; i <= n; i++) {
    const phone = i % 9 === 0 ? 'not-a-number' : number(i % 7 === 0 ? nextNumber : ++nextNumber);
    lines.push(`Person ${i},${phone},p${i}@example.com`);
  }
  return lines.join('\n') + '\n';
}

async function finished(name: string, rows: number, whileRunning?: () => Promise<void>): Promise<Campaign> {
  const c = await campaignIn(path.join(dir, name), {
    name, assistant_id: 'A1', default_country: 'AU', rate: { calls: 200, per_seconds: 1 }, poll: { interval_seconds: 0.1 },
    results: path.join(dir, `${name}.csv`),
  }, contacts(rows));
  const dialer = new Dialer(rt, { workerScanMs: 100, pollerTickMs: 50 });
  await dialer.load(c);
  dialer.startWorkers({ campaigns: [c.name], bare: true });
  dialer.startPoller({ bare: true });
  try {
    await waitFor(async () => (await rt.store.getCampaign(name))?.state === 'done', `${name} done`, 60_000, 100);
    await whileRunning?.();
  } finally {
    await dialer.close();
  }
  return c;
}

/** What a user can read of a campaign: the results file, every row, the status, the audit, one row's audit, a rows page. */
async function everything(c: Campaign, rows: number) {
  const file = path.join(dir, `${c.name}-export-${Math.random().toString(36).slice(2)}.csv`);
  await writeResults(rt.store, c.name, file);
  const nums = Array.from({ length: rows }, (_, i) => i + 1);
  const status = await campaignStatus(rt.store, rt.queues, c.name);
  const audit: [string, Record<string, string>][] = [];
  for await (const e of rt.store.privacy.auditEntries(c.name)) audit.push(e);
  return {
    results: await readFile(file, 'utf8'),
    rows: await rt.store.getRows(c.name, nums),
    one: await rt.store.getRow(c.name, 5),
    count: await rt.store.rowCount(c.name),
    status: { ...status, archived: undefined as unknown },
    audit,
    lastAudit: await rt.store.privacy.lastAuditMs(c.name),
    rowAudit: await rt.store.rowPages.auditOfRow(c.name, 3, 10_000),
    page: await rt.store.rowPages.range(c.name, 1, 25),
  };
}

/** MEMORY USAGE of every key of the campaign. */
async function memoryOf(name: string): Promise<number> {
  let total = 0;
  let cursor = '0';
  do {
    const [next, keys] = await rt.redis.scan(cursor, 'MATCH', `${rt.store.keys.campaign(name)}*`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) total += (await rt.redis.memory('USAGE', k, 'SAMPLES', '0')) ?? 0;
  } while (cursor !== '0');
  return total;
}

describe('the archive of a finished campaign', () => {
  it('packs rows, ledger, row keys and audit; every read gives what it gave before, in a fraction of the memory', async () => {
    const rows = 2900; // three row blocks, two ledger blocks
    const c = await finished('arch-read', rows);
    const before = await everything(c, rows);
    const bytesBefore = await memoryOf(c.name);
    expect((await campaignStatus(rt.store, rt.queues, c.name)).archived).toBeUndefined();
    expect(before.count).toBe(rows);
    expect(before.audit.length).toBeGreaterThan(rows);

    const k = rt.store.keys;
    const hashes = async () => Promise.all([k.rows(c.name), k.ledger(c.name), k.rowKeys(c.name)].map((key) => rt.redis.hgetall(key)));
    const stored = await hashes();
    const ledger = Object.keys(stored[1]!).length;
    expect(ledger).toBeGreaterThan(2000);
    const r = await rt.store.archive.archive(c.name);
    expect(r).toMatchObject({ result: 'archived', rows, ledger });
    expect(r.rowKeys).toBe(rows);
    expect(r.audit).toBe(before.audit.length);
    expect(await rt.store.archive.isArchived(c.name)).toBe(true);
    expect(await rt.redis.exists(k.rows(c.name), k.ledger(c.name), k.rowKeys(c.name))).toBe(0);
    expect(await rt.redis.xlen(k.audit(c.name))).toBe(0);

    const after = await everything(c, rows);
    expect(after).toEqual(before);
    expect((await campaignStatus(rt.store, rt.queues, c.name)).archived).toMatchObject({ rows });

    const bytesAfter = await memoryOf(c.name);
    process.stdout.write(`archive: ${rows} rows, campaign keys ${bytesBefore} B before, ${bytesAfter} B after (${(bytesAfter / rows).toFixed(0)} B a row)\n`);
    expect(bytesAfter).toBeLessThan(bytesBefore / 4);

    // Later audit events go to the stream and read after the archived ones.
    await rt.store.appendAudit(c.name, { type: 'note', at: new Date().toISOString() });
    const audit: string[] = [];
    for await (const [, e] of rt.store.privacy.auditEntries(c.name)) audit.push(e.type!);
    expect(audit).toHaveLength(before.audit.length + 1);
    expect(audit.at(-1)).toBe('note');

    // Warmed, the hashes hold again exactly the text they held.
    expect(await rt.store.archive.warm(c.name)).toBe(r.blocks - Math.ceil(r.audit / 2000));
    expect(await rt.store.archive.isArchived(c.name)).toBe(false);
    expect(await hashes()).toEqual(stored);
  }, 120_000);

  it('a write brings the campaign back first: a re-load adds nothing and calls nobody, and the archive then waits', async () => {
    const rows = 1200;
    const c = await finished('arch-write', rows);
    const postsBefore = postsByNumber(sim);
    const before = await everything(c, rows);
    expect((await rt.store.archive.archive(c.name)).result).toBe('archived');

    // The same list again: the append script is guarded, so the row keys come back before it decides.
    const again = await new Dialer(rt).load(c);
    process.stdout.write(`re-load of an archived campaign: ${JSON.stringify(again)}\n`);
    expect(again.jobs).toBe(0);
    expect(await rt.store.archive.isArchived(c.name)).toBe(false);
    expect(await rt.store.rowCount(c.name)).toBe(rows);
    expect(postsByNumber(sim)).toEqual(postsBefore);
    expect((await everything(c, rows)).rows).toEqual(before.rows);

    // Warmed: no archive run for WARM_HOLD_MS, so nothing is packed under a writer's feet.
    const held = await rt.store.archive.archive(c.name);
    expect(held).toMatchObject({ result: 'refused', blocks: 0 });
    expect(held.reason).toMatch(/written to/);
  }, 120_000);

  it('an erasure on an archived campaign warms it and leaves the number nowhere; delete removes the blocks', async () => {
    const rows = 300;
    const c = await finished('arch-guard', rows);
    expect((await rt.store.archive.archive(c.name)).result).toBe('archived');
    const row = (await rt.store.getRow(c.name, 2))!;
    expect(row.phone).toMatch(/^\+614/);
    // A campaign that never had the number stays packed.
    const other = await finished('arch-other', 40);
    expect((await rt.store.archive.archive(other.name)).result).toBe('archived');
    const report = await forgetNumber({ store: rt.store, log: rt.log, hashKey: HASH_KEY }, row.phone);
    expect(await rt.store.archive.isArchived(other.name)).toBe(true);
    expect(report.campaigns.map((e) => [e.campaign, e.rows])).toEqual([[c.name, 1]]);
    expect(report.leftovers).toEqual([]);
    expect(await rt.store.archive.isArchived(c.name)).toBe(false);
    expect((await rt.store.getRow(c.name, 2))?.phone).not.toBe(row.phone);
    expect((await rt.store.getRow(c.name, 1))?.phone).toMatch(/^\+614/);
    expect(await rt.store.rowCount(c.name)).toBe(rows);
    // Packed again, the blocks hold the erased row as it is now.
    await rt.redis.hdel(rt.store.keys.campaign(c.name), 'z_hold');
    expect((await rt.store.archive.archive(c.name)).result).toBe('archived');
    expect((await rt.store.getRow(c.name, 2))?.phone).not.toBe(row.phone);

    // Deleting an archived campaign leaves none of its blocks behind.
    const d = await finished('arch-delete', 50);
    expect((await rt.store.archive.archive(d.name)).result).toBe('archived');
    await rt.store.deleteCampaign(d.name);
    expect(await rt.redis.keys(`${rt.store.keys.campaign(d.name)}:z*`)).toEqual([]);
    expect(await rt.redis.exists(rt.store.keys.campaign(d.name), rt.store.keys.rows(d.name))).toBe(0);
  }, 120_000);

  it('the retention purge of an archived campaign stubs every row and takes the masked numbers out of the archived audit too', async () => {
    const rows = 120;
    const c = await finished('arch-purge', rows);
    expect((await rt.store.archive.archive(c.name)).result).toBe('archived');
    expect((await rt.store.archive.auditBlockNames(c.name)).length).toBeGreaterThan(0);
    let masked = 0;
    for await (const [, e] of rt.store.privacy.auditEntries(c.name)) if (e.number) masked++;
    expect(masked).toBeGreaterThan(rows / 2);
    const [entry] = await purgeExpired({ store: rt.store, log: rt.log }, { now: Date.now() + 3 * 86_400_000, defaultDays: 1, campaigns: [c.name] });
    expect(entry).toMatchObject({ campaign: c.name, action: 'purged' });
    const recs = await rt.store.getRows(c.name, Array.from({ length: rows }, (_, i) => i + 1));
    expect(recs.every((r) => r !== undefined && r.phone === '' && r.name === '')).toBe(true);
    let events = 0;
    for await (const [, e] of rt.store.privacy.auditEntries(c.name)) {
      events++;
      expect(e.number).toBeUndefined();
    }
    expect(events).toBeGreaterThan(rows);
    expect(await rt.store.archive.auditBlockNames(c.name)).toEqual([]);
  }, 120_000);

  it('stays archived beside the worker and poller that just finished it (their keep-alive of live slots reads no row)', async () => {
    let packed = false;
    const c = await finished('arch-beside', 30, async () => {
      expect((await rt.store.archive.archive('arch-beside')).result).toBe('archived');
      await new Promise((r) => setTimeout(r, 3000)); // the poller renews the live slots of its recent campaigns every second
      packed = await rt.store.archive.isArchived('arch-beside');
    });
    expect(packed).toBe(true);
    expect(await rt.store.rowCount(c.name)).toBe(30);
  }, 120_000);

  it('dialer worker archives a campaign on its own once it has been finished DIALER_ARCHIVE_AFTER_MINUTES, and not before', async () => {
    const c = await finished('arch-auto', 60);
    const t = await openTestRuntime(prefix, sim, { logLevel: 'silent', hashKey: HASH_KEY, archiveAfterMs: 3000 });
    const dialer = new Dialer(t.rt, { workerScanMs: 100, pollerTickMs: 50 });
    try {
      const doneAt = Date.parse((await t.rt.store.getCampaign(c.name))!.finishedAt!);
      // Due exactly at its age, not a millisecond before.
      expect(await dueForArchive(t.rt.store, 3000, doneAt + 2999)).not.toContain(c.name);
      expect(await dueForArchive(t.rt.store, 3000, doneAt + 3000)).toContain(c.name);
      dialer.startWorkers({ campaigns: [c.name] });
      await waitFor(() => t.rt.store.archive.isArchived(c.name), `${c.name} archived`, 20_000, 50);
      expect(Date.now() - doneAt).toBeGreaterThanOrEqual(3000);
      expect((await t.rt.store.getCampaign(c.name))?.archived?.rows).toBe(60);
      // Packed, it is not due again until something is left to pack.
      expect(await dueForArchive(t.rt.store, 3000, Date.now())).not.toContain(c.name);
    } finally {
      await dialer.close();
      await t.rt.close();
    }
  }, 120_000);

  it('dialer archive (CLI): archives a done campaign, refuses a running one, --warm brings it back', async () => {
    const c = await finished('arch-cli', 40);
    const env = { REDIS_URL, DIALER_PREFIX: prefix, LOG_LEVEL: 'silent', DIALER_HASH_KEY: HASH_KEY };
    const a = await runCli(['archive', c.name, '--json'], env);
    expect(a.code).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ campaign: c.name, result: 'archived', rows: 40 });
    expect(await rt.store.archive.isArchived(c.name)).toBe(true);
    const w = await runCli(['archive', c.name, '--warm'], env);
    expect(w.code).toBe(0);
    expect(w.stdout).toMatch(/blocks brought back/);
    expect(await rt.store.archive.isArchived(c.name)).toBe(false);
    await rt.store.moveCampaign(c.name, 'paused').catch(() => undefined);
    await rt.redis.hset(rt.store.keys.campaign(c.name), 'state', 'running');
    const refused = await runCli(['archive', c.name], env);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/not archived: the campaign is running/);
  }, 120_000);
});
