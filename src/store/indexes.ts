import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import type { LedgerState } from './store.js';

/** The campaign hash field that says the campaign's indexes were kept from its first row on (store/index-lua.ts). */
export const INDEXED_FIELD = 'indexes';
/** The index layout written by this version. */
export const INDEX_VERSION = '1';

/**
 * Reads of the small per-campaign indexes kept by the Lua scripts that write
 * rows and ledger entries (store/index-lua.ts): each read costs the same at a
 * thousand rows and at ten million. A campaign created before the indexes
 * existed has no `indexes` field in its hash; callers then fall back to a scan.
 */
export class IndexesStore {
  constructor(private readonly redis: RedisClient, private readonly keys: Keys) {}

  /** Whether the campaign's indexes are complete (kept since the campaign was created). */
  async indexed(id: string): Promise<boolean> {
    return (await this.redis.hget(this.keys.campaign(id), INDEXED_FIELD)) === INDEX_VERSION;
  }

  /** Marks a campaign created just now as indexed from its first row on. */
  async markIndexed(id: string): Promise<void> {
    await this.redis.hset(this.keys.campaign(id), INDEXED_FIELD, INDEX_VERSION);
  }

  /**
   * Rows not final whose status is 'waiting' (put off by the gate) and the
   * earliest `next_at` among them (the row's own ISO text), from the waiting index.
   */
  async waiting(id: string): Promise<{ count: number; next: string | null }> {
    const [count, first] = await Promise.all([
      this.redis.zcard(this.keys.waiting(id)),
      this.redis.zrangebyscore(this.keys.waiting(id), '-inf', '(+inf', 'LIMIT', 0, 1),
    ]);
    if (count === 0 || first.length === 0) return { count, next: null };
    const raw = await this.redis.hget(this.keys.rows(id), first[0]!);
    const next = raw ? ((JSON.parse(raw) as { next_at?: string }).next_at ?? null) : null;
    return { count, next };
  }

  /** Ledger entries per state, from the counts the ledger scripts keep. */
  async ledgerCounts(id: string): Promise<Partial<Record<LedgerState, number>>> {
    const h = await this.redis.hgetall(this.keys.ledgerCounts(id));
    return Object.fromEntries(Object.entries(h).map(([s, n]) => [s, Math.max(0, Number(n))]));
  }

  /** Numbers whose ledger entry is `sending`, with when the POST started (ms), oldest first, at most `limit`. */
  async sending(id: string, limit = 1000, olderThanMs = Infinity): Promise<{ number: string; sentMs: number }[]> {
    const max = Number.isFinite(olderThanMs) ? `(${olderThanMs}` : '+inf';
    const flat = await this.redis.zrangebyscore(this.keys.ledgerSending(id), '-inf', max, 'WITHSCORES', 'LIMIT', 0, limit);
    const out: { number: string; sentMs: number }[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ number: flat[i]!, sentMs: Number(flat[i + 1]) });
    return out;
  }

  /** The row of each campaign whose ledger entry's current call is `callId` (one HGET per campaign, sent together). */
  async rowOfCall(ids: string[], callId: string): Promise<{ campaign: string; row: number } | undefined> {
    if (ids.length === 0) return undefined;
    const res = await Promise.all(ids.map((id) => this.redis.hget(this.keys.callIds(id), callId)));
    const i = res.findIndex((v) => typeof v === 'string' && v !== '');
    return i < 0 ? undefined : { campaign: ids[i]!, row: Number(res[i]) };
  }

  /** Rows of the campaign in the poll schedule (the per-campaign copy of the schedule's members). */
  async polls(id: string): Promise<number> {
    return this.redis.zcard(this.keys.pollsOf(id));
  }

  /** Every index key of a campaign (deleted with it). */
  keysOf(id: string): string[] {
    const k = this.keys;
    return [k.waiting(id), k.ledgerSending(id), k.ledgerCounts(id), k.callIds(id), k.pollsOf(id)];
  }
}
