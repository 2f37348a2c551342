import { parseCampaign, type Campaign } from '../../src/config/campaign.js';
import { readEnv, type Env } from '../../src/config/env.js';
import { createLogger } from '../../src/log.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';

/** Our runtime on a bench Redis, talking to a simulator; quiet logs; nothing read from the caller's environment. */
export function benchRuntime(redisUrl: string, prefix: string, simUrl?: string, env: Partial<Env> = {}): Promise<Runtime> {
  return openRuntime(
    { ...readEnv({}), redisUrl, prefix, apiKey: 'sim-key', baseUrl: simUrl ?? 'http://127.0.0.1:1', logLevel: 'warn', ...env },
    { log: createLogger('warn') },
  );
}

/** A campaign on `contactsPath` (absolute), its results file in `dir`. */
export function benchCampaign(name: string, contactsPath: string, dir: string, extra: Record<string, unknown> = {}): Campaign {
  return parseCampaign(
    JSON.stringify({ name, assistant_id: `A-${name}`, contacts: contactsPath, default_country: 'AU', results: `${dir}/${name}.csv`, ...extra }),
    'bench.json',
    dir,
    dir,
  );
}

/** Env for a `dialer` CLI subprocess on the bench Redis and simulator. */
export function cliEnv(redisUrl: string, prefix: string, simUrl: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { REDIS_URL: redisUrl, DIALER_PREFIX: prefix, CALLEASE_API_KEY: 'sim-key', CALLEASE_BASE_URL: simUrl, LOG_LEVEL: 'error', ...extra };
}
