/**
 * Dial jobs store no attempts or backoff (32 B a queued contact): the worker
 * gives each job the campaign's retries as it takes it, and BullMQ still
 * retries with our backoff. Against an API that refuses connections
 * (nothing sent), each contact uses exactly `retry.attempts` attempts and
 * ends a dead letter.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { campaignIn, openTestRuntime, startDialing, type Dialing, type TestRuntime } from './helpers/dialer.js';
import { useTestBed } from './helpers/bed.js';

const bed = useTestBed('dialretry');
const { prefix, open } = bed;

describe('dial retries without per-job options', () => {
  it('a connection refused is retried up to retry.attempts, then dead-lettered; the job hash carries no retry options', async () => {
    // No simulator: the runtime's API is http://127.0.0.1:1, which refuses connections.
    const t = await openTestRuntime(prefix);
    const entry: { t: TestRuntime; d?: Dialing } = { t };
    open.push(entry);
    const name = 'refused';
    const c = await campaignIn(path.join(bed.dir, name), {
      name, assistant_id: 'CE_1', default_country: 'AU', rate: { calls: 200, per_seconds: 1 }, concurrency: 5,
      retry: { attempts: 3, backoff_ms: 50, max_backoff_ms: 100 }, results: path.join(bed.dir, name, 'results.csv'),
    }, 'name,phone\nAnn,0412 000 001\nBob,0412 000 002\n');
    const queue = t.rt.queues.get(name);
    entry.d = await startDialing(t.rt, c);
    await entry.d.done(30_000);
    for (const row of [1, 2]) {
      expect(await t.rt.store.getRow(name, row)).toMatchObject({ outcome: 'dead-letter', attempts: 3 });
      // The failed job stays (removeOnFail: a week); what it stored is the row and its id, no attempts or backoff.
      const opts = JSON.parse((await t.rt.redis.hget(`${prefix}:${queue.name}:${name}-${row}`, 'opts'))!) as Record<string, unknown>;
      expect(opts).not.toHaveProperty('backoff');
      expect(opts.attempts ?? 0).toBe(0);
    }
    for await (const [, e] of t.rt.store.ledgerEntries(name)) expect(e).toMatchObject({ s: 'failed', a: 3 });
  }, 40_000);
});
