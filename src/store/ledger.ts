import { compactLedgerPatch, parseLedgerEntry } from './ledger-patch.js';
import type { Keys } from './keys.js';
import { LEDGER_BEGIN, LEDGER_CLAIM, LEDGER_MOVE } from './ledger-scripts.js';
import { defineScript, type Script } from './lua.js';
import type { RedisClient } from './redis.js';
import type { ArchiveStore } from './archive.js';

/** Where a contact stands with the Callease API. The truth about "was this person dialed". */
export type LedgerState = 'pending' | 'sending' | 'placed' | 'failed' | 'ambiguous';
export interface LedgerEntry {
  s: LedgerState;
  /** Row that owns the number in this campaign. */
  r: number;
  /** POSTs started. */
  a: number;
  /** Time of the last state change (ms). */
  t: number;
  /** Time the last POST started (ms). */
  sent?: number;
  /** Call id, once known. */
  id?: string;
  /** Calls placed for this contact (first call and redials). */
  n?: number;
  /** Last error. */
  e?: string;
  /** Token of the dial attempt that stepped into `sending` (a resent step finds its own). */
  tok?: string;
  /** Redials made after an ambiguous dial found no call. */
  amb?: number;
  /** Ids of the calls placed for this contact so far (reconciliation never adopts one of them for a later POST). */
  ids?: string[];
}

/** Every call id the entry knows: `ids`, which is left out while it would only repeat `id`. */
export function knownIds(e: LedgerEntry | undefined): string[] {
  return e?.ids ?? (e?.id ? [e.id] : []);
}

/** The entry's known call ids with `id` added (when known and new). */
export function knownWith(e: LedgerEntry | undefined, id: string | undefined): string[] {
  const ids = knownIds(e);
  return id && !ids.includes(id) ? [...ids, id] : ids;
}

/** The dial ledger: one entry per number of a campaign (Store's ledger methods). */
export class LedgerStore {
  private readonly claimScript: Script;
  private readonly beginScript: Script;
  private readonly moveScript: Script;

  constructor(private readonly redis: RedisClient, private readonly keys: Keys, private readonly archive: ArchiveStore) {
    this.claimScript = defineScript(redis, 'dialer_ledger_claim', 4, LEDGER_CLAIM);
    this.beginScript = defineScript(redis, 'dialer_ledger_begin', 8, LEDGER_BEGIN);
    this.moveScript = defineScript(redis, 'dialer_ledger_move', 4, LEDGER_MOVE);
  }

  /** Claims numbers for rows at load time; per pair, 0 = this row owns it, else the owning row. */
  async claimNumbers(id: string, pairs: [string, number][], now: number): Promise<number[]> {
    if (pairs.length === 0) return [];
    return (await this.claimScript(...this.ledgerKeys(id), now, ...pairs.flat())) as number[];
  }

  async ledgerGet(id: string, number: string): Promise<LedgerEntry | undefined> {
    let v = await this.redis.hget(this.keys.ledger(id), number);
    if (!v && (await this.archive.isArchived(id)) && (await this.archive.warm(id)) > 0) v = await this.redis.hget(this.keys.ledger(id), number);
    return v ? parseLedgerEntry(v) : undefined;
  }

  /**
   * Atomically steps the number and its row into `sending`. `ok: false` says
   * why not: 'dialed' (the person may already have been called), 'final',
   * 'missing', or the campaign state that forbids dialing now.
   */
  async ledgerBegin(id: string, number: string, now: number, token: string, leaseMs: number): Promise<{ ok: boolean; entry?: LedgerEntry; why: string }> {
    const [ok, v, why] = (await this.beginScript(...this.ledgerBeginKeys(id), number, now, token, leaseMs)) as [number, string, string];
    return { ok: ok === 1, entry: v ? parseLedgerEntry(v) : undefined, why };
  }

  /** KEYS of LEDGER_BEGIN (also run inside the dial's first step, store/dial.ts). */
  ledgerBeginKeys(id: string): string[] {
    const k = this.keys;
    return [k.ledger(id), k.rows(id), k.campaign(id), k.counts(id), k.open(id), k.ledgerSending(id), k.ledgerCounts(id), k.callIds(id)];
  }

  /** Moves an entry to a new state only from one of `from`; returns the new entry or undefined. */
  async ledgerMove(id: string, number: string, from: LedgerState[], patch: Partial<Record<keyof LedgerEntry, unknown>>): Promise<LedgerEntry | undefined> {
    const v = (await this.moveScript(...this.ledgerKeys(id), number, from.join(','), JSON.stringify(compactLedgerPatch(patch)))) as string | null;
    return v ? parseLedgerEntry(v) : undefined;
  }

  /** The ledger and its indexes, as the ledger scripts take them in KEYS (also DIAL_PLACED, store/dial.ts). */
  ledgerKeys(id: string): [string, string, string, string] {
    const k = this.keys;
    return [k.ledger(id), k.ledgerSending(id), k.ledgerCounts(id), k.callIds(id)];
  }

  /** Every ledger entry of a campaign (HSCAN; the sending entries, counts and call ids are in `indexes`). */
  async *ledgerEntries(id: string): AsyncGenerator<[string, LedgerEntry]> {
    if (await this.archive.isArchived(id)) await this.archive.warm(id);
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.ledger(id), cursor, 'COUNT', 1000);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) yield [flat[i]!, parseLedgerEntry(flat[i + 1]!)];
    } while (cursor !== '0');
  }
}
