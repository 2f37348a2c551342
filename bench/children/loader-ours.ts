/**
 * Bench child: our loader on one CSV — full validation, E.164, zone resolution
 * (the load screen), dedup through the ledger, rows + jobs into Redis.
 * argv: redisUrl csvPath dir
 */
import { loadCampaign } from '../../src/loader/load.js';
import { createLoadScreen } from '../../src/gate/index.js';
import { benchCampaign, benchRuntime } from '../lib/dialer.js';
import { selfPeakRss, tell } from '../lib/proc.js';

const [redisUrl, csv, dir] = process.argv.slice(2) as [string, string, string];
const rt = await benchRuntime(redisUrl, 'bench');
const c = benchCampaign('load', csv, dir, { calling_hours: { preset: 'au-telemarketing' } });
await tell({ type: 'start' });
const t0 = performance.now();
const sum = await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => rt.clock.now(), screen: createLoadScreen(rt) }, c);
const ms = performance.now() - t0;
await rt.close();
await tell({ type: 'done', rows: sum.rows, ms, peakRss: selfPeakRss(), summary: sum });
