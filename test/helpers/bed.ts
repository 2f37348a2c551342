import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { cleanupPrefix, testPrefix, type Dialing, type TestRuntime } from './dialer.js';

export interface TestBed {
  /** This file's Redis key prefix. */
  prefix: string;
  /** A temporary directory of this file (set in beforeAll). */
  readonly dir: string;
  /** Runtimes (and their dialing) a test opened: stopped and closed after each test. */
  open: { t: TestRuntime; d?: Dialing }[];
}

/**
 * The set-up most dialing test files share: a key prefix and a temp dir of
 * their own, runtimes closed after each test, keys and files gone at the end.
 */
export function useTestBed(name: string): TestBed {
  let dir = '';
  const bed: TestBed = { prefix: testPrefix(name), open: [], get dir() { return dir; } };
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), `dialer-${name}-`));
  });
  afterEach(async () => {
    for (const o of bed.open.splice(0)) {
      await o.d?.stop();
      await o.t.rt.close();
    }
  });
  afterAll(async () => {
    await cleanupPrefix(bed.prefix);
    await rm(dir, { recursive: true, force: true });
  });
  return bed;
}
