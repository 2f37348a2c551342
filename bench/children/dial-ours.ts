/**
 * Bench child: our dial path. Loads a campaign (untimed), then on "go" runs a
 * WorkerService — the `dialer worker` process's code: gate (consent, erasure,
 * suppression, window, frequency cap), GCRA slot, ledger step, POST, ledger
 * placed, row update, poll scheduled, dial recorded, audit — until "stop".
 * argv: redisUrl simUrl csv dir rate concurrency [gate|nogate] [auto|off|required (DIALER_DURABLE_DIALS)]
 * redisUrl `cluster:<host:port,...>` dials on a Redis Cluster with the spread
 * layout, `cluster-tagged:<host:port,...>` with the one-slot `{bench}` prefix.
 */
import { WorkerService } from '../../src/dialer/service.js';
import { loadCampaign } from '../../src/loader/load.js';
import { createDialGate, createLoadScreen } from '../../src/gate/index.js';
import type { DurableDials } from '../../src/store/durability.js';
import { benchCampaign, benchRuntime } from '../lib/dialer.js';
import { heard, selfPeakRss, tell } from '../lib/proc.js';

const [redisUrl, simUrl, csv, dir, rate, concurrency, gate, durable] = process.argv.slice(2) as [string, string, string, string, string, string, string?, DurableDials?];
const cluster = /^cluster(-tagged)?:(.*)$/.exec(redisUrl);
const rt = cluster
  ? await benchRuntime('redis://127.0.0.1:1', cluster[1] ? '{bench}' : 'bench', simUrl, { redisClusterNodes: cluster[2]!.split(','), ...(durable ? { durableDials: durable } : {}) })
  : await benchRuntime(redisUrl, 'bench', simUrl, durable ? { durableDials: durable } : {});
const c = benchCampaign('dial', csv, dir, { rate: { calls: Number(rate), per_seconds: 1 }, concurrency: Number(concurrency) });
const sum = await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => rt.clock.now(), screen: createLoadScreen(rt) }, c);
await tell({ type: 'loaded', jobs: sum.jobs });
await heard('go');
const svc = new WorkerService(rt, { campaigns: [c.name], scanMs: 200, gate: gate === 'nogate' ? undefined : createDialGate(rt) });
svc.start();
await heard('stop');
await svc.close();
await rt.close();
await tell({ type: 'done', peakRss: selfPeakRss() });
