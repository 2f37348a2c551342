/**
 * A campaign's keys as the checks need them when part or all of it may be
 * archived (store/archive.ts): one atomic read (a Lua script, so no archive
 * commit or warm falls in between) of the hashes behind the status indexes
 * and of every archive block, the row and ledger blocks merged back into
 * their hashes, so test/helpers/index-drift.ts compares the indexes with
 * every row and ledger entry wherever it lives. Also the text of every
 * block (rows, ledger, row keys, audit), for the forgotten-number check.
 */
import zlib from 'node:zlib';
import type { Redis } from 'ioredis';
import type { Keys } from '../../src/store/keys.js';
import { indexDrift } from '../helpers/index-drift.js';

/** Not guarded (it is no script of the dialer's): reads blocks and hashes as they are. KEYS as in `archiveSnapshot`; ARGV: a block's key without its name. */
const SNAPSHOT_LUA = `
local out = {}
out[1] = redis.call('HGETALL', KEYS[1])
out[2] = redis.call('HGETALL', KEYS[2])
out[3] = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')
out[4] = redis.call('ZRANGE', KEYS[4], 0, -1, 'WITHSCORES')
out[5] = redis.call('HGETALL', KEYS[5])
out[6] = redis.call('HGETALL', KEYS[6])
local blocks = {}
local names = redis.call('SMEMBERS', KEYS[7])
for _, n in ipairs(redis.call('ZRANGE', KEYS[8], 0, -1)) do names[#names + 1] = n end
for _, n in ipairs(names) do
  local data = redis.call('GET', ARGV[1] .. n)
  blocks[#blocks + 1] = n
  blocks[#blocks + 1] = data or ''
end
out[7] = blocks
return out
`;

export interface ArchiveSnapshot {
  /** Disagreements of the status indexes with the rows and ledger (hash and blocks together), and of the blocks themselves. */
  drift: string[];
  /** Every block: its name and its unpacked JSON text ('' for a block named in the sets but missing). */
  blocks: { name: string; text: string }[];
}

const toObject = (flat: Buffer[]) => {
  const o: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) o[flat[i]!.toString()] = flat[i + 1]!.toString();
  return o;
};

/**
 * The rows and ledger entries of a block, in either layout store/archive.ts
 * has written: a JSON header `{n: [rows, ledger, row keys], f: [field...]}`
 * then each value after a NUL (a row block with its ledger entries and row
 * keys), or a JSON array of [field, value] of one hash named by the block's
 * first letter (r rows, l ledger, k row keys).
 */
export function decodeBlock(name: string, text: string): Partial<Record<'rows' | 'ledger' | 'rowKeys', [string, string][]>> {
  const nul = text.indexOf('\0');
  if (text.startsWith('{')) {
    const [head, ...values] = text.split('\0');
    const { n, f } = JSON.parse(head!) as { n: [number, number, number]; f: string[] };
    if (nul < 0 && f.length) throw new Error('no values after the header');
    if (f.length !== values.length || n[0] + n[1] + n[2] !== f.length) throw new Error(`${f.length} fields, ${values.length} values, counts ${n.join('/')}`);
    const pairs = f.map((field, i) => [field, values[i]!] as [string, string]);
    return { rows: pairs.slice(0, n[0]), ledger: pairs.slice(n[0], n[0] + n[1]), rowKeys: pairs.slice(n[0] + n[1]) };
  }
  const pairs = JSON.parse(text) as [string, string][];
  const kind = ({ r: 'rows', l: 'ledger', k: 'rowKeys' } as const)[name[0] as 'r' | 'l' | 'k'];
  if (!kind) throw new Error('unknown kind of block');
  return { [kind]: pairs };
}

export async function archiveSnapshot(redis: Redis, keys: Keys, id: string): Promise<ArchiveSnapshot> {
  const ks = [keys.rows(id), keys.ledger(id), keys.waiting(id), keys.ledgerSending(id), keys.ledgerCounts(id), keys.callIds(id), keys.archive(id), keys.archiveAudit(id)];
  const res = (await redis.callBuffer('EVAL', SNAPSHOT_LUA, ks.length, ...ks, keys.archiveBlock(id, ''))) as Buffer[][];
  const rows = toObject(res[0]!);
  const ledger = toObject(res[1]!);
  const drift: string[] = [];
  const blocks: ArchiveSnapshot['blocks'] = [];
  const flat = res[6]!;
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!.toString();
    const data = flat[i + 1]!;
    if (data.length === 0) {
      drift.push(`archive block ${name} is named but missing`);
      blocks.push({ name, text: '' });
      continue;
    }
    const text = zlib.brotliDecompressSync(data).toString();
    blocks.push({ name, text });
    if (name.startsWith('a')) continue;
    let parts: Partial<Record<'rows' | 'ledger', [string, string][]>>;
    try {
      parts = decodeBlock(name, text);
    } catch (e) {
      drift.push(`archive block ${name} does not decode: ${(e as Error).message}`);
      continue;
    }
    for (const [kind, into] of [['rows', rows], ['ledger', ledger]] as const) {
      for (const [f, v] of parts[kind] ?? []) {
        if (f in into) drift.push(`${kind === 'rows' ? 'row' : 'ledger entry'} ${f} is in two places (its hash or another block, and archive block ${name})`);
        else into[f] = v;
      }
    }
  }
  // index-drift.ts reads its six values in one MULTI; here they come from the snapshot, in its order.
  const values = [rows, ledger, res[2]!.map(String), res[3]!.map(String), toObject(res[4]!), toObject(res[5]!)];
  const chain = { hgetall: () => chain, zrange: () => chain, exec: async () => values.map((v) => [null, v]) };
  drift.push(...(await indexDrift({ multi: () => chain } as unknown as Redis, keys, id)));
  return { drift, blocks };
}
