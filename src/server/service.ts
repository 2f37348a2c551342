import type { FastifyInstance } from 'fastify';
import { WorkerService } from '../dialer/service.js';
import { describeError } from '../errors.js';
import { Poller } from '../poller/poller.js';
import { writeResults } from '../results/export.js';
import type { Runtime } from '../runtime.js';
import { buildServer, type ServerOptions } from './app.js';
import { ServerMetrics } from './metrics.js';
import { createDialGate } from '../gate/index.js';

export interface ServeOptions extends ServerOptions {
  port: number;
  host: string;
  /** Also dial and poll in this process (one container can do everything). */
  withWorkers?: boolean;
  /** Scan/tick periods of the in-process worker service and poller (ms); tests shorten them. */
  workerScanMs?: number;
  pollerTickMs?: number;
}

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  metrics: ServerMetrics;
  /** First call drains (in-flight dials finish); `force` aborts them. */
  close(force?: boolean): Promise<void>;
}

/** `dialer serve`: the HTTP API, and with `withWorkers` a WorkerService and a Poller beside it. */
export async function startServer(rt: Runtime, o: ServeOptions): Promise<RunningServer> {
  const metrics = o.metrics ?? new ServerMetrics(rt, o.workerStaleMs ?? 30_000);
  let workers: WorkerService | undefined;
  let poller: Poller | undefined;
  if (o.withWorkers) {
    const api = rt.api();
    const before = api.onRequest;
    api.onRequest = (info) => {
      before?.(info);
      metrics.observe(info);
    };
    const onCampaignFinished = (id: string) => void writeFinished(rt, id);
    workers = new WorkerService(rt, { scanMs: o.workerScanMs, onCampaignFinished, gate: createDialGate(rt) });
    poller = new Poller({ store: rt.store, api, log: rt.log, queues: rt.queues, lockMs: rt.env.lockMs, tickMs: o.pollerTickMs, onCampaignFinished });
  }
  const app = await buildServer(rt, { ...o, metrics });
  const address = await app.listen({ port: o.port, host: o.host });
  workers?.start();
  poller?.start();
  rt.log.info({ url: address, withWorkers: Boolean(o.withWorkers), worker: workers?.id }, 'dialer API listening');
  let closing: Promise<void> | undefined;
  return {
    app,
    url: address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '[::1]'),
    metrics,
    close(force = false) {
      if (closing && !force) return closing;
      closing = (async () => {
        await app.close();
        await Promise.all([workers?.close(force), poller?.close()]);
      })();
      return closing;
    },
  };
}

/** Like `dialer worker`: a finished campaign's results file is written where its config says. */
async function writeFinished(rt: Runtime, id: string): Promise<void> {
  const info = await rt.store.getCampaign(id);
  if (!info) return;
  try {
    const r = await writeResults(rt.store, id, info.campaign.resultsPath);
    rt.log.info({ campaign: id, file: r.file, rows: r.rows }, 'campaign finished; results written');
  } catch (e) {
    rt.log.error({ campaign: id, err: describeError(e) }, 'could not write results');
  }
}
