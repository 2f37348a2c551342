import type { RowRecord } from '../campaign/row.js';
import type { Keys } from './keys.js';
import { defineScript, type Script } from './lua.js';
import { ERASE_NUMBER, RELEASE_CLAIM } from './privacy-scripts.js';
import type { RedisClient } from './redis.js';
import type { ArchiveStore } from './archive.js';
import { findNeedles, type Found } from './scan.js';
import { decodeRow, encodeRow } from './row-codec.js';
import { decodeAuditEvent } from './audit-codec.js';

export type { Found };

/** What erasing one number from one campaign did (see ERASE_NUMBER). */
export interface NumberErasure {
  /** Rows whose personal fields were blanked. */
  erased: number;
  /** Rows not dialed yet that now end `suppressed`. */
  stopped: string[];
  /** Rows whose call is in flight: their number stays until it ends. */
  deferred: string[];
  /** Ledger entries deleted. */
  ledger: number;
  deadLetters: number;
  /** The erasure ended the campaign's last open row. */
  finished: boolean;
  callIds: string[];
}

export interface PendingErasure {
  /** The set member, for `erasureDone`. */
  member: string;
  campaign: string;
  row: number;
}

const CHUNK = 1000;

/**
 * The privacy side of the dialer's Redis state: the erased set (keyed hashes
 * only), erasures waiting for a call to end, the retention purge and the
 * append-only audit stream.
 */
export class PrivacyStore {
  private readonly eraseFn: Script;
  private readonly releaseClaimFn: Script;

  constructor(private readonly redis: RedisClient, private readonly keys: Keys, private readonly archive: ArchiveStore) {
    this.eraseFn = defineScript(redis, 'dialer_erase_number', 11, ERASE_NUMBER);
    this.releaseClaimFn = defineScript(redis, 'dialer_release_claim', 4, RELEASE_CLAIM);
  }

  // ---- erased numbers -------------------------------------------------------

  async isErased(hash: string): Promise<boolean> {
    return (await this.redis.sismember(this.keys.erased, hash)) === 1;
  }

  /** Membership of many keyed hashes in one round trip (SMISMEMBER). */
  async erasedMany(hashes: string[]): Promise<boolean[]> {
    if (hashes.length === 0) return [];
    return (await this.redis.smismember(this.keys.erased, ...hashes)).map((v) => v === 1);
  }

  /** Adds keyed hashes to the erased set; returns how many were new. */
  async addErased(hashes: string[]): Promise<number> {
    if (hashes.length === 0) return 0;
    return this.redis.sadd(this.keys.erased, ...hashes);
  }

  async erasedHashes(): Promise<string[]> {
    return this.redis.smembers(this.keys.erased);
  }

  async erasedCount(): Promise<number> {
    return this.redis.scard(this.keys.erased);
  }

  /** Erases one number from the given rows of a campaign, its ledger entry and dead letters, in one step. */
  async eraseNumber(id: string, e164: string, nowIso: string, rows: string[]): Promise<NumberErasure> {
    const k = this.keys;
    const r = (await this.eraseFn(k.rows(id), k.counts(id), k.campaign(id), k.ledger(id), k.dlq(id), k.open(id), k.rowKeys(id), k.waiting(id), k.ledgerSending(id), k.ledgerCounts(id), k.callIds(id), e164, nowIso, ...rows)) as [number, string[], string[], number, number, number, string[]];
    const [erased, stopped, deferred, ledger, deadLetters, finished, callIds] = r;
    return { erased, stopped, deferred, ledger, deadLetters, finished: finished === 1, callIds };
  }

  /** Gives back a row's ledger claim when it is still the untouched one its load made. */
  async releaseClaim(id: string, phone: string, row: number): Promise<void> {
    const k = this.keys;
    await this.releaseClaimFn(k.ledger(id), k.ledgerSending(id), k.ledgerCounts(id), k.callIds(id), phone, row);
  }

  /** Keys under the prefix (ours and BullMQ's) whose name, fields or values contain any of `needles`. */
  async findText(needles: string[]): Promise<Found[]> {
    return findNeedles(this.redis, this.keys.scanPatterns, needles);
  }

  // ---- erasures waiting for a call to end -----------------------------------

  async deferErasure(id: string, rows: (string | number)[]): Promise<void> {
    if (rows.length === 0) return;
    await this.redis.sadd(this.keys.erasePending, ...rows.map((row) => `${id}|${row}`));
  }

  async pendingErasures(): Promise<PendingErasure[]> {
    return (await this.redis.smembers(this.keys.erasePending)).map((member) => {
      const i = member.lastIndexOf('|');
      return { member, campaign: member.slice(0, i), row: Number(member.slice(i + 1)) };
    });
  }

  async erasureDone(member: string): Promise<void> {
    await this.redis.srem(this.keys.erasePending, member);
  }

  // ---- retention ------------------------------------------------------------

  async isPurged(id: string): Promise<boolean> {
    return (await this.redis.hexists(this.keys.campaign(id), 'purged_at')) === 1;
  }

  async markPurged(id: string, atIso: string): Promise<void> {
    await this.redis.hset(this.keys.campaign(id), 'purged_at', atIso);
  }

  /** Replaces every row of a campaign by `stub(row)`, a chunk at a time. */
  async stubRows(id: string, stub: (rec: RowRecord) => RowRecord): Promise<void> {
    await this.archive.warm(id);
    const key = this.keys.rows(id);
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(key, cursor, 'COUNT', CHUNK);
      cursor = next;
      const stubs: string[] = [];
      for (let i = 0; i < flat.length; i += 2) stubs.push(flat[i]!, encodeRow(stub(decodeRow(flat[i + 1]!))));
      if (stubs.length) await this.redis.hset(key, ...stubs);
    } while (cursor !== '0');
  }

  /** Deletes the keys of a campaign that hold numbers and nothing worth keeping: ledger (and its indexes), dead letters, dial-rate set. */
  async dropNumberKeys(id: string): Promise<void> {
    const k = this.keys;
    await this.redis.del(k.ledger(id), k.ledgerSending(id), k.ledgerCounts(id), k.callIds(id), k.dlq(id), k.dials(id), k.dialsBefore(id), k.rowKeys(id));
  }

  /** Takes the retention purge's turn (one worker at a time, for `ms`). */
  async takeRetentionTurn(holder: string, ms: number): Promise<boolean> {
    return (await this.redis.set(this.keys.retentionLock, holder, 'PX', ms, 'NX')) === 'OK';
  }

  // ---- audit stream ---------------------------------------------------------

  /** Time (ms) of the last audit event (a stream id is a time); undefined when there is none. */
  async lastAuditMs(id: string): Promise<number | undefined> {
    let last: [string, string[]][] = await this.redis.xrevrange(this.keys.audit(id), '+', '-', 'COUNT', 1);
    if (!last[0]) last = (await this.archive.auditBlock(id, (await this.archive.auditBlockNames(id)).at(-1) ?? '')).slice(-1);
    const ms = last[0] ? Number(last[0][0].split('-')[0]) : NaN;
    return Number.isFinite(ms) ? ms : undefined;
  }

  /** Audit events up to stream id `end` (inclusive), oldest first, read in chunks. */
  async *auditEntries(id: string, end = '+'): AsyncGenerator<[string, Record<string, string>]> {
    let start = '-';
    // The archived events first (store/archive.ts); the stream holds only later ones.
    for (const name of await this.archive.auditBlockNames(id)) {
      for (const [eid, flat] of await this.archive.auditBlock(id, name)) {
        if (end !== '+' && compareIds(eid, end) > 0) return;
        yield [eid, decodeAuditEvent(eid, flat)];
        start = `(${eid}`;
      }
    }
    for (;;) {
      const batch = await this.redis.xrange(this.keys.audit(id), start, end, 'COUNT', CHUNK);
      for (const [eid, flat] of batch) {
        yield [eid, decodeAuditEvent(eid, flat)];
      }
      if (batch.length < CHUNK) return;
      start = `(${batch[batch.length - 1]![0]}`;
    }
  }

  /**
   * Streams can't be edited in place: the audit stream is copied, entry by
   * entry with the same ids (so times and order stay), without `field`, and the
   * copy renamed over it in one step — only if nothing was appended meanwhile,
   * else the new entries are copied too. A crash mid-copy leaves the original.
   */
  async dropAuditField(id: string, field: string): Promise<void> {
    const key = this.keys.audit(id);
    const tmp = `${key}:rewrite`;
    // No archive run may pack the stream while it is copied; its archived events are copied first.
    await this.archive.hold(id);
    const strip = (flat: string[]) => {
      const kept: string[] = [];
      for (let i = 0; i < flat.length; i += 2) if (flat[i] !== field) kept.push(flat[i]!, flat[i + 1]!);
      if (kept.length === 0) kept.push('type', 'redacted');
      return kept;
    };
    for (let round = 0; round < 10; round++) {
      await this.redis.del(tmp);
      const blocks = await this.archive.auditBlockNames(id);
      for (const name of blocks) {
        const entries = await this.archive.auditBlock(id, name);
        const m = this.redis.multi();
        for (const [eid, flat] of entries) m.xadd(tmp, eid, ...strip(flat));
        if (entries.length) await m.exec();
      }
      let start = '-';
      let lastId = '';
      for (;;) {
        const entries = await this.redis.xrange(key, start, '+', 'COUNT', CHUNK);
        if (entries.length === 0) break;
        const m = this.redis.multi();
        for (const [eid, flat] of entries) m.xadd(tmp, eid, ...strip(flat));
        await m.exec();
        lastId = entries[entries.length - 1]![0];
        start = `(${lastId}`;
        if (entries.length < CHUNK) break;
      }
      if (!lastId && blocks.length === 0) return; // empty stream: nothing to rewrite
      if (await this.archive.swapAudit(id, tmp, lastId, blocks)) return;
    }
    await this.redis.del(tmp);
    throw new Error(`audit stream of ${id} keeps changing; its masked numbers were left in place`);
  }
}

/** Compares two stream ids (`ms-seq`). */
function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs = 0] = b.split('-').map(Number) as [number, number?];
  return am - bm || as - bs;
}
