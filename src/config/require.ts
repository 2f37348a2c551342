import { validateBaseUrl } from '../api/safety.js';
import { DialerError } from '../errors.js';
import type { Env } from './env.js';

/**
 * What a long-running command that calls the Callease API (`worker`, `poller`,
 * `serve --with-workers`) checks before it starts, so a missing or unsafe
 * setting stops it at once with the variable's name instead of failing on the
 * first campaign. There is no fallback key: the demo passes the simulator's.
 */
export function requireCalleaseSettings(env: Pick<Env, 'apiKey' | 'baseUrl' | 'allowInsecureHttp'>, command: string): void {
  if (!env.apiKey?.trim()) {
    throw new DialerError('CONFIG_INVALID', `CALLEASE_API_KEY is not set; \`dialer ${command}\` calls the Callease API and does not start without your API key (see .env.example)`);
  }
  try {
    validateBaseUrl(env.baseUrl, { allowInsecureHttp: env.allowInsecureHttp });
  } catch (e) {
    throw new DialerError('CONFIG_INVALID', `CALLEASE_BASE_URL: ${(e as Error).message}`);
  }
}
