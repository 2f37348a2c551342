import { defineScript, type Script } from './lua.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

/** Deletes a lock only if `token` still holds it. KEYS: lock  ARGV: token */
const RELEASE_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** State of the HTTP service and the worker fleet: upload locks, the webhook log, worker heartbeats. */
export class ServerStore {
  private readonly releaseFn: Script;

  constructor(private readonly redis: RedisClient, private readonly keys: Keys) {
    this.releaseFn = defineScript(redis, 'dialer_release_lock', 1, RELEASE_LOCK);
  }

  /** Resolves when Redis answers (the health check). */
  async ping(): Promise<void> {
    await this.redis.ping();
  }

  /** Takes the upload lock of a campaign for `ms` under `token`; false when another upload holds it. */
  async takeUploadLock(id: string, token: string, ms: number): Promise<boolean> {
    return (await this.redis.set(this.keys.uploadLock(id), token, 'PX', ms, 'NX')) === 'OK';
  }

  async releaseUploadLock(id: string, token: string): Promise<void> {
    await this.releaseFn(this.keys.uploadLock(id), token);
  }

  /** Keeps one raw webhook delivery (JSON), newest first, the last `keep` of them. */
  async logWebhook(entry: string, keep: number): Promise<void> {
    await this.redis.multi().lpush(this.keys.webhooks, entry).ltrim(this.keys.webhooks, 0, keep - 1).exec();
  }

  async heartbeat(worker: string, atMs: number): Promise<void> {
    await this.redis.hset(this.keys.workers, worker, atMs);
  }

  async dropWorker(worker: string): Promise<void> {
    await this.redis.hdel(this.keys.workers, worker);
  }

  /** Workers whose last heartbeat is later than `sinceMs`. */
  async liveWorkers(sinceMs: number): Promise<number> {
    return (await this.redis.hvals(this.keys.workers)).filter((t) => Number(t) > sinceMs).length;
  }
}
