import type { CalleaseClient, CallDetails } from '../api/client.js';
import { ApiError } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * What a batched lookup says about one call:
 * - `found`: the answer carried it;
 * - `missing`: it did not (or the answer was unusable): look it up on its own,
 *   never take it as ended;
 * - `failed`: the batch GET failed the way a lookup of this call would have
 *   (429, 5xx after got's retries, network): handled as that lookup's failure,
 *   without a burst of per-call GETs into an API that just said no.
 */
export type Lookup = { kind: 'found'; call: CallDetails } | { kind: 'missing' } | { kind: 'failed'; error: unknown };

export interface Wanted {
  callId: string;
  /** When the call was placed (epoch ms). */
  placedAt: number;
}

/** After this many unusable answers in a row the process stops batching (the API does not offer the form). */
const UNUSABLE_LIMIT = 5;
/** An answer carrying none of at least this many calls asked for counts as unusable. */
const EMPTY_COUNTS_FROM = 5;

/** Batched GET /calls for due calls (api/batch.ts), with the per-call GET as the fallback. */
export class BatchLookup {
  private unusable = 0;
  private disabled = false;

  constructor(private readonly api: CalleaseClient, private readonly log: Logger) {}

  get enabled(): boolean {
    return this.api.callsBatch.mode !== 'off' && !this.disabled;
  }

  /** Looks up every wanted call, `max` per GET in ids mode, one listing in list mode; chunks run at once. */
  async lookup(wanted: readonly Wanted[], signal: AbortSignal): Promise<Map<string, Lookup>> {
    const out = new Map<string, Lookup>();
    const ids = [...new Set(wanted.map((w) => w.callId))];
    if (ids.length === 0) return out;
    const placed = new Map(wanted.map((w) => [w.callId, w.placedAt]));
    const size = this.api.callsBatch.mode === 'ids' ? this.api.callsBatch.max : ids.length;
    const chunks: string[][] = [];
    for (let i = 0; i < ids.length; i += size) chunks.push(ids.slice(i, i + size));
    await Promise.all(chunks.map(async (chunk) => {
      const earliest = Math.min(...chunk.map((id) => placed.get(id)!));
      let calls: CallDetails[];
      try {
        calls = await this.api.getCalls(chunk, earliest, { signal });
      } catch (e) {
        if (signal.aborted || failsEveryLookup(e)) {
          for (const id of chunk) out.set(id, { kind: 'failed', error: e });
          return;
        }
        // A refusal or a malformed answer: the form may not be served here; each call on its own.
        this.noteUnusable(`batched GET /calls failed: ${e instanceof Error ? e.message : String(e)}`);
        for (const id of chunk) out.set(id, { kind: 'missing' });
        return;
      }
      const byId = new Map(calls.map((c) => [c.id, c]));
      let found = 0;
      for (const id of chunk) {
        const call = byId.get(id);
        if (call) found++;
        out.set(id, call ? { kind: 'found', call } : { kind: 'missing' });
      }
      if (found === 0 && chunk.length >= EMPTY_COUNTS_FROM) this.noteUnusable(`a batched GET /calls answer carried none of the ${chunk.length} calls asked for`);
      else if (found > 0) this.unusable = 0;
    }));
    return out;
  }

  private noteUnusable(why: string): void {
    this.unusable++;
    this.log.warn({ why, inARow: this.unusable }, 'batched call lookup unusable; these calls are looked up one by one');
    if (this.unusable >= UNUSABLE_LIMIT && !this.disabled) {
      this.disabled = true;
      this.log.warn({ answers: this.unusable }, 'batched call lookups switched off for this process (CALLEASE_CALLS_BATCH): the API does not seem to offer them');
    }
  }
}

/** A failure a per-call GET of the same call would very likely meet too (rate limit, server or network trouble). */
function failsEveryLookup(e: unknown): boolean {
  if (!(e instanceof ApiError)) return true;
  if (e.status === undefined) return true; // transport
  return e.status === 429 || e.status >= 500;
}
