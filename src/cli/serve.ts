import path from 'node:path';
import { Option, type Command } from 'commander';
import type { Env } from '../config/env.js';
import { requireCalleaseSettings } from '../config/require.js';
import { DialerError } from '../errors.js';
import { checkRedisDurability, openRuntimeWaiting } from '../runtime.js';
import { startServer } from '../server/service.js';
import { onSignals } from './signals.js';

interface ServeCliOptions {
  port?: number;
  host?: string;
  withWorkers?: boolean;
  uploadLimitMb?: number;
  resultsDir?: string;
  workerStaleSeconds?: number;
  webhookSecret?: string;
}

/** How long `serve` waits for Redis at start before giving up. */
const REDIS_WAIT_MS = 5 * 60_000;

const DEFAULTS = { port: 8080, host: '127.0.0.1', uploadLimitMb: 200, resultsDir: 'results', workerStaleSeconds: 30 };

/** An empty variable (`PORT=` in a sourced .env) means "the default", not 0 (commander then hands the action ''). */
const number = (name: string, ok: (n: number) => boolean, what: string) => (v: string): number | undefined => {
  if (v.trim() === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || !ok(n)) throw new DialerError('USAGE', `${name} must be ${what}, got "${v}"`);
  return n;
};
const positive = (name: string) => number(name, (n) => n > 0, 'a positive number');

/**
 * `dialer serve`: the HTTP API (status page, uploads, control, results,
 * metrics, Bull Board); `--with-workers` also dials and polls in this process.
 * Server settings come from flags or their environment variables (commander
 * reads them); the rest from `env` (readEnv).
 */
export function serveCommand(program: Command, env: Env): Command {
  return program
    .command('serve')
    .description('run the HTTP API and status page (SIGTERM drains, a second signal forces)')
    .addOption(new Option('--port <n>', `port to listen on (default ${DEFAULTS.port})`).env('PORT').argParser(number('--port', (n) => Number.isInteger(n) && n >= 0 && n <= 65535, 'a port number (0-65535)')))
    .addOption(new Option('--host <addr>', `address to listen on (default ${DEFAULTS.host}; 0.0.0.0 in containers)`).env('HOST'))
    .option('--with-workers', 'also run a dial worker and a poller in this process')
    .addOption(new Option('--upload-limit-mb <n>', `largest contacts upload (default ${DEFAULTS.uploadLimitMb})`).env('DIALER_UPLOAD_LIMIT_MB').argParser(positive('--upload-limit-mb')))
    .addOption(new Option('--results-dir <dir>', `results files of campaigns created over HTTP (default ${DEFAULTS.resultsDir})`).env('DIALER_RESULTS_DIR'))
    .addOption(new Option('--worker-stale-seconds <n>', `/readyz needs a worker heartbeat this recent (default ${DEFAULTS.workerStaleSeconds})`).env('DIALER_WORKER_STALE_SECONDS').argParser(positive('--worker-stale-seconds')))
    // Secrets only from the environment: a command line is visible to every user of the machine.
    .addOption(new Option('--webhook-secret <secret>').env('DIALER_WEBHOOK_SECRET').hideHelp())
    .action(async (given: ServeCliOptions) => {
      const num = (v: unknown, def: number) => (typeof v === 'number' ? v : def);
      const o = {
        port: num(given.port, DEFAULTS.port),
        host: given.host?.trim() || DEFAULTS.host,
        uploadLimitMb: num(given.uploadLimitMb, DEFAULTS.uploadLimitMb),
        resultsDir: given.resultsDir?.trim() || DEFAULTS.resultsDir,
        workerStaleSeconds: num(given.workerStaleSeconds, DEFAULTS.workerStaleSeconds),
        withWorkers: Boolean(given.withWorkers),
        webhookSecret: given.webhookSecret || undefined,
      };
      if (!env.apiToken) throw new DialerError('CONFIG_INVALID', 'DIALER_API_TOKEN is not set; `dialer serve` does not run without a token (e.g. DIALER_API_TOKEN=$(openssl rand -hex 32))');
      if (o.withWorkers) requireCalleaseSettings(env, 'serve --with-workers');
      // Started before Redis (compose, Kubernetes): wait for it rather than exit and be restarted.
      const rt = await openRuntimeWaiting(env, REDIS_WAIT_MS);
      try {
        if (env.apiToken.length < 16) rt.log.warn('DIALER_API_TOKEN is shorter than 16 characters; use a long random token');
        if (o.withWorkers) await checkRedisDurability(rt);
        const server = await startServer(rt, {
          port: o.port,
          host: o.host,
          withWorkers: o.withWorkers,
          token: env.apiToken,
          webhookSecret: o.webhookSecret,
          uploadLimitBytes: Math.round(o.uploadLimitMb * 1024 * 1024),
          resultsDir: path.resolve(o.resultsDir),
          workerStaleMs: o.workerStaleSeconds * 1000,
        });
        process.stderr.write(`dialer API on ${server.url} (status page: ${server.url}/)${o.withWorkers ? ' with in-process workers' : ''}\n`);
        await new Promise<void>((resolve) => {
          const off = onSignals((count) => void server.close(count > 1).finally(() => {
            off();
            resolve();
          }), rt.log);
        });
      } finally {
        await rt.close();
      }
    });
}
