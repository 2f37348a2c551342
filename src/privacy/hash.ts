import { createHmac } from 'node:crypto';
import { DialerError } from '../errors.js';
import type { Store } from '../store/store.js';

/**
 * Keyed hashes of phone numbers. An erased number must stay recognisable (so
 * it is never dialed again) without being stored: a plain SHA-256 of an
 * E.164 number is reversed by trying every number of a country in minutes,
 * an HMAC with a secret key is not.
 */

/** Hex HMAC-SHA256 of an E.164 number under `key`. */
export function numberHash(e164: string, key: string): string {
  return createHmac('sha256', key).update(e164, 'utf8').digest('hex');
}

/** The key, or a clear error saying how to set it. */
export function requireHashKey(key: string | undefined, what = 'erasing a number'): string {
  if (!key) {
    throw new DialerError(
      'CONFIG_INVALID',
      `DIALER_HASH_KEY is not set: ${what} needs a secret key for the keyed hash of erased numbers ` +
        '(set the same long random value, e.g. `openssl rand -hex 32`, for every dialer command and worker)',
    );
  }
  return key;
}

/** True when `e164` was erased on request (`dialer forget`). */
export async function isErased(store: Store, e164: string, key: string): Promise<boolean> {
  return store.privacy.isErased(numberHash(e164, key));
}

/** Adds numbers to the erased set; returns how many were new. */
export async function markErased(store: Store, e164s: string[], key: string): Promise<number> {
  return store.privacy.addErased(e164s.map((n) => numberHash(n, key)));
}
