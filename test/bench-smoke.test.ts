/**
 * Keeps the benchmarks from rotting: `bench/run.ts` at a tiny scale (every
 * bench, all at once, from source, nothing recorded) must print the table with
 * a number in the `ours` column of every row of every bench. The figures mean
 * nothing at this size; `npm run bench` is the real run.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BENCHES } from '../bench/lib/args.js';
import { REPO_ROOT } from './helpers/dialer.js';

function runBench(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'bench/run.ts'), '--no-record', '--no-build', '--parallel'], {
      cwd: REPO_ROOT,
      env: { ...process.env, BENCH_SCALE: '0.001' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('bench smoke', () => {
  it('prints one table with numbers for every bench', async () => {
    const r = await runBench();
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const rows = r.stdout
      .split('\n')
      .filter((l) => /^\| \d+ /.test(l))
      .map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
    // Rows are labelled "<n> <bench>", n = 1.. in the order of BENCHES.
    const numbers = new Set(rows.map((c) => Number(c[0]!.split(' ')[0])));
    BENCHES.forEach((b, i) => expect(numbers.has(i + 1), `no row for bench ${b}\n${r.stdout}`).toBe(true));
    expect(rows.length).toBeGreaterThanOrEqual(12);
    for (const c of rows) {
      expect(c[1], c.join(' | ')).not.toBe('FAILED');
      expect(c[2], `ours of "${c[0]} / ${c[1]}"`).toMatch(/^-?[\d,]+(\.\d+)?( \S+)?$/);
    }
    // The baselines measured in the same run are there too.
    expect(rows.filter((c) => /^-?[\d,]+(\.\d+)?( \S+)?$/.test(c[3]!)).length).toBeGreaterThanOrEqual(8);
  }, 180_000);
});
