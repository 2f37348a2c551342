import Fastify, { type FastifyInstance } from 'fastify';
import { Dialer } from '../dialer.js';
import type { Runtime } from '../runtime.js';
import { authorized, bearer, BOARD_PATH, modeOf, secretMatches, sessionCookie, unauthorized, type AuthMode } from './auth.js';
import { registerBoard } from './board.js';
import { campaignPageRoutes } from './campaign-page.js';
import { campaignRoutes } from './campaigns.js';
import { checkRoute } from './check.js';
import { sendError } from './errors.js';
import { ServerMetrics } from './metrics.js';
import { loadStatic, PAGE_CSP } from './static.js';
import { WebhookHandler } from './webhooks.js';
import { within } from '../util.js';

export interface ServerOptions {
  /** DIALER_API_TOKEN: required by every route but health and the page's static files. */
  token: string;
  /** DIALER_WEBHOOK_SECRET: lets Callease post events without the API token. */
  webhookSecret?: string;
  /** Largest contacts upload (bytes). */
  uploadLimitBytes: number;
  /** Where results files of campaigns created over HTTP go (when a worker writes them). */
  resultsDir: string;
  /** A worker heartbeat older than this doesn't count for /readyz (ms). */
  workerStaleMs?: number;
  /** Receives every Callease API request this process makes (in-process workers). */
  metrics?: ServerMetrics;
  /** Loads uploaded contact lists (`startServer` passes the one its workers use). */
  dialer?: Dialer;
}

const pub = { config: { auth: 'public' as AuthMode } };

/** The HTTP API of `dialer serve`, without listening (tests inject or listen on port 0). */
export async function buildServer(rt: Runtime, o: ServerOptions): Promise<FastifyInstance> {
  if (!o.token) throw new Error('an API token is required');
  const auth = { token: o.token, webhookSecret: o.webhookSecret };
  const metrics = o.metrics ?? new ServerMetrics(rt, o.workerStaleMs ?? 30_000);
  const webhooks = new WebhookHandler(rt);
  const files = loadStatic();
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, trustProxy: false });

  app.setErrorHandler((e, _req, reply) => sendError(reply, rt.log, e));
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` }));

  app.addHook('onRequest', async (req, reply) => {
    const mode = modeOf(req);
    // A link to the board may carry ?token=: trade it for the session cookie and drop it from the address bar.
    const q = (req.query as Record<string, unknown>).token;
    if (mode === 'board' && req.method === 'GET' && typeof q === 'string' && secretMatches(q, o.token)) {
      const url = new URL(req.url, 'http://x');
      url.searchParams.delete('token');
      return reply.header('set-cookie', sessionCookie(req, o.token)).redirect(url.pathname + url.search, 302);
    }
    if (!authorized(req, mode, auth)) return unauthorized(reply, mode);
  });
  app.addHook('onResponse', async (req, reply) => {
    rt.log.debug({ method: req.method, path: req.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'http');
  });

  app.get('/healthz', pub, async () => ({ status: 'ok' }));
  app.get('/readyz', pub, async (_req, reply) => {
    const r = await readiness(rt, o.workerStaleMs ?? 30_000);
    return reply.code(r.ready ? 200 : 503).send(r);
  });

  for (const [route, f] of files) {
    app.get(route, pub, async (_req, reply) =>
      reply.type(f.type).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff')
        .header('content-security-policy', PAGE_CSP).header('referrer-policy', 'no-referrer').send(f.body));
  }

  /** The status page trades the token it holds for the board's cookie (HttpOnly, scoped to /admin/queues). */
  app.post('/session', async (req, reply) => reply.header('set-cookie', sessionCookie(req, bearer(req)!)).code(204).send());
  app.delete('/session', pub, async (req, reply) => reply.header('set-cookie', sessionCookie(req, null)).code(204).send());

  app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.render()));

  app.post('/webhooks/callease', { config: { auth: 'webhook' as AuthMode }, bodyLimit: 256 * 1024 }, async (req, reply) => {
    const r = await webhooks.handle(req.body);
    metrics.webhooks.inc({ matched: r.match ? 'yes' : 'no' });
    return reply.code(202).send({ received: true, matched: Boolean(r.match), nudged: r.nudged });
  });

  await checkRoute(app, rt, { uploadLimitBytes: o.uploadLimitBytes, resultsDir: o.resultsDir });
  await campaignRoutes(app, rt, { uploadLimitBytes: o.uploadLimitBytes, resultsDir: o.resultsDir, dialer: o.dialer ?? new Dialer(rt), page: files.get('/campaign.html') });
  await campaignPageRoutes(app, rt);
  await registerBoard(app, rt);
  return app;
}

export interface Readiness {
  ready: boolean;
  /** `ok`, or `unreachable: <why>`. */
  redis: string;
  /** Workers whose heartbeat is recent. */
  workers: number;
}

/** Ready = Redis answers and at least one worker heartbeat is recent (someone will dial what is uploaded). */
export async function readiness(rt: Runtime, staleMs: number): Promise<Readiness> {
  try {
    if ((await within(rt.store.server.ping(), 1000, 'timeout')) === 'timeout') throw new Error('no answer within 1 s');
  } catch (e) {
    return { ready: false, redis: `unreachable: ${(e as Error).message}`, workers: 0 };
  }
  const now = Date.now();
  const workers = await rt.store.server.liveWorkers(now - staleMs);
  return { ready: workers > 0, redis: 'ok', workers };
}

export { BOARD_PATH };
