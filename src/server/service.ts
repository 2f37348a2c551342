import type { FastifyInstance } from 'fastify';
import { Dialer } from '../dialer.js';
import type { Runtime } from '../runtime.js';
import { buildServer, type ServerOptions } from './app.js';
import { ServerMetrics } from './metrics.js';

export interface ServeOptions extends ServerOptions {
  port: number;
  host: string;
  /** Also do in this process what `dialer worker` and `dialer poller` do (one container can do everything). */
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

/** `dialer serve`: the HTTP API, and with `withWorkers` the services of `dialer worker` and `dialer poller` beside it. */
export async function startServer(rt: Runtime, o: ServeOptions): Promise<RunningServer> {
  const metrics = o.metrics ?? new ServerMetrics(rt, o.workerStaleMs ?? 30_000);
  const dialer = new Dialer(rt, { workerScanMs: o.workerScanMs, pollerTickMs: o.pollerTickMs, onEventDelivered: (i) => metrics.events.observe(i) });
  if (o.withWorkers) {
    const api = rt.api();
    const before = api.onRequest;
    api.onRequest = (info) => {
      before?.(info);
      metrics.observe(info);
    };
  }
  const app = await buildServer(rt, { ...o, metrics, dialer });
  const address = await app.listen({ port: o.port, host: o.host });
  const workers = o.withWorkers ? dialer.startWorkers() : undefined;
  if (o.withWorkers) dialer.startPoller();
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
        await dialer.close(force);
      })();
      return closing;
    },
  };
}
