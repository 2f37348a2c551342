/**
 * Batched call lookups: many due calls in one GET /calls. The Callease
 * reference documents `GET /calls` as "retrieve call details" without saying
 * how it selects calls, so the batched form is a setting (off by default):
 *
 * - `ids`: one GET per chunk of at most `max` ids through a template holding
 *   `{ids}` (default `/calls?ids={ids}`; the ids URL-encoded, comma-joined).
 * - `list`: one GET that lists calls (default `/calls?created_after={created_after}`,
 *   the earliest due call's placing time less a minute), matched by id.
 *
 * Whatever the answer lacks is looked up on its own: a call missing from a
 * batch answer is never taken as ended.
 */
import { DialerError } from '../errors.js';

export type CallsBatchMode = 'off' | 'ids' | 'list';
export const CALLS_BATCH_MODES: readonly CallsBatchMode[] = ['off', 'ids', 'list'];

export interface CallsBatchOptions {
  mode: CallsBatchMode;
  /** Path and query template; `{ids}` (required in `ids` mode) and `{created_after}` are filled in. */
  path?: string;
  /** Most ids in one `ids` request. Default 50. */
  max?: number;
}

export interface CallsBatch {
  mode: CallsBatchMode;
  path: string;
  max: number;
}

export const DEFAULT_BATCH_PATHS: Readonly<Record<Exclude<CallsBatchMode, 'off'>, string>> = {
  ids: '/calls?ids={ids}',
  list: '/calls?created_after={created_after}',
};
export const DEFAULT_BATCH_MAX = 50;
/** Kept well under common URL limits (8 KB) for ids of up to ~60 characters. */
export const MAX_BATCH_MAX = 100;
/** A listing reaches this far before the earliest due call was placed (clock skew). */
export const LIST_LOOKBACK_MS = 60_000;

const OFF: CallsBatch = { mode: 'off', path: '', max: DEFAULT_BATCH_MAX };

/** Checks batch settings and fills in defaults; `source` names where they came from in errors. */
export function resolveCallsBatch(o: CallsBatchOptions | undefined, source = 'callsBatch'): CallsBatch {
  if (!o || o.mode === 'off') return OFF;
  if (!(CALLS_BATCH_MODES as readonly string[]).includes(o.mode)) {
    throw new DialerError('CONFIG_INVALID', `${source} mode must be one of ${CALLS_BATCH_MODES.join(', ')}, got ${JSON.stringify(o.mode)}`);
  }
  const path = o.path ?? DEFAULT_BATCH_PATHS[o.mode];
  if (!path.startsWith('/')) throw new DialerError('CONFIG_INVALID', `${source} path must start with '/' (got ${JSON.stringify(path)})`);
  if (o.mode === 'ids' && !path.includes('{ids}')) throw new DialerError('CONFIG_INVALID', `${source} path must contain '{ids}' in ids mode (got ${JSON.stringify(path)})`);
  if (o.mode === 'list' && path.includes('{ids}')) throw new DialerError('CONFIG_INVALID', `${source} path of list mode must not contain '{ids}' (got ${JSON.stringify(path)})`);
  const max = o.max ?? DEFAULT_BATCH_MAX;
  if (!Number.isInteger(max) || max < 1 || max > MAX_BATCH_MAX) throw new DialerError('CONFIG_INVALID', `${source} max must be a whole number from 1 to ${MAX_BATCH_MAX}, got ${max}`);
  return { mode: o.mode, path, max };
}

/** The request path for one batch: the ids asked for, and the earliest placing time among them (epoch ms). */
export function batchPath(b: CallsBatch, ids: readonly string[], earliestMs: number): string {
  const after = new Date(Math.max(0, earliestMs - LIST_LOOKBACK_MS)).toISOString();
  return b.path
    .split('{ids}').join(ids.map((id) => encodeURIComponent(id)).join(','))
    .split('{created_after}').join(encodeURIComponent(after));
}
