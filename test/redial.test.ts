import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useSimulators } from './helpers/sim-http.js';
import { campaignIn, cleanupPrefix, postsByNumber, startDialing, testPrefix, withRuntime } from './helpers/dialer.js';

const prefix = testPrefix('redial');
afterAll(() => cleanupPrefix(prefix));
const simulator = useSimulators();

describe('redials', () => {
  it('redials a no-answer contact up to max and no more; other outcomes are not redialed', async () => {
    const sim = await simulator({ callDurationMs: { min: 50, max: 150 }, outcomeFor: { '+61412000001': 'no-answer', '+61412000002': 'completed', '+61412000003': 'busy' } });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'redial-'));
    const c = await campaignIn(dir, {
      name: 'redial-a', assistant_id: 'A1', default_country: 'AU', rate: { calls: 100, per_seconds: 1 },
      poll: { interval_seconds: 0.1, timeout_minutes: 1 },
      redial: { outcomes: ['no-answer'], max: 2, after_minutes: 0.005 },
      results: path.join(dir, 'results.csv'),
    }, 'name,phone\nAnn,0412 000 001\nBob,0412 000 002\nCat,0412 000 003\n');
    await withRuntime(prefix, sim, async ({ rt }) => {
      const d = await startDialing(rt, c);
      try {
        await d.done(30_000);
      } finally {
        await d.stop();
      }
      const posts = postsByNumber(sim);
      expect(posts.get('+61412000001')).toBe(3); // first call + max 2 redials
      expect(posts.get('+61412000002')).toBe(1);
      expect(posts.get('+61412000003')).toBe(1); // busy is not in redial.outcomes
      const ann = await rt.store.getRow(c.name, 1);
      expect(ann?.outcome).toBe('no-answer');
      expect(ann?.attempts).toBe(3);
      const calls = [...sim.calls.values()].filter((x) => x.phoneNumber === '+61412000001').sort((a, b) => a.createdAt - b.createdAt);
      expect(ann?.call_id).toBe(calls.at(-1)?.id); // the row shows the final attempt
      expect((await rt.store.counts(c.name)).finished).toBe(3);
    });
  });
});
