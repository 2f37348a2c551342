import { OUTCOMES } from '../campaign/row.js';
import type { Keys } from './keys.js';
import { defineScript, type Script } from './lua.js';
import type { RedisClient } from './redis.js';
import type { ArchiveStore } from './archive.js';
import { decodeAuditEvent } from './audit-codec.js';
import { OUTCOME_COUNTS, OUTCOME_INDEX_LUA, OUTCOME_ROWS } from './outcome-index.js';

/**
 * Puts final rows into their outcome's index (one batch, atomically: a row
 * can't change between the read and the index write). KEYS: rows  ARGV: row...
 */
const INDEX_OUTCOMES = OUTCOME_INDEX_LUA + `
local n = 0
for i = 1, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    local ok, rec = pcall(cjson.decode, v)
    if ok and type(rec) == 'table' and rec.outcome then n = n + outcome_index(KEYS[1], rec.outcome, {ARGV[i]}, true) end
  end
end
return n
`;

/**
 * Reads for the campaign page's rows table, each bounded by the page size or
 * an explicit budget, never by the size of the campaign: row ranges by HMGET,
 * an outcome by its index (rows key + `:o:<outcome>`, kept by the scripts
 * where rows become final; store/outcome-index.ts), a number through the ledger.
 */
export class RowPagesStore {
  private readonly indexFn: Script;
  private readonly countsFn: Script;
  private readonly rowsFn: Script;

  constructor(private readonly redis: RedisClient, private readonly keys: Keys, private readonly archive: ArchiveStore) {
    this.indexFn = defineScript(redis, 'dialer_index_outcomes', 1, INDEX_OUTCOMES);
    this.rowsFn = defineScript(redis, 'dialer_outcome_rows', 1, OUTCOME_ROWS);
    // Its number of keys varies: ioredis takes it as the first argument.
    redis.defineCommand('dialer_outcome_counts', { lua: OUTCOME_COUNTS });
    this.countsFn = (redis as unknown as Record<string, Script>)['dialer_outcome_counts']!.bind(redis);
  }

  private async counts(keys: string[]): Promise<number[]> {
    return ((await this.countsFn(keys.length, ...keys)) as number[]).map(Number);
  }

  /** Rows in every outcome index of the campaign. */
  async indexedCount(id: string): Promise<number> {
    return (await this.counts(OUTCOMES.map((o) => this.keys.rowsByOutcome(id, o)))).reduce((a, n) => a + n, 0);
  }

  /**
   * Builds the outcome indexes of a campaign whose rows ended before the
   * scripts kept them (a campaign from an older version): one pass over the
   * rows hash. Returns how many rows were added.
   */
  async backfillOutcomes(id: string): Promise<number> {
    let cursor = '0';
    let added = 0;
    do {
      const [next, flat] = await this.redis.hscan(this.keys.rows(id), cursor, 'COUNT', 2000);
      cursor = next;
      const rows = flat.filter((_, i) => i % 2 === 0);
      if (rows.length) added += Number(await this.indexFn(this.keys.rows(id), ...rows));
    } while (cursor !== '0');
    return added;
  }

  /** Raw JSON of rows `from`..`to` (inclusive), in order; null where a row is missing. */
  async range(id: string, from: number, to: number): Promise<[number, string | null][]> {
    if (to < from) return [];
    const nums = Array.from({ length: to - from + 1 }, (_, i) => from + i);
    const vs = await this.redis.hmget(this.keys.rows(id), ...nums.map(String));
    await this.archive.fillRows(id, nums, vs);
    return nums.map((n, i) => [n, vs[i] ?? null]);
  }

  /** Raw JSON of the given rows. */
  async some(id: string, rows: number[]): Promise<[number, string | null][]> {
    if (rows.length === 0) return [];
    const vs = await this.redis.hmget(this.keys.rows(id), ...rows.map(String));
    await this.archive.fillRows(id, rows, vs);
    return rows.map((n, i) => [n, vs[i] ?? null]);
  }

  /** Up to `limit` rows that ended with `outcome`, after row `after`, ascending. */
  async outcomeRows(id: string, outcome: string, after: number, limit: number): Promise<number[]> {
    return ((await this.rowsFn(this.keys.rowsByOutcome(id, outcome), after, limit)) as (string | number)[]).map(Number);
  }

  async outcomeCount(id: string, outcome: string): Promise<number> {
    return (await this.counts([this.keys.rowsByOutcome(id, outcome)]))[0]!;
  }

  /** The row that owns `e164` in this campaign's ledger. */
  async rowOfNumber(id: string, e164: string): Promise<number | undefined> {
    let v = await this.redis.hget(this.keys.ledger(id), e164);
    if (!v && (await this.archive.isArchived(id)) && (await this.archive.warm(id)) > 0) v = await this.redis.hget(this.keys.ledger(id), e164);
    return v ? (JSON.parse(v) as { r: number }).r : undefined;
  }

  /**
   * One HSCAN step over the ledger's numbers matching `glob` (a masked
   * number's pattern); returns the rows found and the cursor to go on ('0' = done).
   */
  async scanNumbers(id: string, glob: string, cursor: string, count: number): Promise<{ rows: number[]; cursor: string }> {
    if (cursor === '0' && (await this.archive.isArchived(id))) await this.archive.warm(id);
    const [next, flat] = await this.redis.hscan(this.keys.ledger(id), cursor, 'MATCH', glob, 'COUNT', count);
    const rows: number[] = [];
    for (let i = 1; i < flat.length; i += 2) rows.push((JSON.parse(flat[i]!) as { r: number }).r);
    return { rows, cursor: next };
  }

  /** The audit events of one row, oldest first, reading at most `budget` entries of the stream, then of its archive blocks (newest first). */
  async auditOfRow(id: string, row: number, budget: number): Promise<{ events: Record<string, string>[]; complete: boolean }> {
    const events: Record<string, string>[] = [];
    let end = '+';
    let read = 0;
    const want = String(row);
    const take = (batch: [string, string[]][]) => {
      for (const [eid, flat] of batch) {
        let r = '';
        for (let i = 0; i < flat.length; i += 2) if (flat[i] === 'row') r = flat[i + 1]!;
        if (r === want) events.push({ id: eid, ...decodeAuditEvent(eid, flat) });
      }
      read += batch.length;
    };
    for (;;) {
      if (read >= budget) return { events: events.reverse(), complete: false };
      const n = Math.min(2000, budget - read);
      const batch = await this.redis.xrevrange(this.keys.audit(id), end, '-', 'COUNT', n);
      take(batch);
      if (batch.length < n) break;
      end = `(${batch[batch.length - 1]![0]}`;
    }
    for (const name of (await this.archive.auditBlockNames(id)).reverse()) {
      if (read >= budget) return { events: events.reverse(), complete: false };
      take((await this.archive.auditBlock(id, name)).reverse());
    }
    return { events: events.reverse(), complete: true };
  }
}
