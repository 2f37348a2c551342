/**
 * Bench child: the raw stack's loader — csv-parse straight into queue.addBulk
 * in chunks of 1000, no validation, no dedup, the record as the job's data.
 * argv: redisUrl csvPath
 */
import { createReadStream } from 'node:fs';
import { Queue } from 'bullmq';
import { parse } from 'csv-parse';
import { Redis } from 'ioredis';
import { selfPeakRss, tell } from '../lib/proc.js';

const [redisUrl, csv] = process.argv.slice(2) as [string, string];
const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
const queue = new Queue('raw', { connection, prefix: 'raw' });
await tell({ type: 'start' });
const t0 = performance.now();
let rows = 0;
let chunk: { name: string; data: Record<string, string> }[] = [];
for await (const rec of createReadStream(csv).pipe(parse({ columns: true }))) {
  chunk.push({ name: 'dial', data: rec as Record<string, string> });
  rows++;
  if (chunk.length === 1000) {
    await queue.addBulk(chunk);
    chunk = [];
  }
}
if (chunk.length) await queue.addBulk(chunk);
const ms = performance.now() - t0;
await queue.close();
await connection.quit();
await tell({ type: 'done', rows, ms, peakRss: selfPeakRss() });
