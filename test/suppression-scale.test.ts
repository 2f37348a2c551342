/**
 * Suppression at register scale: the global and erased sets are asked of
 * Redis (membership), never copied, so a number added now stops the next
 * dial and the next row the load screens; `suppress import` streams a file
 * in SADD batches and reports bad lines with file, line and column.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RowRecord } from '../src/campaign/row.js';
import { createDialGate, createLoadScreen } from '../src/gate/index.js';
import { addToSuppression } from '../src/gate/suppression.js';
import { importSuppression } from '../src/gate/suppression-import.js';
import { markErased } from '../src/privacy/hash.js';
import type { Simulator } from '../src/simulator/index.js';
import { campaignIn, cleanupPrefix, REDIS_URL, runCli, startDialing, testPrefix, waitFor, withRuntime } from './helpers/dialer.js';
import { useSimulators } from './helpers/sim-http.js';

const prefix = testPrefix('suppression-scale');
afterAll(() => cleanupPrefix(prefix));
const simulator = useSimulators();
const dirOf = () => mkdtemp(path.join(os.tmpdir(), 'suppression-scale-'));
const HASH_KEY = 'test-hash-key-suppression-scale-0123456789';

/** POST /calls the simulator received: number and receive order. */
const posts = (sim: Simulator) =>
  sim.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/calls')).map((r) => (r.body as { phoneNumber?: string }).phoneNumber);

describe('membership, no copy', () => {
  it('a number added while a campaign dials is not POSTed: the next dial asks Redis (real worker, simulator)', async () => {
    const sim = await simulator({ callDurationMs: { min: 20, max: 40 } });
    const dir = await dirOf();
    // 4 calls/s, one at a time: a few hundred ms between dials, so the add lands between two of them.
    const c = await campaignIn(dir, { name: 'supp-live', assistant_id: 'A1', default_country: 'AU', rate: { calls: 4, per_seconds: 1 }, concurrency: 1, poll: { interval_seconds: 0.1, timeout_minutes: 1 }, results: path.join(dir, 'r.csv') },
      'name,phone\nAnn,+61298765601\nBob,+61298765602\nCat,+61298765603\nDan,+61298765604\nEve,+61298765605\nFay,+61298765606\n');
    const late = ['+61298765603', '+61298765605', '+61298765606'];
    await withRuntime(prefix, sim, async ({ rt }) => {
      const d = await startDialing(rt, c);
      try {
        expect(d.load).toMatchObject({ accepted: 6, jobs: 6 });
        await waitFor(() => posts(sim).length >= 1, 'the first POST');
        const before = posts(sim).length;
        for (const n of late) await addToSuppression(rt.store, n);
        await d.done(30_000);
        const after = posts(sim).slice(before);
        // At most the one dial already past its gate when the numbers were added; none after it.
        const lateHits = after.filter((n) => late.includes(n!));
        expect(lateHits.length).toBeLessThanOrEqual(1);
        if (lateHits.length) expect(after.indexOf(lateHits[0])).toBe(0);
        expect(posts(sim)).toContain('+61298765604');
      } finally {
        await d.stop();
      }
      const rs = (await rt.store.getRows(c.name, [3, 5, 6])).map((r) => r!);
      expect(rs.filter((r) => r.outcome === 'suppressed' && /global suppression/.test(r.error ?? '')).length).toBeGreaterThanOrEqual(2);
      expect(rs.slice(1).map((r) => r.outcome)).toEqual(['suppressed', 'suppressed']);
    });
  }, 60_000);

  it('the load screen and the gate see a number added or erased a moment ago (no 30 s copy); a prefetched chunk answers both sets', async () => {
    await withRuntime(`${prefix}:screen`, undefined, async ({ rt }) => {
      const dir = await dirOf();
      const c = await campaignIn(dir, { name: 'supp-screen', assistant_id: 'A1', default_country: 'AU' }, 'name,phone\nAnn,+61298765701\n');
      const screen = createLoadScreen(rt);
      const gate = createDialGate(rt);
      const rec = (row: number, phone: string): RowRecord => ({ row, name: 'x', phone });
      expect((await screen(c, rec(1, '+61298765701'))).outcome).toBeUndefined();
      await addToSuppression(rt.store, '+61298765701');
      expect(await screen(c, rec(1, '+61298765701'))).toMatchObject({ outcome: 'suppressed', error: expect.stringMatching(/global suppression/) });
      expect(await gate(c, rec(1, '+61298765701'))).toMatchObject({ action: 'skip', outcome: 'suppressed' });

      await markErased(rt.store, ['+61298765702'], HASH_KEY);
      expect(await screen(c, rec(2, '+61298765702'))).toMatchObject({ outcome: 'suppressed', error: 'number erased on request' });
      expect(await gate(c, rec(2, '+61298765702'))).toMatchObject({ action: 'skip', outcome: 'suppressed', reason: 'number erased on request' });

      // One chunk: both sets answered by the prefetch; a number added after it is caught by the gate.
      const chunk = [rec(1, '+61298765701'), rec(2, '+61298765702'), rec(3, '+61298765703'), rec(4, '+61298765704')];
      await screen.prefetch!(c, chunk);
      await addToSuppression(rt.store, '+61298765704');
      const out = await Promise.all(chunk.map((r) => screen(c, r)));
      expect(out.map((r) => r.outcome)).toEqual(['suppressed', 'suppressed', undefined, undefined]);
      expect(await gate(c, rec(4, '+61298765704'))).toMatchObject({ action: 'skip', outcome: 'suppressed' });
      const go = await gate(c, rec(3, '+61298765703'));
      expect(go.action).toBe('go');
    }, { hashKey: HASH_KEY });
  });
});

describe('suppress import (streamed)', () => {
  it('25,000 numbers in SADD batches: counts added, already, invalid with file:line:column; bad lines do not stop it', async () => {
    const dir = await dirOf();
    const file = path.join(dir, 'dnc.csv');
    const lines = ['name,Number'];
    for (let i = 0; i < 25_000; i++) lines.push(`p${i},04${String(20_000_000 + i).padStart(8, '0')}`);
    lines.splice(101, 0, 'bad,banana'); // line 102
    lines.splice(20_001, 0, 'bad2,12'); // line 20,002
    lines.push('dup,0420000000', 'empty,');
    await writeFile(file, lines.join('\n') + '\n');
    const env = { DIALER_PREFIX: `${prefix}:import`, REDIS_URL, LOG_LEVEL: 'error' };
    await withRuntime(env.DIALER_PREFIX, undefined, async ({ rt }) => void (await addToSuppression(rt.store, '+61420000001')));
    const rejects = path.join(dir, 'rejects.csv');
    const r = await runCli(['suppress', 'import', file, '--country', 'AU', '--rejects', rejects], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/imported 25001 number\(s\) from .* \(column "Number"\): 24999 new, 2 already listed, 2 not phone numbers/);
    expect(r.stderr).toContain(`${file}:102: column "Number": "••••••" is not a phone number`);
    expect(r.stderr).toContain(`${file}:20002: column "Number":`);
    // Batches validated on the worker thread may answer out of line order.
    const rej = (await readFile(rejects, 'utf8')).trim().split('\n');
    expect(rej[0]).toBe('line,column,value,reason');
    expect(rej.slice(1).sort()).toEqual(['102,Number,banana,not a phone number', '20002,Number,12,too short']);
    await withRuntime(env.DIALER_PREFIX, undefined, async ({ rt }) => {
      // Again in-process, with the worker thread and small batches: same counts.
      const again = await importSuppression(rt.store, file, { country: 'AU', batch: 1000, phoneWorker: true });
      expect(again).toMatchObject({ column: 'Number', numbers: 25_001, added: 0, already: 25_001, invalid: 2, empty: 1, invalid_lines: [{ line: 102 }, { line: 20_002 }] });
      expect(await rt.store.suppression.size()).toBe(25_000);
    });
  }, 180_000);
});
