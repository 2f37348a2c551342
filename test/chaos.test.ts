/**
 * A short chaos run inside `npm test`: real simulator, Redis, worker and
 * poller processes, workers killed with SIGKILL mid-campaign; the verdict
 * comes from the simulator's request log (see test/chaos/verify.ts).
 * The full-size run is `npm run chaos`.
 */
import { describe, expect, it } from 'vitest';
import { runChaos } from './chaos/harness.js';
import { formatFigures } from './chaos/verify.js';

describe('chaos: workers killed mid-campaign', () => {
  it('never calls a number twice and never loses a row', async () => {
    const r = await runChaos({ contacts: 200, kills: 4, rate: 40, simRateLimit: 25, killEveryMs: { min: 500, max: 1500 }, timeoutMs: 75_000 });
    const f = r.figures;
    // On failure the figures and the kept logs tell what happened.
    expect(r.failures, `${formatFigures(f)}\nlogs: ${r.dir}`).toEqual([]);
    expect(f.workerKills).toBeGreaterThanOrEqual(4);
    expect(f.duplicateCalls).toBe(0);
    expect(f.rowsLost).toBe(0);
    expect(f.outcomeMismatches).toBe(0);
    // The run did meet trouble: faults were injected and calls placed.
    expect(f.faults.post5xx + f.faults.hang + f.faults.drop + f.faults.rateLimited429).toBeGreaterThan(0);
    expect(f.callsCreated).toBeGreaterThan(150);
    expect(f.outcomes.rejected).toBe(2);
    expect(f.outcomes.duplicate).toBe(2);
  }, 120_000);
});
