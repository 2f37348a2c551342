/**
 * Is the step into `sending` safe on disk (or on a replica) before the POST?
 *
 * Redis acknowledges a write once it is in memory. If it crashes after the
 * POST but before `sending` reached disk or a replica, the restarted server
 * has forgotten the dial and the person can be called again. Whatever the
 * server offers to close that gap is detected once per connection:
 *
 * - `always`:  appendfsync always; every acknowledged write is already fsynced.
 * - `waitaof`: Redis >= 7.2 with AOF; `WAITAOF 1 0` waits for the local fsync.
 * - `wait`:    connected replicas; `WAIT 1` waits until one of them holds the write.
 * - `none`:    nothing to wait for; `reason` says what a crash can lose.
 *
 * WAIT and WAITAOF cover the writes of the connection they are sent on, so
 * this must run on the connection that ran LEDGER_BEGIN (the store's).
 */
import { Cluster } from 'ioredis';
import type { RedisClient } from './redis.js';

/** DIALER_DURABLE_DIALS: use what the server offers, never wait, or refuse to dial without a confirmation. */
export type DurableDials = 'auto' | 'off' | 'required';
export type DurabilityMode = 'always' | 'waitaof' | 'wait' | 'none';

export interface DurabilityInfo {
  mode: DurabilityMode;
  /** One line for operators: what the mode guarantees, or what a crash can lose. */
  reason: string;
}

/** What the detection read from the server. */
export interface ServerFacts {
  version: string;
  aof: boolean;
  /** `appendfsync`; undefined when CONFIG GET is refused (managed Redis). */
  appendfsync?: string;
  replicas: number;
  cluster: boolean;
}

/** True when `version` ("7.2.4") is at least major.minor. */
export function versionAtLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/** Pure: which confirmation the server allows, and why. */
export function decideDurability(f: ServerFacts, setting: DurableDials): DurabilityInfo {
  if (setting === 'off') return { mode: 'none', reason: 'DIALER_DURABLE_DIALS=off: `sending` is not confirmed on disk or a replica before the POST' };
  // A Cluster client sends keyless commands to any node, not necessarily the one holding the ledger.
  if (f.cluster) return { mode: 'none', reason: 'Redis Cluster: WAIT/WAITAOF would reach a random node, not the one holding the ledger; run its nodes with appendfsync always' };
  const v = `Redis ${f.version}`;
  if (f.aof && f.appendfsync === 'always') return { mode: 'always', reason: `${v} with appendfsync always: every acknowledged write is already fsynced` };
  if (f.aof && versionAtLeast(f.version, 7, 2)) return { mode: 'waitaof', reason: `${v} with AOF: WAITAOF confirms \`sending\` is fsynced before the POST` };
  if (f.replicas > 0) return { mode: 'wait', reason: `${v} with ${f.replicas} connected replica(s): WAIT confirms a replica holds \`sending\` before the POST` };
  if (!f.aof) return { mode: 'none', reason: `${v} without AOF and without replicas: a crash loses every write since the last snapshot` };
  if (f.appendfsync === 'everysec' || f.appendfsync === undefined) {
    return { mode: 'none', reason: `${v} without replicas: a write acknowledged may be lost within appendfsync everysec's 1 s${versionAtLeast(f.version, 7, 2) ? '' : ' (WAITAOF needs Redis >= 7.2)'}` };
  }
  return { mode: 'none', reason: `${v} without replicas, appendfsync ${f.appendfsync}: the OS decides when acknowledged writes reach disk` };
}

function infoField(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/** Reads the facts `decideDurability` needs (three INFO sections, one CONFIG GET that may be refused). */
export async function readServerFacts(redis: RedisClient): Promise<ServerFacts> {
  if (redis instanceof Cluster) return { version: '?', aof: false, replicas: 0, cluster: true };
  const [server, persistence, replication, fsync] = await Promise.all([
    redis.info('server'),
    redis.info('persistence'),
    redis.info('replication'),
    (redis.config('GET', 'appendfsync') as Promise<string[]>).then((r) => r[1], () => undefined),
  ]);
  return {
    version: infoField(server, 'redis_version') ?? '0',
    aof: infoField(persistence, 'aof_enabled') === '1',
    appendfsync: fsync,
    replicas: Number(infoField(replication, 'connected_slaves') ?? 0),
    cluster: false,
  };
}

export class Durability {
  private detected?: Promise<DurabilityInfo>;
  private watching = false;
  /** Until then confirmations fail at once (ms since epoch). */
  private failedUntil = 0;
  /** The last detection's result (undefined before the first). */
  info?: DurabilityInfo;

  /** `timeoutMs`: the longest one confirmation may block the connection. */
  constructor(private readonly redis: RedisClient, readonly setting: DurableDials, private readonly timeoutMs = 1000) {}

  get mode(): DurabilityMode | undefined {
    return this.info?.mode;
  }

  get reason(): string | undefined {
    return this.info?.reason;
  }

  /** What this connection's server offers (detected once, again after a reconnect or a failed confirmation). */
  detect(): Promise<DurabilityInfo> {
    if (!this.watching) {
      // A reconnect may reach another server (a failover, a restart with other settings): look again.
      this.watching = true;
      this.redis.once('ready', () => ((this.detected = undefined), (this.watching = false)));
    }
    this.detected ??= (async () => {
      const info = this.setting === 'off' ? decideDurability({ version: '?', aof: false, replicas: 0, cluster: false }, 'off') : decideDurability(await readServerFacts(this.redis), this.setting);
      this.info = info;
      return info;
    })().catch((e: unknown) => {
      this.detected = undefined;
      throw e;
    });
    return this.detected;
  }

  /**
   * Waits until this connection's writes so far are on disk or a replica, as
   * far as the server allows. False: not confirmed (timeout, no replica, Redis
   * unreachable, or `required` on a server that cannot confirm): do not POST.
   */
  async confirm(): Promise<boolean> {
    if (this.setting === 'off') return true;
    // WAIT blocks the whole connection for up to its timeout, and every
    // concurrent dial shares it: after a failure, the next ones fail at once.
    if (Date.now() < this.failedUntil) return false;
    try {
      const { mode } = await this.detect();
      let ok: boolean;
      if (mode === 'always') ok = true;
      else if (mode === 'waitaof') ok = ((await this.redis.call('WAITAOF', 1, 0, this.timeoutMs)) as number[])[0]! >= 1;
      else if (mode === 'wait') ok = ((await this.redis.call('WAIT', 1, this.timeoutMs)) as number) >= 1;
      else ok = this.setting !== 'required';
      if (!ok) this.failed();
      return ok;
    } catch {
      // Redis unreachable or the command refused: not confirmed.
      this.failed();
      return false;
    }
  }

  private failed(): void {
    // A replica may have gone away (or been added): the next dial after the pause looks again.
    this.detected = undefined;
    if (this.info?.mode !== 'none') this.failedUntil = Date.now() + this.timeoutMs;
  }
}
