import type { Logger } from '../log.js';
import type { RedisClient } from './redis.js';

/** While Redis stays away, a reminder at most this often (ioredis retries every 2 s at most). */
const REMIND_EVERY_MS = 30_000;

/** What to tell a person about a Redis error: the auth ones name the setting to fix. */
export function redisErrorHint(message: string): string | undefined {
  if (/NOAUTH|WRONGPASS|invalid password|Authentication required/i.test(message)) {
    return 'Redis refused our password: set REDIS_PASSWORD to the one the server requires (requirepass)';
  }
  return undefined;
}

/**
 * Reports a Redis outage as JSON log lines instead of ioredis' and BullMQ's
 * raw stack traces: one warning when the connection goes, a reminder every
 * 30 s while it stays away, one line when it is back. Shared by every
 * connection and queue of a process, so an outage is one story, not one per
 * connection and reconnect attempt.
 */
export class RedisOutageLog {
  private downSince?: number;
  private lastSaid = 0;
  private errors = 0;

  constructor(private readonly log: Logger, private readonly now: () => number = Date.now) {}

  /** An `error` event of a connection, or of a BullMQ queue re-emitting its connection's. */
  readonly error = (err: unknown): void => {
    const e = err as { message?: string; code?: string };
    const message = String(e?.message ?? err);
    const t = this.now();
    this.errors++;
    const hint = redisErrorHint(message);
    if (this.downSince === undefined) {
      this.downSince = t;
      this.lastSaid = t;
      this.log.warn({ err: { message, code: e?.code }, hint }, 'Redis connection lost; reconnecting');
    } else if (t - this.lastSaid >= REMIND_EVERY_MS) {
      this.lastSaid = t;
      this.log.warn({ err: { message, code: e?.code }, hint, down_ms: t - this.downSince, errors: this.errors }, 'Redis still unreachable; reconnecting');
    }
  };

  /** A connection's `ready` event. */
  readonly ready = (): void => {
    if (this.downSince === undefined) return;
    this.log.info({ down_ms: this.now() - this.downSince, errors: this.errors }, 'Redis connection back');
    this.downSince = undefined;
    this.errors = 0;
  };

  /** Listens on a connection: its errors go here, never to ioredis' "Unhandled error event" print. */
  watch(conn: RedisClient): void {
    conn.on('error', this.error);
    conn.on('ready', this.ready);
  }
}
