/**
 * Bench child: the raw stack's suppression import — a file of pre-normalised
 * E.164 numbers read line by line (readline) into pipelined SADD batches of
 * 10,000 (4 in flight) with plain ioredis: no CSV, no validation.
 * argv: redisUrl key file
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { selfPeakRss, tell } from '../lib/proc.js';

const [redisUrl, key, file] = process.argv.slice(2) as [string, string, string];
const redis = new Redis(redisUrl);
await tell({ type: 'start' });
const t0 = performance.now();
let numbers = 0;
let added = 0;
const sending = new Set<Promise<void>>();
let batch: string[] = [];
const send = () => {
  const p: Promise<void> = redis.sadd(key, ...batch).then((n) => void (added += n)).finally(() => sending.delete(p));
  sending.add(p);
  batch = [];
};
for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
  if (!line) continue;
  batch.push(line);
  numbers++;
  if (batch.length === 10_000) {
    send();
    while (sending.size > 4) await Promise.race(sending);
  }
}
if (batch.length) send();
await Promise.all(sending);
const ms = performance.now() - t0;
await redis.quit();
await tell({ type: 'done', numbers, added, ms, peakRss: selfPeakRss() });
