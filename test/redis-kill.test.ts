/**
 * Redis dies mid-campaign (SIGKILL) and comes back on the same port and data
 * directory (AOF, appendfsync always). The worker and poller processes must
 * ride out the outage (ioredis reconnects, BullMQ resumes) and the campaign
 * must finish with the same guarantees: nobody called twice, one results row
 * per input row, outcomes as the simulator recorded them.
 */
import { describe, expect, it } from 'vitest';
import { runChaos } from './chaos/harness.js';
import { formatFigures } from './chaos/verify.js';

describe('Redis killed mid-campaign', () => {
  it('the dialer survives the outage and keeps every guarantee', async () => {
    const r = await runChaos({
      contacts: 200, kills: 0, redisKills: 2, redisDownMs: 2000, appendfsync: 'always',
      rate: 20, simRateLimit: 15, timeoutMs: 90_000,
    });
    const f = r.figures;
    // Includes "workerN exited by itself" when a process died with Redis.
    expect(r.failures, `${formatFigures(f)}\nlogs: ${r.dir}`).toEqual([]);
    expect(f.redisKills).toBe(2);
    expect(f.duplicateCalls).toBe(0);
    expect(f.rowsLost).toBe(0);
    expect(f.outcomeMismatches).toBe(0);
    expect(f.callsCreated).toBeGreaterThan(150);
  }, 150_000);
});
