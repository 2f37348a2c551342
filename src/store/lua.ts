import type { RedisClient } from './redis.js';

export type Script = (...args: (string | number)[]) => Promise<unknown>;

/**
 * Registers a Lua script on `redis` as the command `name` (ioredis sends
 * EVALSHA and falls back to EVAL when the server lost it) and returns it
 * bound to that connection.
 */
export function defineScript(redis: RedisClient, name: string, numberOfKeys: number, lua: string): Script {
  redis.defineCommand(name, { numberOfKeys, lua });
  return (redis as unknown as Record<string, Script>)[name]!.bind(redis);
}
