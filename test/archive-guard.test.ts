import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archivedKey, defineScript } from '../src/store/lua.js';
import { REDIS_URL, testPrefix } from './helpers/dialer.js';

/**
 * The guard every script starts with (store/lua.ts ARCHIVE_GUARD_LUA): which
 * KEYS it takes for a campaign's rows, ledger or row keys, and what it
 * answers, against the real Redis. It matches a name by its last bytes (no
 * pattern): these cases pin down that it finds exactly what the pattern
 * `^(.+):rows$` (and `:ledger`, `:rowkeys`) found before.
 */
const prefix = testPrefix('archive-guard');
let redis: Redis;
let guarded: (...args: (string | number)[]) => Promise<unknown>;

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  // Not warming (no warmer registered for this connection's campaign keys): the ARCHIVED answer comes back as the error.
  guarded = (...args) => (redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>).guard_probe!(...args);
  defineScript(redis, 'guard_probe', undefined, `return 'ran'`);
  // Campaign "c" is archived (its set of blocks exists); "d" is not.
  await redis.sadd(`${prefix}c:z`, 'r0');
});

afterAll(async () => {
  await redis.del(`${prefix}c:z`);
  redis.disconnect();
});

const refused = async (...keys: string[]): Promise<string | undefined> => {
  try {
    expect(await guarded(keys.length, ...keys)).toBe('ran');
    return undefined;
  } catch (e) {
    const key = archivedKey(e);
    if (key === undefined) throw e;
    return key;
  }
};

describe('the archive guard in front of every script', () => {
  it("refuses a script that names an archived campaign's rows, ledger or row keys, and names the campaign", async () => {
    for (const suffix of [':rows', ':ledger', ':rowkeys']) {
      expect(await refused(`${prefix}c${suffix}`)).toBe(`${prefix}c`);
      // Anywhere among the keys, after others that are not the campaign's hashes.
      expect(await refused(`${prefix}c:counts`, `${prefix}other`, `${prefix}c${suffix}`)).toBe(`${prefix}c`);
    }
  });

  it('lets through the same keys of a campaign that is not archived, and every other key of an archived one', async () => {
    for (const suffix of [':rows', ':ledger', ':rowkeys']) expect(await refused(`${prefix}d${suffix}`)).toBeUndefined();
    for (const k of ['', ':counts', ':open', ':ledger:sending', ':ledger:counts', ':rows:o:done', ':audit', ':z', 'rows', ':rowsx', ':xrows', ':ledgers', ':rowkey'])
      expect(await refused(`${prefix}c${k}`)).toBeUndefined();
    // Names that only end like one: no campaign before the suffix, or the suffix without its colon.
    expect(await refused(':rows', ':ledger', ':rowkeys', 'rows', 'ledger', 'rowkeys', 's', 'r', '')).toBeUndefined();
    // A script without keys.
    expect(await guarded(0)).toBe('ran');
  });

  it('takes the longest campaign name before the suffix (a campaign called "x:rows" is its own campaign)', async () => {
    await redis.sadd(`${prefix}c:rows:z`, 'r0');
    try {
      expect(await refused(`${prefix}c:rows:rows`)).toBe(`${prefix}c:rows`);
      expect(await refused(`${prefix}c:rows:ledger`)).toBe(`${prefix}c:rows`);
    } finally {
      await redis.del(`${prefix}c:rows:z`);
    }
  });
});
