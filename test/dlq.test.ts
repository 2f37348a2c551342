import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listDeadLetters, purgeDeadLetters, retryDeadLetters } from '../src/campaign/dlq.js';
import { writeResults } from '../src/results/export.js';
import type { RowRecord } from '../src/campaign/row.js';
import type { Simulator } from '../src/simulator/index.js';
import { WorkerService } from '../src/dialer/service.js';
import { Poller } from '../src/poller/poller.js';
import { campaignIn, cleanupPrefix, openTestRuntime, postsByNumber, REDIS_URL, runCli, startDialing, testPrefix, waitFor, type TestRuntime } from './helpers/dialer.js';
import { numbers, sleep, useSimulators } from './helpers/sim-http.js';

const prefix = testPrefix('dlq');
const simulator = useSimulators();
let dir: string;
const open: { t: TestRuntime; stop?: () => Promise<void> }[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-dlq-'));
});
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.stop?.();
    await o.t.rt.close();
  }
});
afterAll(async () => {
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

const csvOf = (phones: string[]) => ['name,phone', ...phones.map((p, i) => `P${i + 1},${p}`)].join('\n') + '\n';

/** A campaign whose every POST gets 404 (unknown assistant): all rows end dead-letter. Dialing stops once it is done. */
async function deadLettered(name: string, phones: string[]): Promise<{ sim: Simulator; t: TestRuntime }> {
  const sim = await simulator({ callDurationMs: { min: 100, max: 300 }, assistants: ['CE_KNOWN'] });
  const t = await openTestRuntime(prefix, sim);
  const entry: { t: TestRuntime; stop?: () => Promise<void> } = { t };
  open.push(entry);
  const c = await campaignIn(path.join(dir, name), {
    name, assistant_id: 'CE_GONE', default_country: 'AU', rate: { calls: 100, per_seconds: 1 }, concurrency: 5,
    retry: { attempts: 3, backoff_ms: 100, max_backoff_ms: 500 }, poll: { interval_seconds: 0.2, timeout_minutes: 1 },
    results: path.join(dir, `${name}.csv`),
  }, csvOf(phones));
  const d = await startDialing(t.rt, c);
  entry.stop = () => d.stop();
  await d.done();
  await d.stop();
  return { sim, t };
}

/** Dials (and polls) the campaign in this process, as a running `dialer worker` + `dialer poller` would. */
function dialLoop(t: TestRuntime, id: string): () => Promise<void> {
  const { rt } = t;
  const workers = new WorkerService(rt, { campaigns: [id], scanMs: 100 });
  const poller = new Poller({ store: rt.store, api: rt.api(), log: rt.log, queues: rt.queues, lockMs: rt.env.lockMs, tickMs: 50 });
  const stop = () => Promise.all([workers.close(), poller.close()]).then(() => undefined);
  open.find((o) => o.t === t)!.stop = stop;
  workers.start();
  poller.start();
  return stop;
}

async function dialUntilDone(t: TestRuntime, id: string): Promise<void> {
  const stop = dialLoop(t, id);
  await waitFor(async () => (await t.rt.store.getCampaign(id))?.state === 'done', `${id} to be done`, 20_000, 100);
  await stop();
}

const postCount = (sim: Simulator) => sim.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/calls')).length;

describe('dead letters', () => {
  it('lists dead letters with masked numbers; retry sends each at most once more, a second retry sends nothing', async () => {
    const phones = numbers(5, 61414100000);
    const { sim, t } = await deadLettered('dlq-once', phones);
    const { rt } = t;
    expect(postCount(sim)).toBe(5);

    const list = await listDeadLetters(rt, 'dlq-once');
    expect(list.map((x) => x.row).sort()).toEqual([1, 2, 3, 4, 5]);
    // Oldest first.
    expect(list.map((x) => x.at)).toEqual(list.map((x) => x.at).sort());
    for (const x of list) {
      expect(x).toMatchObject({ http_status: 404, attempts: 1, retried: false });
      expect(x.phone).toMatch(/^\+614•+\d{3}$/);
      expect(phones).not.toContain(x.phone);
      expect(x.reason).toMatch(/404|not found/i);
      expect(Date.parse(x.at)).toBeGreaterThan(Date.now() - 60_000);
    }

    // A number that may have been called (ledger ambiguous) is never sent again from the DLQ.
    const r5 = (await rt.store.getRow('dlq-once', 5))!;
    expect(await rt.store.ledgerMove('dlq-once', r5.phone, ['failed'], { s: 'ambiguous' })).toBeDefined();

    // --reason that matches nothing: nothing moves.
    expect(await retryDeadLetters(rt, 'dlq-once', { reason: 'no such error text' })).toMatchObject({ retried: [], skipped: [] });
    expect((await rt.store.getCampaign('dlq-once'))?.state).toBe('done');

    const r1 = await retryDeadLetters(rt, 'dlq-once', { reason: 'NOT FOUND' });
    expect(r1.retried.sort()).toEqual([1, 2, 3, 4]);
    expect(r1.skipped).toEqual([{ row: 5, why: 'the number may have been called (ledger ambiguous)' }]);
    // The rows left the DLQ, their numbers are dialable again, a job each waits; the finished campaign runs again.
    expect(await rt.redis.zrange(rt.store.keys.dlq('dlq-once'), 0, -1)).toEqual(['5']);
    expect((await rt.store.getCampaign('dlq-once'))?.state).toBe('running');
    expect(await rt.store.ledgerGet('dlq-once', phones[0]!)).toMatchObject({ s: 'pending', a: 1 });
    expect(await rt.queues.get('dlq-once').getJobCounts('wait')).toEqual({ wait: 4 });
    expect((await rt.store.getRow('dlq-once', 1))).toMatchObject({ dlq_retried: true });
    expect((await rt.store.getRow('dlq-once', 1))?.outcome).toBeUndefined();
    await dialUntilDone(t, 'dlq-once');

    // Still 404: each retried row was sent exactly once more and is a dead letter again, marked retried.
    const posts = postsByNumber(sim);
    for (const p of phones.slice(0, 4)) expect(posts.get(p)).toBe(2);
    expect(posts.get(phones[4]!)).toBe(1);
    const again = await listDeadLetters(rt, 'dlq-once');
    expect(again.filter((x) => x.retried).map((x) => x.row).sort()).toEqual([1, 2, 3, 4]);

    // The second retry sends nothing, with a worker running.
    const stop = dialLoop(t, 'dlq-once');
    const r2 = await retryDeadLetters(rt, 'dlq-once');
    expect(r2.retried).toEqual([]);
    expect(r2.skipped.filter((s) => s.why === 'already retried once').map((s) => s.row).sort()).toEqual([1, 2, 3, 4]);
    await sleep(1500);
    await stop();
    expect(postCount(sim)).toBe(9);
    expect((await rt.store.getCampaign('dlq-once'))?.state).toBe('done');
    expect(await rt.store.counts('dlq-once')).toMatchObject({ finished: 5, 'dead-letter': 5 });
  });

  it('a retried dead letter that now succeeds ends with its real outcome; the CLI lists, retries and purges', async () => {
    const phones = numbers(3, 61414200000);
    const { sim, t } = await deadLettered('dlq-cli', phones);
    const { rt } = t;
    const env = { REDIS_URL, DIALER_PREFIX: prefix };

    const listed = await runCli(['dlq', 'list', 'dlq-cli', '--json'], env);
    expect(listed.code, listed.stderr).toBe(0);
    const rows = JSON.parse(listed.stdout) as { row: number; phone: string; http_status: number }[];
    expect(rows.map((r) => r.row).sort()).toEqual([1, 2, 3]);
    expect(listed.stdout).not.toContain(phones[0]!);
    const human = await runCli(['dlq', 'list', 'dlq-cli'], env);
    expect(human.stdout).toMatch(/404/);

    sim.setOptions({ assistants: [] }); // the assistant exists now
    const retried = await runCli(['dlq', 'retry', 'dlq-cli', '--json'], env);
    expect(retried.code, retried.stderr).toBe(0);
    expect((JSON.parse(retried.stdout) as { retried: number[] }).retried.sort()).toEqual([1, 2, 3]);
    await dialUntilDone(t, 'dlq-cli');

    const recs = (await rt.store.getRows('dlq-cli', [1, 2, 3])) as RowRecord[];
    for (const r of recs) {
      expect(['completed', 'no-answer', 'busy', 'voicemail', 'failed']).toContain(r.outcome);
      expect(sim.calls.get(r.call_id!)?.phoneNumber).toBe(r.phone);
      expect(r.dlq_retried).toBe(true);
    }
    for (const p of phones) expect(postsByNumber(sim).get(p)).toBe(2);
    const out = await writeResults(rt.store, 'dlq-cli', path.join(dir, 'dlq-cli.csv'));
    const results = parseCsv<Record<string, string>>(await readFile(out.file, 'utf8'), { columns: true });
    expect(results.map((r) => r.outcome)).toEqual(recs.map((r) => r.outcome));
    expect(await rt.redis.zcard(rt.store.keys.dlq('dlq-cli'))).toBe(0);

    // Purge: the dead-letter set empties, the rows keep their outcome.
    const other = await deadLettered('dlq-purge', numbers(2, 61414300000));
    expect(await other.t.rt.redis.zcard(rt.store.keys.dlq('dlq-purge'))).toBe(2);
    const purged = await runCli(['dlq', 'purge', 'dlq-purge', '--json'], env);
    expect(purged.code, purged.stderr).toBe(0);
    expect(JSON.parse(purged.stdout)).toEqual({ campaigns: ['dlq-purge'], purged: 2 });
    expect(await rt.redis.zcard(rt.store.keys.dlq('dlq-purge'))).toBe(0);
    expect((await rt.store.getRow('dlq-purge', 1))?.outcome).toBe('dead-letter');
    // Without a campaign: every campaign's set (here the first test's, if it ran).
    const all = await purgeDeadLetters(rt);
    expect(all.campaigns).not.toContain('dlq-purge');
    for (const id of await rt.store.listCampaigns()) expect(await rt.redis.zcard(rt.store.keys.dlq(id))).toBe(0);
    expect(await purgeDeadLetters(rt)).toEqual({ campaigns: [], purged: 0 });

    const missing = await runCli(['dlq', 'list', 'no-such-campaign'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no campaign named "no-such-campaign"/);
  }, 120_000);
});
