/**
 * Bench child: the raw stack's dial path — a BullMQ worker whose processor is
 * one got.post to POST /calls, nothing else (no ledger, no rows, no gate, no
 * rate limiter unless `limit` is given, in which case BullMQ's own
 * fixed-window limiter is used). Jobs are added (untimed) unless `noadd`.
 * With `ledger` (a diagnostic of bench 2), the least a dialer that never
 * calls a number twice must write: one script before the POST that claims the
 * number in a ledger hash (HSETNX; a number claimed before is not sent), one
 * HSET after it with the call id, on a connection of their own.
 * argv: redisUrl simUrl csv concurrency queue [limit|''] [noadd|''] [ledger]
 */
import { Queue, Worker } from 'bullmq';
import { parse } from 'csv-parse/sync';
import got from 'got';
import { Redis } from 'ioredis';
import { parsePhoneNumber } from 'libphonenumber-js/max';
import { readFile } from 'node:fs/promises';
import { heard, selfPeakRss, tell } from '../lib/proc.js';

const [redisUrl, simUrl, csv, concurrency, name, limit, noadd, ledger] = process.argv.slice(2) as [string, string, string, string, string, string?, string?, string?];
const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
const store = ledger === 'ledger' ? new Redis(redisUrl) : undefined;
store?.defineCommand('claim', { numberOfKeys: 1, lua: "return redis.call('HSETNX', KEYS[1], ARGV[1], 'sending')" });
const claim = store ? (phone: string) => (store as unknown as { claim(k: string, p: string): Promise<number> }).claim('raw:ledger', phone) : undefined;
if (noadd !== 'noadd') {
  const queue = new Queue(name, { connection, prefix: 'raw' });
  // Setup, untimed: the raw worker gets numbers already in E.164.
  const recs = parse<{ name: string; phone: string; city: string }>(await readFile(csv), { columns: true });
  const jobs = recs.map((r) => ({ name: 'dial', data: { name: r.name, phone: parsePhoneNumber(r.phone, 'AU').number, city: r.city } }));
  for (let i = 0; i < jobs.length; i += 1000) await queue.addBulk(jobs.slice(i, i + 1000));
  await queue.close();
  await tell({ type: 'loaded', jobs: jobs.length });
}
await heard('go');
const worker = new Worker<{ name: string; phone: string; city: string }>(
  name,
  async (job) => {
    if (claim && (await claim(job.data.phone)) !== 1) return 'already';
    const call = await got
      .post(`${simUrl}/calls`, {
        json: { assistant_id: `A-${name}`, name: job.data.name, phoneNumber: job.data.phone, customVariables: [{ key: 'city', value: job.data.city }] },
        headers: { authorization: 'Bearer sim-key' },
      })
      .json<{ id?: string }>();
    if (store) await store.hset('raw:ledger', job.data.phone, `placed ${call.id ?? ''}`);
    return call;
  },
  { connection, prefix: 'raw', concurrency: Number(concurrency), limiter: limit ? { max: Number(limit), duration: 1000 } : undefined },
);
await tell({ type: 'started' });
await heard('stop');
await worker.close();
await store?.quit();
await connection.quit();
await tell({ type: 'done', peakRss: selfPeakRss() });
