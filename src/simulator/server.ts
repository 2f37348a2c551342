import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { callView } from './calls.js';
import { liveStats } from './live.js';
import { buildConfig, DEFAULT_OPTIONS } from './options.js';
import { drawRange, hashKey, mulberry32 } from './prng.js';
import { SlidingWindowLimiter } from './ratelimit.js';
import { RequestLog } from './reqlog.js';
import { rateLimited, route } from './routes.js';
import { fail, type Reply, type Request, type SimState } from './state.js';
import type { RequestLogEntry, Simulator, SimulatorOptions } from './types.js';

const MAX_BODY_BYTES = 1024 * 1024;

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  let options: SimulatorOptions = { ...DEFAULT_OPTIONS, ...opts };
  const state: SimState = {
    cfg: buildConfig(options),
    calls: new Map(),
    byNumber: new Map(),
    attempts: new Map(),
    actions: new Map(),
    limiter: new SlidingWindowLimiter(1000),
    globalRng: mulberry32(hashKey(options.seed ?? 1, 'global')),
  };
  if (options.logPath) await mkdir(path.dirname(path.resolve(options.logPath)), { recursive: true });
  const log = new RequestLog(options.logPath);
  const hung = new Set<ServerResponse>();
  const delayed = new Set<NodeJS.Timeout>();
  let closing: Promise<void> | null = null;

  function handle(req: IncomingMessage, res: ServerResponse, raw: Buffer | null, size: number): void {
    const now = Date.now();
    const url = req.url ?? '/';
    const method = req.method ?? 'GET';
    let body: unknown;
    let badJson = false;
    if (raw && size <= MAX_BODY_BYTES) {
      const text = raw.toString('utf8');
      try {
        body = JSON.parse(text);
      } catch {
        badJson = true;
        body = text.length > 1000 ? text.slice(0, 1000) : text;
      }
    }
    // body: undefined drops out of the JSONL line.
    const entry: RequestLogEntry = { time: new Date(now).toISOString(), t: now, method, path: url, body, status: 0 };
    const q = url.indexOf('?');
    let pathname = q === -1 ? url : url.slice(0, q);
    if (pathname.length > 1 && pathname.endsWith('/')) pathname = pathname.slice(0, -1);
    const request: Request = { method, pathname, query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)), body, badJson, now };
    const cfg = state.cfg;
    let out: Reply;
    const auth = req.headers.authorization;
    if (size > MAX_BODY_BYTES) out = fail(413, 'body too large');
    else if (auth === undefined || !/^bearer\s/i.test(auth) || auth.slice(7).trim() !== cfg.apiKey) out = fail(401, 'missing or invalid API key');
    else if (cfg.rateLimitAll && cfg.rateLimit > 0) {
      const r = state.limiter.tryAdmit(cfg.rateLimit, now);
      out = r.ok ? safeRoute(request) : rateLimited(cfg.rateLimit, r.retryAfterMs);
    } else out = safeRoute(request);
    finish(req, res, entry, out);
  }

  function safeRoute(request: Request): Reply {
    try {
      return route(state, request);
    } catch (e) {
      // A simulator bug or an odd URL (bad %-escape) must answer, not crash the host process.
      return fail(e instanceof URIError ? 400 : 500, e instanceof URIError ? 'malformed URL' : 'simulator error');
    }
  }

  function finish(req: IncomingMessage, res: ServerResponse, entry: RequestLogEntry, out: Reply): void {
    entry.status = out.kind ? 0 : out.status;
    if (out.callId) entry.call_id = out.callId;
    if (out.callIds) entry.call_ids = out.callIds;
    if (out.fault) entry.fault = out.fault;
    if (out.kind === 'hang') {
      // Logged at receive time: there will never be an answer to log.
      log.add(entry);
      hung.add(res);
      res.on('close', () => hung.delete(res));
      return;
    }
    const send = (): void => {
      log.add(entry);
      if (out.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      const payload = out.rawBody ?? (out.body === undefined ? '' : JSON.stringify(out.body));
      res.writeHead(out.status, {
        ...out.headers,
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(payload),
      });
      res.end(payload);
    };
    const lat = state.cfg.latency;
    let ms = lat ? drawRange(lat.min, lat.max, out.latencyDraw ?? state.globalRng()) : 0;
    const slow = state.cfg.lookupLatency;
    if (slow && entry.method === 'GET' && entry.path.startsWith('/calls')) ms += drawRange(slow.min, slow.max, state.globalRng());
    if (ms <= 0) return send();
    const timer = setTimeout(() => {
      delayed.delete(timer);
      send();
    }, ms);
    delayed.add(timer);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => handle(req, res, size === 0 ? null : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), size));
    // A client that goes away mid-body is not our error to report.
    req.on('error', () => undefined);
  });
  // Longer than undici's idle timeout, so a benchmark never races a server-side idle close.
  server.keepAliveTimeout = 10_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? '127.0.0.1';
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;

  return {
    url: `http://${urlHost}:${port}`,
    port,
    calls: state.calls,
    actions: state.actions,
    requests: log.entries,
    get options() {
      return options;
    },
    view(id, at) {
      const call = state.calls.get(id);
      return call ? callView(call, at ?? Date.now()) : undefined;
    },
    liveStats: () => liveStats(state.calls.values(), Date.now()),
    setOptions(patch) {
      const { host: _h, port: _p, logPath: _l, ...rest } = patch;
      const next: SimulatorOptions = { ...options, ...rest, faults: rest.faults ? { ...options.faults, ...rest.faults } : options.faults };
      state.cfg = buildConfig(next); // throws on bad input, leaving the old options in force
      options = next;
    },
    flushLog: () => log.flush(),
    close() {
      closing ??= (async () => {
        for (const t of delayed) clearTimeout(t);
        delayed.clear();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        hung.clear();
        await closed;
        await log.close();
      })();
      return closing;
    },
  };
}
