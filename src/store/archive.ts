import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { AUDIT_SWAP, COMMIT_AUDIT, COMMIT_BLOCK, FENCE, RESTORE_BLOCK } from './archive-scripts.js';
import type { Keys } from './keys.js';
import { defineScript, setWarmer, type Script } from './lua.js';
import type { RedisClient } from './redis.js';

/**
 * Archive of a finished campaign: its rows, ledger entries, row keys and
 * audit events packed into brotli blocks (a done contact then takes about a
 * tenth of the memory). Rows are blocked by number (`r<k>` holds rows
 * k·1000 … k·1000+999, with their ledger entries and row keys: a row's
 * number and call id then cost their bytes once), so one row is one block
 * away; the audit stream goes in order (`a…`).
 *
 * Reading never unpacks anything in Redis: rows come from their block where
 * the hash lacks them (Store.getRow, getRows, rowBatches, the rows page),
 * audit events from the audit blocks, then the stream. Writing does: every
 * script that touches rows, the ledger or row keys is guarded (store/lua.ts)
 * and answers ARCHIVED; its caller warms the campaign (the blocks go back
 * into the hashes) and runs it again. A warm also holds the campaign off
 * the archive for WARM_HOLD_MS, and an archive run commits a block only if
 * the campaign is still finished, untouched since the run began and every
 * field is as the run read it, so a write and an archive never interleave.
 * Audit blocks stay through a warm (the stream only grows at its end).
 */

/** Rows per row block. APPEND ONLY: a stored block's name says which rows it holds. */
export const ROWS_PER_BLOCK = 1000;
const CHUNK = 2000;
/** How long a warmed campaign stays off the archive (ms). */
export const WARM_HOLD_MS = 10 * 60_000;

const compress = promisify(zlib.brotliCompress);
const decompress = promisify(zlib.brotliDecompress);

async function brotli(raw: Buffer): Promise<Buffer> {
  return compress(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 6, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length } });
}

async function pack(value: unknown): Promise<Buffer> {
  return brotli(Buffer.from(JSON.stringify(value)));
}

async function unpack<T>(data: Buffer): Promise<T> {
  return JSON.parse((await decompress(data)).toString()) as T;
}

/** A row block: its rows, ledger entries and row keys as [field, stored value]. */
export interface RowBlock {
  rows: [string, string][];
  ledger: [string, string][];
  rowKeys: [string, string][];
}

/**
 * A row block as stored: a JSON header (the counts and every field name)
 * and the values after it, each after a NUL (stored rows and ledger entries
 * are JSON and row numbers are digits: none holds a raw NUL). Values are
 * kept as the text Redis held, byte for byte.
 */
async function packBlock(b: RowBlock): Promise<Buffer> {
  const all = [...b.rows, ...b.ledger, ...b.rowKeys];
  const head = JSON.stringify({ n: [b.rows.length, b.ledger.length, b.rowKeys.length], f: all.map(([f]) => f) });
  return brotli(Buffer.from([head, ...all.map(([, v]) => v)].join('\0')));
}

async function unpackBlock(data: Buffer): Promise<RowBlock> {
  const [head, ...values] = (await decompress(data)).toString().split('\0');
  const { n, f } = JSON.parse(head!) as { n: [number, number, number]; f: string[] };
  const pairs = f.map((field, i) => [field, values[i]!] as [string, string]);
  return { rows: pairs.slice(0, n[0]), ledger: pairs.slice(n[0], n[0] + n[1]), rowKeys: pairs.slice(n[0] + n[1]) };
}

const sha1 = (values: string[]) => createHash('sha1').update(values.join('\n')).digest('hex');

/** The row a stored ledger entry belongs to (`r`), NaN when it names none. */
function ledgerRow(v: string): number {
  try {
    return Number((JSON.parse(v) as { r?: unknown }).r);
  } catch {
    return NaN;
  }
}

export interface ArchiveReport {
  /** 'archived' when every block went in; else why the run stopped (blocks committed so far stay). */
  result: 'archived' | 'refused';
  reason?: string;
  rows: number;
  ledger: number;
  rowKeys: number;
  audit: number;
  blocks: number;
  /** Bytes of the blocks written (compressed). */
  bytes: number;
}

interface WarmScripts {
  fence: Script;
  restore: Script;
}
const warmScripts = new WeakMap<RedisClient, WarmScripts>();

function scriptsOf(redis: RedisClient): WarmScripts {
  let s = warmScripts.get(redis);
  if (!s) {
    s = {
      fence: defineScript(redis, 'dialer_archive_fence', 2, FENCE, { guard: false }),
      restore: defineScript(redis, 'dialer_archive_restore', 6, RESTORE_BLOCK, { guard: false }),
    };
    warmScripts.set(redis, s);
  }
  return s;
}

/**
 * Brings every row block of the campaign whose hash key is `ckey` back into
 * its hashes (store/lua.ts calls it on ARCHIVED). Safe to run from many
 * processes at once: each block goes back once. Returns how many it brought.
 */
export async function warmCampaignKey(redis: RedisClient, ckey: string): Promise<number> {
  const s = scriptsOf(redis);
  const names = (await s.fence(ckey, `${ckey}:z`, WARM_HOLD_MS)) as string[];
  let restored = 0;
  for (const name of names) {
    const block = `${ckey}:z:${name}`;
    const data = await redis.getBuffer(block);
    if (!data) continue;
    const b = await unpackBlock(data);
    const pairs = [...b.rows, ...b.ledger, ...b.rowKeys].flat();
    restored += Number(await s.restore(ckey, `${ckey}:z`, block, `${ckey}:rows`, `${ckey}:ledger`, `${ckey}:rowkeys`, name, b.rows.length, b.ledger.length, b.rowKeys.length, ...pairs));
  }
  return restored;
}

setWarmer(async (redis, ckey) => {
  await warmCampaignKey(redis, ckey);
});

export class ArchiveStore {
  private readonly commitBlock: Script;
  private readonly commitAudit: Script;
  private readonly auditSwap: Script;

  constructor(private readonly redis: RedisClient, private readonly keys: Keys) {
    this.commitBlock = defineScript(redis, 'dialer_archive_commit', 6, COMMIT_BLOCK, { guard: false });
    this.commitAudit = defineScript(redis, 'dialer_archive_commit_audit', 4, COMMIT_AUDIT, { guard: false });
    this.auditSwap = defineScript(redis, 'dialer_archive_audit_swap', undefined, AUDIT_SWAP, { guard: false });
    scriptsOf(redis);
  }

  private z(id: string): string {
    return this.keys.archive(id);
  }
  private za(id: string): string {
    return this.keys.archiveAudit(id);
  }
  private block(id: string, name: string): string {
    return this.keys.archiveBlock(id, name);
  }

  /** Whether rows, ledger or row keys of the campaign are in blocks. */
  async isArchived(id: string): Promise<boolean> {
    return (await this.redis.exists(this.z(id))) === 1;
  }

  /** Whether the campaign has rows, ledger entries, row keys or audit events outside the blocks. */
  async leftToPack(id: string): Promise<boolean> {
    const k = this.keys;
    const r = (await this.redis.multi().exists(k.rows(id), k.ledger(id), k.rowKeys(id)).xlen(k.audit(id)).exec()) as [unknown, number][];
    return r.some(([, n]) => Number(n) > 0);
  }

  /** One process at a time runs the archive (Keys.archiveLock). */
  async takeTurn(holder: string, ms: number): Promise<boolean> {
    return (await this.redis.set(this.keys.archiveLock, holder, 'PX', ms, 'NX')) === 'OK';
  }

  /** Brings the campaign's rows, ledger and row keys back (writes need them); keeps it off the archive for WARM_HOLD_MS. */
  async warm(id: string): Promise<number> {
    return warmCampaignKey(this.redis, this.keys.campaign(id));
  }

  /** Every key the archive holds for the campaign (for deleting it). */
  async keysOf(id: string): Promise<string[]> {
    const [names, audit] = await Promise.all([this.redis.smembers(this.z(id)), this.redis.zrange(this.za(id), 0, -1)]);
    return [this.z(id), this.za(id), ...[...names, ...audit].map((n) => this.block(id, n))];
  }

  /**
   * Packs a finished (done or canceled) campaign. Stops, keeping what it
   * committed, as soon as a block is refused: the campaign moved or was
   * touched (a warm holds it off for WARM_HOLD_MS).
   */
  async archive(id: string): Promise<ArchiveReport> {
    const rep: ArchiveReport = { result: 'archived', rows: 0, ledger: 0, rowKeys: 0, audit: 0, blocks: 0, bytes: 0 };
    const [sec, usec] = await this.redis.time();
    const since = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    const state = await this.redis.hget(this.keys.campaign(id), 'state');
    if (state !== 'done' && state !== 'canceled') return { ...rep, result: 'refused', reason: `the campaign is ${state ?? 'unknown'}, not done or canceled` };
    const k = this.keys;
    const refuse = (why: string) => Object.assign(rep, { result: 'refused', reason: why === 'held' ? 'the campaign was written to in the last minutes (it stays warm 10 minutes after)' : why === 'changed' ? 'a row changed while it was read' : why });

    // Rows by block of row numbers, each with its ledger entries and row keys.
    const groups = new Map<number, { rows: string[]; ledger: string[]; rowKeys: string[] }>();
    const group = (row: number) => {
      const b = Number.isInteger(row) && row >= 0 ? Math.floor(row / ROWS_PER_BLOCK) : -1;
      return groups.get(b) ?? groups.set(b, { rows: [], ledger: [], rowKeys: [] }).get(b)!;
    };
    await this.scan(k.rows(id), (f) => group(Number(f)).rows.push(f));
    await this.scan(k.ledger(id), (f, v) => group(ledgerRow(v)).ledger.push(f));
    await this.scan(k.rowKeys(id), (f, v) => group(Number(v)).rowKeys.push(f));
    for (const [b, g] of [...groups].sort((x, y) => x[0] - y[0])) {
      // Entries of no row (none are written so) go in blocks of their own, never looked up by row.
      const name = b >= 0 ? `r${b}` : `x${since}`;
      const why = await this.commitGroup(id, name, g, since, rep);
      if (why !== 'ok') return refuse(why);
      rep.rows += g.rows.length;
      rep.ledger += g.ledger.length;
      rep.rowKeys += g.rowKeys.length;
    }
    // The audit stream, oldest first.
    for (;;) {
      const entries = await this.redis.xrange(k.audit(id), '-', '+', 'COUNT', CHUNK);
      if (entries.length === 0) break;
      const first = entries[0]![0];
      const last = entries[entries.length - 1]![0];
      const data = await pack(entries);
      const [ms, seq] = first.split('-');
      const name = `a${ms}-${seq!.padStart(10, '0')}`;
      const why = (await this.commitAudit(k.campaign(id), this.za(id), this.block(id, name), k.audit(id), since, name, Number(ms), data, first, last, entries.length)) as string;
      if (why !== 'ok') return refuse(why);
      rep.audit += entries.length;
      rep.blocks++;
      rep.bytes += data.length;
      if (entries.length < CHUNK) break;
    }
    return rep;
  }

  /** Calls `each` once per field of the hash (an HSCAN may return one twice). */
  private async scan(key: string, each: (field: string, value: string) => void): Promise<void> {
    const seen = new Set<string>();
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(key, cursor, 'COUNT', CHUNK);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) {
        if (seen.has(flat[i]!)) continue;
        seen.add(flat[i]!);
        each(flat[i]!, flat[i + 1]!);
      }
    } while (cursor !== '0');
  }

  private async commitGroup(id: string, name: string, g: { rows: string[]; ledger: string[]; rowKeys: string[] }, since: number, rep: ArchiveReport): Promise<string> {
    const k = this.keys;
    const read = async (key: string, fields: string[]) => (fields.length ? this.redis.hmget(key, ...fields) : []);
    const [rows, ledger, rowKeys] = await Promise.all([read(k.rows(id), g.rows), read(k.ledger(id), g.ledger), read(k.rowKeys(id), g.rowKeys)]);
    const values = [...rows, ...ledger, ...rowKeys];
    if (values.some((v) => v === null)) return 'changed';
    const zip = (fields: string[], vs: (string | null)[]) => fields.map((f, i) => [f, vs[i]!] as [string, string]);
    const data = await packBlock({ rows: zip(g.rows, rows), ledger: zip(g.ledger, ledger), rowKeys: zip(g.rowKeys, rowKeys) });
    const why = (await this.commitBlock(k.campaign(id), this.z(id), this.block(id, name), k.rows(id), k.ledger(id), k.rowKeys(id),
      since, name, sha1(values as string[]), data, g.rows.length, g.ledger.length, g.rowKeys.length, ...g.rows, ...g.ledger, ...g.rowKeys)) as string;
    if (why === 'ok') {
      rep.blocks++;
      rep.bytes += data.length;
    }
    return why;
  }

  /**
   * Fills the rows `values` lacks (null) from their blocks, in place; a
   * block warmed meanwhile is read from the hash again.
   */
  async fillRows(id: string, rows: number[], values: (string | null)[]): Promise<void> {
    const missing = rows.map((r, i) => [r, i] as const).filter(([, i]) => values[i] === null || values[i] === undefined);
    if (missing.length === 0 || !(await this.isArchived(id))) return;
    const byBlock = new Map<number, (readonly [number, number])[]>();
    for (const m of missing) {
      const b = Math.floor(m[0] / ROWS_PER_BLOCK);
      (byBlock.get(b) ?? byBlock.set(b, []).get(b)!).push(m);
    }
    const again: (readonly [number, number])[] = [];
    for (const [b, want] of byBlock) {
      const data = await this.redis.getBuffer(this.block(id, `r${b}`));
      if (!data) {
        again.push(...want);
        continue;
      }
      const inBlock = new Map((await unpackBlock(data)).rows);
      for (const [r, i] of want) values[i] = inBlock.get(String(r)) ?? null;
    }
    if (again.length) {
      const vs = await this.redis.hmget(this.keys.rows(id), ...again.map(([r]) => String(r)));
      again.forEach(([, i], j) => (values[i] = vs[j] ?? null));
    }
  }

  /**
   * Which of `numbers` have a ledger entry in the campaign, in its hash or its
   * blocks, read without warming it (an erasure need not unpack a campaign
   * that never had the number).
   */
  async ledgerHas(id: string, numbers: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    const inHash = numbers.length ? await this.redis.hmget(this.keys.ledger(id), ...numbers) : [];
    numbers.forEach((n, i) => inHash[i] !== null && found.add(n));
    const want = new Set(numbers.filter((n) => !found.has(n)));
    for (const name of want.size ? await this.redis.smembers(this.z(id)) : []) {
      const data = await this.redis.getBuffer(this.block(id, name));
      if (data) for (const [n] of (await unpackBlock(data)).ledger) if (want.has(n)) found.add(n);
    }
    return found;
  }

  /** Names of the row blocks. */
  async rowBlockNames(id: string): Promise<string[]> {
    return (await this.redis.smembers(this.z(id))).filter((n) => n.startsWith('r'));
  }

  /** The rows of one row block as [row, stored JSON], or undefined when it is gone (warmed). */
  async rowBlock(id: string, name: string): Promise<[string, string][] | undefined> {
    const data = await this.redis.getBuffer(this.block(id, name));
    return data ? (await unpackBlock(data)).rows : undefined;
  }

  /** Audit block names, oldest first. */
  async auditBlockNames(id: string): Promise<string[]> {
    return this.redis.zrange(this.za(id), 0, -1);
  }

  /** The entries of one audit block as XRANGE gives them ([] when it is gone). */
  async auditBlock(id: string, name: string): Promise<[string, string[]][]> {
    const data = await this.redis.getBuffer(this.block(id, name));
    return data ? unpack<[string, string[]][]>(data) : [];
  }

  /** Holds the campaign off the archive for WARM_HOLD_MS (before a rewrite of its audit). */
  async hold(id: string): Promise<void> {
    await scriptsOf(this.redis).fence(this.keys.campaign(id), this.z(id), WARM_HOLD_MS);
  }

  /** AUDIT_SWAP: `copy` replaces the stream and the given audit blocks, unless either changed. */
  async swapAudit(id: string, copy: string, lastId: string, blocks: string[]): Promise<boolean> {
    const keys = [this.keys.audit(id), copy, this.za(id), ...blocks.map((n) => this.block(id, n))];
    return (await this.auditSwap(keys.length, ...keys, lastId, blocks.length)) === 1;
  }
}
