/**
 * Every Redis key the dialer writes, in one place. All keys start with the
 * configured prefix. Two layouts:
 *
 * - flat (one Redis, or a Cluster with a `{tagged}` prefix): every key is
 *   `<prefix>:...`, names as they always were. In a Cluster the tagged prefix
 *   puts every key (ours and BullMQ's) in one slot on one master.
 * - spread (a Cluster with a prefix without braces): a campaign's keys carry
 *   the campaign as their hash tag (`<prefix>:c:{<id>}:rows`, its dial queue
 *   `<prefix>:dial-{<id>}:...`), the account-wide keys the prefix
 *   (`{<prefix>}:suppression`), so campaigns spread over the masters. A Lua
 *   script or MULTI then touches either one campaign's keys or the account's,
 *   never both (store/dial.ts, live.ts, polls.ts split the steps that did).
 */
export type KeyLayout = 'flat' | 'spread';

export class Keys {
  /** Prefix of the account-wide keys, and of every key in the flat layout; BullMQ prefix of the events and schedules queues. */
  readonly prefix: string;
  readonly spread: boolean;
  /** BullMQ prefix of the dial queues (their names carry the campaign's tag in the spread layout). */
  readonly dialQueuePrefix: string;

  constructor(prefix: string, layout: KeyLayout = 'flat') {
    this.spread = layout === 'spread';
    this.prefix = this.spread ? `{${prefix}}` : prefix;
    this.dialQueuePrefix = prefix;
  }

  /** The campaign hash; every other key of the campaign starts with it (and so shares its tag). */
  private c(id: string): string {
    return this.spread ? `${this.dialQueuePrefix}:c:{${id}}` : `${this.prefix}:c:${id}`;
  }

  /** SCAN patterns that cover every key of this deployment (ours and BullMQ's). */
  get scanPatterns(): string[] {
    return this.spread ? [`${this.prefix}:*`, `${this.dialQueuePrefix}:*`] : [`${this.prefix}:*`];
  }

  /** Set of all campaign ids. */
  get campaigns(): string {
    return `${this.prefix}:campaigns`;
  }
  /** Hash: `config` (JSON of the resolved campaign), `state`, timestamps, totals. */
  campaign(id: string): string {
    return this.c(id);
  }
  /** Hash: row number → JSON RowRecord. The results file is rendered from it. */
  rows(id: string): string {
    return `${this.c(id)}:rows`;
  }
  /**
   * Bitmap (bit = row number; a sorted set scored by row number in a campaign
   * indexed before): the rows that ended with `outcome` (the campaign page
   * pages through one outcome without reading every row; store/outcome-index.ts).
   * The Lua scripts build the name as the rows key + `:o:` + outcome.
   */
  rowsByOutcome(id: string, outcome: string): string {
    return `${this.rows(id)}:o:${outcome}`;
  }
  /** Hash: outcome → count, plus `finished`. */
  counts(id: string): string {
    return `${this.c(id)}:counts`;
  }
  /** Hash: E.164 number → JSON LedgerEntry. The truth about "was this person dialed". */
  ledger(id: string): string {
    return `${this.c(id)}:ledger`;
  }
  /** Sorted set: row → `next_at` (ms; +inf without one) of the rows not final whose status is 'waiting' (store/index-lua.ts). */
  waiting(id: string): string {
    return `${this.c(id)}:waiting`;
  }
  /** Sorted set: number → when its POST started (ms), for the ledger entries in `sending`. */
  ledgerSending(id: string): string {
    return `${this.c(id)}:ledger:sending`;
  }
  /** Hash: ledger state → entries in it. */
  ledgerCounts(id: string): string {
    return `${this.c(id)}:ledger:counts`;
  }
  /** Hash: call id → row, for each ledger entry's current call (webhooks find their row with one HGET); expires an hour after the campaign settles (store/index-lua.ts). */
  callIds(id: string): string {
    return `${this.c(id)}:callids`;
  }
  /** Sorted set: the campaign's rows in the poll schedule (a copy of its members of `polls`, score 0), for a count without a scan. */
  pollsOf(id: string): string {
    return `${this.c(id)}:polls`;
  }
  /** Hash: a row's key (its id_column value or a hash of its content) → row number; makes appends idempotent. */
  rowKeys(id: string): string {
    return `${this.c(id)}:rowkeys`;
  }
  /**
   * Sorted set: open row number → when its lease ends (ms); the reaper checks the owner of each expired one.
   * Queued rows above the campaign's feed cursor (store/feed.ts) have no entry until they are fed.
   */
  open(id: string): string {
    return `${this.c(id)}:open`;
  }
  /** Lock (SET NX PX) so that one process at a time tops up a campaign's window of dial jobs (dialer/feeder.ts). */
  feedLock(id: string): string {
    return `${this.c(id)}:feed-lock`;
  }
  /** String: the run of a recurring campaign now open (one run at a time). */
  scheduleActive(name: string): string {
    return `${this.prefix}:sched:${name}:active`;
  }
  /** Lock (SET NX PX) so that one worker at a time reaps. */
  get reaperLock(): string {
    return `${this.prefix}:reaper:lock`;
  }
  /** Sorted set: dead-lettered row numbers by time (ms). */
  dlq(id: string): string {
    return `${this.c(id)}:dlq`;
  }
  /**
   * Set: the campaign's row blocks in the archive (store/archive.ts); while it
   * exists, every guarded script answers ARCHIVED (store/lua.ts derives this
   * name from the rows, ledger or row keys key: campaign hash + `:z`).
   */
  archive(id: string): string {
    return `${this.c(id)}:z`;
  }
  /** Sorted set: the campaign's audit blocks in the archive, in stream order. */
  archiveAudit(id: string): string {
    return `${this.c(id)}:za`;
  }
  /** String: one brotli block of the archive (a name from `archive` or `archiveAudit`). */
  archiveBlock(id: string, name: string): string {
    return `${this.c(id)}:z:${name}`;
  }
  /** Lock (SET NX PX) so that one worker at a time runs the archive. */
  get archiveLock(): string {
    return `${this.prefix}:archive:lock`;
  }
  /** Stream: append-only audit record of every dial attempt and final outcome. */
  audit(id: string): string {
    return `${this.c(id)}:audit`;
  }
  /** Sorted set: `<campaign>|<row>` → when the poller should next look at it (ms). */
  get polls(): string {
    return `${this.prefix}:polls`;
  }
  /**
   * Hash: dials a second over the last minute, for a campaign's dial rate
   * (store/limits.ts RECORD_DIAL_LUA).
   */
  dials(id: string): string {
    return `${this.c(id)}:dials:s`;
  }
  /** The sorted set of dial times the record of recent dials was before `dials`: no longer written, deleted with the campaign. */
  dialsBefore(id: string): string {
    return `${this.c(id)}:dials`;
  }
  /** Rate limiter state (theoretical arrival time) for a campaign or the account. */
  limiter(scope: string): string {
    // A campaign's limiter (scope `c:<id>`, dialer/rate.ts) goes with the campaign's keys.
    if (this.spread && scope.startsWith('c:')) return `${this.c(scope.slice(2))}:limiter`;
    return `${this.prefix}:limiter:${scope}`;
  }
  /** Sorted set of leases for a concurrency cap. */
  semaphore(scope: string): string {
    return `${this.prefix}:sem:${scope}`;
  }
  /** Sorted set: row number → lease end (ms) of a live-call slot of the campaign (placed and not yet ended, or its POST under way). */
  live(id: string): string {
    return `${this.c(id)}:live`;
  }
  /** Sorted set: `<campaign>|<row>` → lease end (ms) of a live-call slot, over every campaign (the account cap). */
  get liveAccount(): string {
    return `${this.prefix}:live`;
  }
  /** Global suppression set. */
  get suppression(): string {
    return `${this.prefix}:suppression`;
  }
  /** Set of keyed hashes (HMAC-SHA256 hex) of numbers erased on request (`dialer forget`); never dialed again. */
  get erased(): string {
    return `${this.prefix}:erased`;
  }
  /** Set of `<campaign>|<row>` whose erasure waits for a call in flight to end. */
  get erasePending(): string {
    return `${this.prefix}:erased:pending`;
  }
  /** Lock (SET NX PX) so that one worker a day runs the retention purge. */
  get retentionLock(): string {
    return `${this.prefix}:retention:lock`;
  }
  /** Sorted set of call times for one number (frequency cap). */
  frequency(e164: string): string {
    return `${this.prefix}:freq:${e164}`;
  }
  /** Capped list of raw webhook deliveries, newest first. */
  get webhooks(): string {
    return `${this.prefix}:webhooks`;
  }
  /** Lock (SET NX PX) held while a contacts upload of one campaign streams in (one at a time). */
  uploadLock(id: string): string {
    return `${this.c(id)}:upload-lock`;
  }
  /** Hash: worker id → last heartbeat (ms). */
  get workers(): string {
    return `${this.prefix}:workers`;
  }
  /** Stream: events written by the lifecycle scripts with their transition, not yet in the delivery queue (store/outbox-lua.ts). */
  get eventsOutbox(): string {
    return `${this.prefix}:events:outbox`;
  }
  /**
   * The outbox a campaign's scripts write to: the shared one, or in the spread
   * layout the campaign's own (store/outbox-lua.ts derives the same name from
   * the campaign hash).
   */
  outboxOf(id: string): string {
    return this.spread ? `${this.c(id)}:outbox` : this.eventsOutbox;
  }
  /** Set (spread layout only) of the campaigns whose outbox the relay reads: those that ever had an events target. */
  get eventsCampaigns(): string {
    return `${this.prefix}:events:campaigns`;
  }
  /** Sorted set: event id → when it happened (ms), from the relay until it is delivered or dead-lettered. */
  get eventsUndelivered(): string {
    return `${this.prefix}:events:undelivered`;
  }
  /** Hash: `delivered:<campaign>`, `failed:<campaign>` (failed delivery attempts) → count. */
  get eventsStats(): string {
    return `${this.prefix}:events:stats`;
  }
  /** BullMQ queue of event deliveries (every campaign). */
  get eventsQueue(): string {
    return 'events';
  }
  /** BullMQ queue name of a campaign's dial queue. */
  dialQueue(id: string): string {
    return this.spread ? `dial-{${id}}` : `dial-${id}`;
  }
}
