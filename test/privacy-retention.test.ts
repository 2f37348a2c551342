import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelCampaign } from '../src/campaign/control.js';
import type { Campaign } from '../src/config/campaign.js';
import { purgeExpired, RetentionService } from '../src/privacy/retention.js';
import { writeResults } from '../src/results/export.js';
import { campaignIn, cleanupPrefix, keysUnder, openTestRuntime, REDIS_URL, runCli, testPrefix, type TestRuntime } from './helpers/dialer.js';
import { useSimulators } from './helpers/sim-http.js';
import { dialToEnd, loadWithScreen, searchRedis } from './privacy-helpers.js';
import { decodeRow } from '../src/store/row-codec.js';

const prefix = testPrefix('privacy-retention');
const newSim = useSimulators();
const DAY = 86_400_000;
let dir: string;
let t: TestRuntime;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-retention-'));
});
afterAll(async () => {
  await t?.rt.close();
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

/** Three contacts whose numbers and names are unique to the campaign `n` (1..9). */
const csv = (n: number) => `name,phone,note\n${[1, 2, 3].map((i) => `Person${n}x${i},+6141200${n}00${i},note${n}x${i}`).join('\n')}\n`;
const needles = (n: number) => [`6141200${n}00`, `Person${n}x`, `note${n}x`];

describe('retention purge', () => {
  it('purges personal data past retention, keeps counts, stubs and the audit record; leaves recent and unfinished campaigns alone', async () => {
    const sim = await newSim({ callDurationMs: { min: 50, max: 150 }, outcomes: { completed: 2, 'no-answer': 1 } });
    t = await openTestRuntime(prefix, sim);
    const { rt } = t;
    const redis = rt.redis as Redis;
    const camp = (name: string, n: number, extra: Record<string, unknown> = {}) =>
      campaignIn(path.join(dir, name), { name, assistant_id: 'CE_1', rate: { calls: 50, per_seconds: 1 }, results: path.join(dir, `${name}.csv`), ...extra }, csv(n));
    const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString();

    const dialed: Campaign[] = [];
    for (const [name, n, extra] of [['ra', 1, { retention_days: 30 }], ['rb', 2, {}], ['rc', 3, { retention_days: 30 }]] as const) {
      const c = await camp(name, n, extra);
      await dialToEnd(rt, c);
      await writeResults(rt.store, name, c.resultsPath);
      dialed.push(c);
    }
    await redis.hset(rt.store.keys.campaign('ra'), 'finished_at', ago(40)); // past its own 30 days
    await redis.hset(rt.store.keys.campaign('rb'), 'finished_at', ago(11)); // past the default 10 days
    // rc finished just now: recent.
    const rd = await camp('rd', 4); // loaded long ago, never dialed: not finished
    await loadWithScreen(rt, rd);
    await redis.hset(rt.store.keys.campaign('rd'), 'created_at', ago(400));
    const rf = await camp('rf', 5, { retention_days: 30 }); // canceled long ago
    await loadWithScreen(rt, rf);
    expect((await cancelCampaign(rt, 'rf')).state).toBe('canceled');
    await redis.hset(rt.store.keys.campaign('rf'), 'created_at', ago(40), 'finished_at', ago(40));

    const rowsOf = async (id: string) => redis.hgetall(rt.store.keys.rows(id));
    const before = { ra: await rowsOf('ra'), rc: await rowsOf('rc'), rd: await rowsOf('rd') };
    const countsBefore = await rt.store.counts('ra');
    const auditBefore = await redis.xrange(rt.store.keys.audit('ra'), '-', '+');
    expect(auditBefore.some(([, f]) => f.includes('number'))).toBe(true);
    expect(Object.values(before.ra).join()).toMatch(/Person1x1/);
    expect(await keysUnder(redis, `${prefix}:dial-ra:*`)).not.toEqual([]);

    // Dry run: reports, changes nothing.
    const dry = await purgeExpired({ store: rt.store, log: rt.log, queues: rt.queues }, { now: Date.now(), defaultDays: 10, dryRun: true });
    const act = (r: typeof dry) => Object.fromEntries(r.map((e) => [e.campaign, e.action]));
    expect(act(dry)).toEqual({ ra: 'would-purge', rb: 'would-purge', rc: 'kept', rd: 'kept', rf: 'would-purge' });
    expect(await rowsOf('ra')).toEqual(before.ra);

    const res = await purgeExpired({ store: rt.store, log: rt.log, queues: rt.queues }, { now: Date.now(), defaultDays: 10 });
    expect(act(res)).toEqual({ ra: 'purged', rb: 'purged', rc: 'kept', rd: 'kept', rf: 'purged' });
    expect(res.find((e) => e.campaign === 'rd')!.reason).toBe('not finished (running)');
    expect(res.find((e) => e.campaign === 'rc')!.reason).toMatch(/^kept until /);
    expect(res.find((e) => e.campaign === 'ra')!.results).toEqual([dialed[0]!.resultsPath]);

    // Personal data of the purged campaigns is nowhere in Redis or their results files.
    for (const n of [1, 2, 5]) expect(await searchRedis(redis, prefix, needles(n))).toEqual([]);
    for (const c of dialed.slice(0, 2)) expect(await readFile(c.resultsPath, 'utf8')).not.toMatch(/Person|note|61412/);
    // Stubs: one per row, outcome and timing kept.
    const stubs = Object.values(await rowsOf('ra')).map((v) => decodeRow(v));
    expect(stubs).toHaveLength(3);
    for (const s of stubs) {
      expect(Object.keys(s).sort()).toEqual(expect.arrayContaining(['row', 'outcome', 'attempts', 'name', 'phone']));
      expect(s).toMatchObject({ name: '', phone: '' });
      for (const k of ['vars', 'summary', 'transcript', 'recording_url', 'consent', 'timezone', 'error']) expect(s).not.toHaveProperty(k);
      const old = decodeRow(before.ra[String(s.row)]!);
      expect(s).toMatchObject({ outcome: old.outcome, attempts: old.attempts, call_id: old.call_id, ended_at: old.ended_at });
    }
    expect(await rt.store.counts('ra')).toEqual(countsBefore);
    expect(await rt.store.getCampaign('ra')).toMatchObject({ state: 'done', total: 3 });
    expect(await redis.exists(rt.store.keys.ledger('ra'))).toBe(0);
    expect(await keysUnder(redis, `${prefix}:dial-ra:*`)).toEqual([]);
    // The audit record: the same entries (ids and times) without the masked numbers, plus the purge.
    const auditAfter = await redis.xrange(rt.store.keys.audit('ra'), '-', '+');
    expect(auditAfter.slice(0, -1).map(([id]) => id)).toEqual(auditBefore.map(([id]) => id));
    expect(auditAfter.slice(0, -1).map(([, f]) => f.filter((_, i) => i % 2 === 0))).toEqual(auditBefore.map(([, f]) => f.filter((_, i) => i % 2 === 0 && f[i] !== 'number')));
    expect(auditAfter.at(-1)![1].slice(0, 2)).toEqual(['type', 'purge']);
    // `export` still gives one line per input row.
    expect((await writeResults(rt.store, 'ra', path.join(dir, 'ra-again.csv'))).rows).toBe(3);

    // Recent and unfinished campaigns: untouched.
    expect(await rowsOf('rc')).toEqual(before.rc);
    expect(await rowsOf('rd')).toEqual(before.rd);
    expect(await searchRedis(redis, `${prefix}:c:rc`, ['Person3x1'])).not.toEqual([]);

    // A second purge does nothing more.
    const again = await purgeExpired({ store: rt.store, log: rt.log }, { now: Date.now(), defaultDays: 10 });
    expect(again.find((e) => e.campaign === 'ra')).toMatchObject({ action: 'kept', reason: 'already purged' });
  });

  it('the worker service purges once per period across workers; a campaign without retention_days and no default is kept', async () => {
    const rg = await campaignIn(path.join(dir, 'rg'), { name: 'rg', assistant_id: 'CE_1', rate: { calls: 50, per_seconds: 1 } }, csv(6));
    const sim = await newSim({ callDurationMs: { min: 50, max: 150 } });
    await t.rt.close();
    t = await openTestRuntime(prefix, sim);
    await dialToEnd(t.rt, rg);
    // rc (30 days) and rg (no retention_days) finished "now"; 40 days later only rc is due.
    const later = Date.now() + 40 * DAY;
    const a = new RetentionService({ store: t.rt.store, log: t.rt.log, queues: t.rt.queues }, { now: () => later, purgeEveryMs: 60_000 });
    const b = new RetentionService({ store: t.rt.store, log: t.rt.log }, { now: () => later, purgeEveryMs: 60_000, defaultDays: 1 });
    expect(await a.tick()).toBe(true);
    expect(await b.tick()).toBe(false); // another worker: this period's purge already ran
    expect(await searchRedis(t.rt.redis as Redis, `${prefix}:c:rc`, needles(3))).toEqual([]);
    expect(await searchRedis(t.rt.redis as Redis, `${prefix}:c:rg`, needles(6))).not.toEqual([]);
    expect(await t.rt.redis.pttl(t.rt.store.keys.retentionLock)).toBeGreaterThan(50_000);
    a.start();
    await a.close(); // start/close without hanging
  });

  it('dialer purge --dry-run --json (CLI) reports without changing anything', async () => {
    const r = await runCli(['purge', '--dry-run', '--json'], { REDIS_URL, DIALER_PREFIX: prefix, DIALER_RETENTION_DAYS: '0.5', LOG_LEVEL: 'warn' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { campaign: string; action: string; reason: string }[];
    // rg has no retention_days: the env default (half a day) makes it due 40 days later... but not now.
    expect(Object.fromEntries(out.map((e) => [e.campaign, [e.action, e.reason.replace(/ \d{4}-.*Z/, ' <time>')]]))).toEqual({
      ra: ['kept', 'already purged'], rb: ['kept', 'already purged'], rc: ['kept', 'already purged'], rd: ['kept', 'not finished (running)'],
      rf: ['kept', 'already purged'], rg: ['kept', 'kept until <time> (0.5 days)'],
    });
    expect(await t.rt.redis.hexists(t.rt.store.keys.campaign('rg'), 'purged_at')).toBe(0);
  });
});
