import type { Keys } from '../store/keys.js';

/**
 * Redis keys only the HTTP service writes. They follow the same prefix rule as
 * src/store/keys.ts (where they belong once the service settles).
 */
export const serverKeys = (keys: Keys) => ({
  /** Capped list of raw webhook deliveries, newest first. */
  webhooks: `${keys.prefix}:webhooks`,
  /** Held while a contacts upload of one campaign streams in (one at a time). */
  uploadLock: (id: string) => `${keys.prefix}:c:${id}:upload-lock`,
});
