import type { RedisClient } from './redis.js';

export type Script = (...args: (string | number | Buffer)[]) => Promise<unknown>;

/**
 * Put in front of every script that may touch a campaign's rows, ledger or
 * row keys (store/archive.ts): when one of its KEYS is such a hash of a
 * campaign whose rows are archived (its `<campaign>:z` set of blocks exists),
 * the script stops before it reads or writes anything and answers
 * `ARCHIVED <campaign key>`; the caller brings the blocks back (warm) and
 * runs the script again. So no script, whatever it does, ever sees a
 * campaign with part of its rows packed away.
 */
export const ARCHIVE_GUARD_LUA = `
do
  local seen = {}
  for i = 1, #KEYS do
    -- By the name's last byte first: a plain compare, no pattern (this runs in every script).
    local k = KEYS[i]
    local n = #k
    local last = string.byte(k, n)
    local b
    if last == 115 then -- 's'
      if string.sub(k, -5) == ':rows' then b = string.sub(k, 1, n - 5)
      elseif string.sub(k, -8) == ':rowkeys' then b = string.sub(k, 1, n - 8) end
    elseif last == 114 and string.sub(k, -7) == ':ledger' then -- 'r'
      b = string.sub(k, 1, n - 7)
    end
    if b and b ~= '' and not seen[b] then
      seen[b] = true
      if redis.call('EXISTS', b .. ':z') == 1 then return redis.error_reply('ARCHIVED ' .. b) end
    end
  end
end
`;

type Warmer = (redis: RedisClient, campaignKey: string) => Promise<void>;
let warmer: Warmer | undefined;

/** Set once by store/archive.ts: how a guarded script's caller brings an archived campaign's rows back. */
export function setWarmer(fn: Warmer): void {
  warmer = fn;
}

/** The campaign key of an `ARCHIVED <key>` reply, else undefined. */
export function archivedKey(err: unknown): string | undefined {
  const m = err instanceof Error ? /^ARCHIVED (.+)$/.exec(err.message) : null;
  return m ? m[1] : undefined;
}

/** `fn`, run again after warming the campaign when a guarded script answers ARCHIVED. */
export function warming(redis: RedisClient, fn: Script): Script {
  return async (...args) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn(...args);
      } catch (err) {
        const key = archivedKey(err);
        if (key === undefined || warmer === undefined || attempt >= 3) throw err;
        await warmer(redis, key);
      }
    }
  };
}

/**
 * Registers a Lua script on `redis` as the command `name` (ioredis sends
 * EVALSHA and falls back to EVAL when the server lost it) and returns it
 * bound to that connection. Guarded (ARCHIVE_GUARD_LUA) unless
 * `guard: false` (the archive's own scripts).
 */
export function defineScript(redis: RedisClient, name: string, numberOfKeys: number | undefined, lua: string, opts: { guard?: boolean } = {}): Script {
  const guard = opts.guard ?? true;
  redis.defineCommand(name, numberOfKeys === undefined ? { lua: guard ? ARCHIVE_GUARD_LUA + lua : lua } : { numberOfKeys, lua: guard ? ARCHIVE_GUARD_LUA + lua : lua });
  const fn = (redis as unknown as Record<string, Script>)[name]!.bind(redis);
  return guard ? warming(redis, fn) : fn;
}
