import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALL_OUTCOMES } from '../src/config/campaign.js';
import { OUTCOMES, RESULT_COLUMNS } from '../src/campaign/row.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { cleanupPrefix, postsByNumber, REDIS_URL, runCli, testPrefix, writeCampaign } from './helpers/dialer.js';

const prefix = testPrefix('cli');
let dir: string;
let sim: Simulator;
let env: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-cli-'));
  sim = await startSimulator({ callDurationMs: { min: 100, max: 400 }, seed: 7 });
  env = { CALLEASE_API_KEY: 'sim-key', CALLEASE_BASE_URL: sim.url, DIALER_PREFIX: prefix, REDIS_URL };
});
afterAll(async () => {
  await sim?.close();
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

type Expect = { kind: 'call'; e164: string } | { kind: 'rejected' } | { kind: 'duplicate'; of: number; e164: string };

/** 500 contacts: AU numbers in national format, US numbers with +1, some invalid, some repeated in another format. */
function contacts(): { csv: string; expected: Expect[] } {
  const lines = ['name,phone,city'];
  const expected: Expect[] = [];
  const invalid = ['12345', 'n/a', '+61 2 1234', '0412 00', 'call me'];
  for (let row = 1; row <= 500; row++) {
    let phone: string;
    if (row % 50 === 0) {
      phone = invalid[(row / 50) % invalid.length]!;
      expected.push({ kind: 'rejected' });
    } else if (row % 37 === 0) {
      // Same person as an earlier row, written in E.164 this time.
      const of = row - 30;
      const first = expected[of - 1]!;
      if (first.kind !== 'call') throw new Error(`row ${of} is not a call`);
      phone = first.e164;
      expected.push({ kind: 'duplicate', of, e164: first.e164 });
    } else if (row % 3 === 0) {
      const n = String(row).padStart(4, '0');
      phone = `+1 (212) 201-${n}`;
      expected.push({ kind: 'call', e164: `+1212201${n}` });
    } else {
      const n = String(row).padStart(6, '0');
      phone = `0412 ${n.slice(0, 3)} ${n.slice(3)}`;
      expected.push({ kind: 'call', e164: `+61412${n}` });
    }
    lines.push(`Person ${row},${phone},${row % 2 ? 'Sydney' : 'New York'}`);
  }
  return { csv: lines.join('\n') + '\n', expected };
}

const campaignYaml = (name: string, results: string) => ({
  name, assistant_id: 'CE_1', default_country: 'AU',
  rate: { calls: 200, per_seconds: 1 }, concurrency: 20,
  retry: { attempts: 3, backoff_ms: 100, max_backoff_ms: 1000 },
  poll: { interval_seconds: 0.2, timeout_minutes: 5 },
  results,
});

const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at .+:\d+:\d+/);

// Every test here is an independent subprocess (the error cases touch nothing the big run
// looks at): they run side by side to keep the file fast.
describe.concurrent('dialer CLI as a subprocess', () => {
  it('runs a 500-contact campaign to the end; status and export agree', async () => {
    const { csv, expected } = contacts();
    const results = path.join(dir, 'out', 'results.csv');
    const file = await writeCampaign(path.join(dir, 'big'), campaignYaml('clirun', results), csv);

    const run = await runCli(['run', file], env, 60_000);
    // `run` logs at warn level: nothing failed along the way (no error lines, no stack traces).
    expect(run.stderr).not.toMatch(/"level":(50|60)|^error:/m);
    noStack(run.stderr);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('finished campaign clirun: 500 rows, 500 final');

    // One results row per input row, in order, with valid outcomes.
    expect((await stat(results)).mode & 0o777).toBe(0o600);
    const rows = parseCsv<Record<string, string>>(await readFile(results, 'utf8'), { columns: true });
    expect(Object.keys(rows[0]!)).toEqual([...RESULT_COLUMNS]);
    expect(rows.map((r) => Number(r.row))).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    const callIds = new Set<string>();
    rows.forEach((r, i) => {
      const want = expected[i]!;
      expect(r.name).toBe(`Person ${i + 1}`);
      if (want.kind === 'call') {
        expect(r.phone).toBe(want.e164);
        expect(CALL_OUTCOMES, `row ${r.row}`).toContain(r.outcome);
        const call = sim.calls.get(r.call_id!);
        expect(call?.phoneNumber, `row ${r.row}`).toBe(want.e164);
        expect(r.outcome).toBe(call!.outcome);
        expect(r.attempts).toBe('1');
        callIds.add(r.call_id!);
      } else if (want.kind === 'duplicate') {
        expect(r).toMatchObject({ outcome: 'duplicate', error: `duplicate of row ${want.of}`, call_id: '' });
      } else {
        expect(r.outcome, `row ${r.row}`).toBe('rejected');
        expect(r.error).toMatch(/^phone: /);
      }
    });
    const valid = expected.filter((e): e is Extract<Expect, { kind: 'call' }> => e.kind === 'call').map((e) => e.e164);
    expect(callIds.size).toBe(valid.length);

    // Every valid number was POSTed exactly once; nothing else was.
    const posts = postsByNumber(sim);
    expect([...posts.keys()].sort()).toEqual([...valid].sort());
    expect([...posts.values()].every((n) => n === 1)).toBe(true);

    // status and export only read: run them side by side.
    const jsonl = path.join(dir, 'x.jsonl');
    const [status, exp] = await Promise.all([
      runCli(['status', 'clirun', '--json'], env, 30_000),
      runCli(['export', 'clirun', '--format', 'jsonl', '--out', jsonl], env, 30_000),
    ]);
    expect(status.code, status.stderr).toBe(0);
    const s = JSON.parse(status.stdout) as { state: string; total: number; pending: number; finished: number; outcomes: Record<string, number> };
    expect(s).toMatchObject({ campaign: 'clirun', state: 'done', total: 500, pending: 0, finished: 500 });
    expect(Object.keys(s.outcomes).sort()).toEqual([...OUTCOMES].sort());
    const tally: Record<string, number> = {};
    for (const r of rows) tally[r.outcome!] = (tally[r.outcome!] ?? 0) + 1;
    for (const o of OUTCOMES) expect(s.outcomes[o], o).toBe(tally[o] ?? 0);

    expect(exp.code, exp.stderr).toBe(0);
    expect(exp.stdout).toContain('wrote 500 rows');
    const lines = (await readFile(jsonl, 'utf8')).split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(500);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.map((p) => p.row)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(parsed.map((p) => p.outcome)).toEqual(rows.map((r) => r.outcome));
  });


  it('a bad campaign file: non-zero exit, the file and the field named, no stack trace', async () => {
    const file = path.join(dir, 'bad', 'bad.yaml');
    await writeCampaign(path.join(dir, 'bad'), 'name: bad\nassistant_id: CE_1\ncontacts: contacts.csv\nrate: {calls: "ten", per_seconds: 1}\n', 'phone\n+61499000001\n', 'bad.yaml');
    const r = await runCli(['run', file], env, 30_000);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toContain('rate.calls');
    noStack(r.stderr);
    // Nothing was dialed or loaded.
    expect(sim.requests.filter((x) => (x.body as { phoneNumber?: string } | undefined)?.phoneNumber === '+61499000001')).toHaveLength(0);
  });

  it('no Redis: one clear error line', async () => {
    const file = await writeCampaign(path.join(dir, 'noredis'), campaignYaml('noredis', path.join(dir, 'noredis.csv')), 'phone\n+61412000002\n');
    const r = await runCli(['run', file], { ...env, REDIS_URL: 'redis://127.0.0.1:1' }, 30_000);
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: cannot reach Redis at redis:\/\/127\.0\.0\.1:1\b/);
    noStack(r.stderr);
  });

  it('writes nothing to stdout on a bad campaign file (errors go to stderr only)', async () => {
    await writeFile(path.join(dir, 'empty.yaml'), '');
    const r = await runCli(['run', path.join(dir, 'empty.yaml')], env, 30_000);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('empty.yaml');
    noStack(r.stderr);
  });
});
