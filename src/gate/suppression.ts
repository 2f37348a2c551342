import { stat } from 'node:fs/promises';
import type { Campaign } from '../config/campaign.js';
import type { Store } from '../store/store.js';
import { readNumbersFile } from './numbers-file.js';

/**
 * Numbers never to call: the global set in Redis (`dialer suppress …`, and every
 * number whose call showed an opt-out) and a campaign's own `suppression:` file.
 * Both are checked at load (the row ends `suppressed` and never gets a dial job)
 * and again by the gate immediately before each POST.
 */

export const SUPPRESSED_REASON = 'number is on the global suppression list';
export const FILE_SUPPRESSED_REASON = "number is on the campaign's suppression list";

/** Adds one E.164 number to the global set; true when it was new. */
export async function addToSuppression(store: Store, e164: string): Promise<boolean> {
  if (!e164) return false;
  return (await store.suppression.add([e164])) === 1;
}

/** Adds many numbers; returns how many were new. */
export async function addManyToSuppression(store: Store, e164s: string[]): Promise<number> {
  return store.suppression.add(e164s);
}

export async function removeFromSuppression(store: Store, e164s: string[]): Promise<number> {
  return store.suppression.remove(e164s);
}

export async function isSuppressed(store: Store, e164: string): Promise<boolean> {
  return store.suppression.has(e164);
}

/** Every number of the global set, sorted. */
export async function listSuppression(store: Store): Promise<string[]> {
  return store.suppression.members();
}

type FileEntry = { mtimeMs: number; size: number; numbers: Set<string>; checkedAt: number };
const files = new Map<string, Promise<FileEntry>>();
/** How long a read of the campaign file is trusted before its mtime is looked at again. */
const RECHECK_MS = 5_000;

/**
 * The numbers of a campaign's `suppression:` file, read once and again only when the
 * file changes. Throws (CSV_INVALID) when the file can't be read.
 */
export async function campaignSuppression(c: Pick<Campaign, 'suppressionPath' | 'default_country'>): Promise<Set<string> | undefined> {
  const file = c.suppressionPath;
  if (!file) return undefined;
  const key = `${file}|${c.default_country ?? ''}`;
  const cached = files.get(key);
  if (cached) {
    const e = await cached.catch(() => undefined);
    if (e && Date.now() - e.checkedAt < RECHECK_MS) return e.numbers;
    const s = await stat(file).catch(() => undefined);
    if (e && s && s.mtimeMs === e.mtimeMs && s.size === e.size) {
      e.checkedAt = Date.now();
      return e.numbers;
    }
  }
  const p = (async (): Promise<FileEntry> => {
    const s = await stat(file).catch(() => undefined);
    const r = await readNumbersFile(file, { country: c.default_country });
    return { mtimeMs: s?.mtimeMs ?? 0, size: s?.size ?? 0, numbers: new Set(r.numbers), checkedAt: Date.now() };
  })();
  files.set(key, p);
  p.catch(() => files.delete(key));
  return (await p).numbers;
}
