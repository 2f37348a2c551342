import type { Redis } from 'ioredis';
import { keyNodes, type RedisClient } from './redis.js';

export interface Found {
  key: string;
  type: string;
  /** Where in the key the text was found: its name, a field/member, or a value. */
  where: 'name' | 'field' | 'value';
}

const COUNT = 1000;

/**
 * Looks through every key matching `patterns` (Keys.scanPatterns: ours,
 * BullMQ's and any another feature adds) for any of `needles` — the check
 * behind `forget`'s promise that the number is gone, whoever stored it. Reads
 * everything: meant for rare operations, not hot paths.
 */
export async function findNeedles(redis: RedisClient, patterns: string[], needles: string[]): Promise<Found[]> {
  const has = (s: string) => needles.some((n) => n !== '' && s.includes(n));
  const out: Found[] = [];
  for (const node of keyNodes(redis)) for (const pattern of patterns) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', COUNT);
      cursor = next;
      for (const key of keys) {
        const type = await node.type(key);
        if (has(key)) out.push({ key, type, where: 'name' });
        const where = await search(node, key, type, has);
        if (where) out.push({ key, type, where });
      }
    } while (cursor !== '0');
  }
  return out;
}

async function search(r: Redis, key: string, type: string, has: (s: string) => boolean): Promise<'field' | 'value' | undefined> {
  switch (type) {
    case 'string': {
      const v = await r.getBuffer(key);
      return v && has(v.toString('latin1')) ? 'value' : undefined;
    }
    case 'hash':
      return scanPairs((c) => r.hscan(key, c, 'COUNT', COUNT), has, true);
    case 'zset':
      return scanPairs((c) => r.zscan(key, c, 'COUNT', COUNT), has, false);
    case 'set': {
      let c = '0';
      do {
        const [next, members] = await r.sscan(key, c, 'COUNT', COUNT);
        c = next;
        if (members.some(has)) return 'field';
      } while (c !== '0');
      return undefined;
    }
    case 'list': {
      const n = await r.llen(key);
      for (let i = 0; i < n; i += COUNT) if ((await r.lrange(key, i, i + COUNT - 1)).some(has)) return 'value';
      return undefined;
    }
    case 'stream': {
      let start = '-';
      for (;;) {
        const entries = await r.xrange(key, start, '+', 'COUNT', COUNT);
        for (const [, fields] of entries) {
          for (let i = 0; i < fields.length; i += 2) {
            if (has(fields[i]!)) return 'field';
            if (has(fields[i + 1]!)) return 'value';
          }
        }
        if (entries.length < COUNT) return undefined;
        start = `(${entries[entries.length - 1]![0]}`;
      }
    }
    default:
      return undefined;
  }
}

/** HSCAN/ZSCAN: members at even positions, values (or scores) at odd ones. */
async function scanPairs(scan: (cursor: string) => Promise<[string, string[]]>, has: (s: string) => boolean, valuesCount: boolean): Promise<'field' | 'value' | undefined> {
  let c = '0';
  do {
    const [next, flat] = await scan(c);
    c = next;
    for (let i = 0; i < flat.length; i += 2) {
      if (has(flat[i]!)) return 'field';
      if (valuesCount && has(flat[i + 1]!)) return 'value';
    }
  } while (c !== '0');
  return undefined;
}
