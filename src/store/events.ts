import { Job } from 'bullmq';
import type { EventsConfig, EventsTarget } from '../config/events.js';
import { eventsQueue, type EventJobData } from '../events/queue.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

/** One outbox entry as the lifecycle scripts wrote it (store/outbox-lua.ts). */
export interface OutboxEntry {
  /** Stream entry id; its time part is when the transition happened. */
  streamId: string;
  /** When the transition happened (ms, Redis time). */
  at: number;
  fields: Record<string, string>;
  /** The outbox stream it was read from (Keys.outboxOf). */
  outbox: string;
}

/**
 * The Redis side of outbound events: the target recorded with a campaign
 * (which turns its outbox on), the outbox stream, the index of events not yet
 * delivered, and delivery counts. Delivery itself is a BullMQ queue.
 */
export class EventsStore {
  constructor(private readonly redis: RedisClient, private readonly keys: Keys) {}

  /** Records (or removes) a campaign's resolved target: with it, the lifecycle scripts write its events. */
  async setTarget(c: { name: string; events?: EventsConfig }): Promise<void> {
    if (c.events?.url) {
      // Spread layout: listed for the relay before its scripts can write to its outbox. It stays
      // listed when the target goes, so whatever its outbox still holds is read (and dropped).
      if (this.keys.spread) await this.redis.sadd(this.keys.eventsCampaigns, c.name);
      await this.redis.hset(this.keys.campaign(c.name), 'events', JSON.stringify(c.events));
    } else await this.redis.hdel(this.keys.campaign(c.name), 'events');
  }

  async target(id: string): Promise<EventsTarget | undefined> {
    const v = await this.redis.hget(this.keys.campaign(id), 'events');
    return v ? (JSON.parse(v) as EventsTarget) : undefined;
  }

  /** The outboxes to read: the shared one, or in the spread layout each campaign's that ever had a target. */
  private async outboxes(): Promise<string[]> {
    if (!this.keys.spread) return [this.keys.eventsOutbox];
    return (await this.redis.smembers(this.keys.eventsCampaigns)).sort().map((id) => this.keys.outboxOf(id));
  }

  /** The oldest `count` outbox entries (over every campaign's outbox in the spread layout). */
  async readOutbox(count: number): Promise<OutboxEntry[]> {
    const per = await Promise.all((await this.outboxes()).map(async (outbox) => (await this.readStream(outbox, count))));
    const all = per.flat();
    if (per.length > 1) all.sort((a, b) => a.at - b.at);
    return all.slice(0, count);
  }

  private async readStream(outbox: string, count: number): Promise<OutboxEntry[]> {
    const raw = await this.redis.xrange(outbox, '-', '+', 'COUNT', count);
    return raw.map(([streamId, flat]) => {
      const fields: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
      return { streamId, at: Number(streamId.split('-')[0]), fields, outbox };
    });
  }

  /**
   * Entries now in the delivery queue (or dropped): indexed as undelivered
   * and taken out of the outbox, in one step (two in the spread layout, the
   * index first: a crash between relays them again, which adds nothing).
   * Relaying an entry twice (a crash before this) adds nothing: the job id is
   * the event id.
   */
  async relayed(entries: Pick<OutboxEntry, 'streamId' | 'outbox'>[], queued: { id: string; at: number }[]): Promise<void> {
    if (entries.length === 0) return;
    const byOutbox = new Map<string, string[]>();
    for (const e of entries) byOutbox.set(e.outbox, [...(byOutbox.get(e.outbox) ?? []), e.streamId]);
    if (!this.keys.spread) {
      const m = this.redis.multi();
      if (queued.length) m.zadd(this.keys.eventsUndelivered, 'NX', ...queued.flatMap((q) => [q.at, q.id]));
      for (const [outbox, ids] of byOutbox) m.xdel(outbox, ...ids);
      await m.exec();
      return;
    }
    if (queued.length) await this.redis.zadd(this.keys.eventsUndelivered, 'NX', ...queued.flatMap((q) => [q.at, q.id]));
    await Promise.all([...byOutbox].map(([outbox, ids]) => this.redis.xdel(outbox, ...ids)));
  }

  /** An event reached its receiver. */
  async delivered(id: string, campaign: string): Promise<void> {
    await this.redis.multi().zrem(this.keys.eventsUndelivered, id).hincrby(this.keys.eventsStats, `delivered:${campaign}`, 1).exec();
  }

  /** A delivery attempt failed; `final`: no attempt is left, the event is a dead letter. */
  async attemptFailed(id: string, campaign: string, final: boolean): Promise<void> {
    const m = this.redis.multi().hincrby(this.keys.eventsStats, `failed:${campaign}`, 1);
    if (final) m.zrem(this.keys.eventsUndelivered, id);
    await m.exec();
  }

  /** A dead letter sent back: undelivered again since `at`. */
  async requeued(id: string, at: number): Promise<void> {
    await this.redis.zadd(this.keys.eventsUndelivered, at, id);
  }

  /** Counts per `delivered:<campaign>` / `failed:<campaign>`. */
  async stats(): Promise<Record<string, number>> {
    const h = await this.redis.hgetall(this.keys.eventsStats);
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  }

  /** Events not delivered yet (in the outbox or the queue) and when the oldest of them happened (ms). */
  /**
   * Rewrites the data of the delivery jobs with these ids that Redis still
   * holds (queued, retrying, dead-lettered, or delivered within the hour);
   * returns how many there were.
   */
  async rewriteDeliveries(ids: string[], fn: (data: EventJobData, id: string) => EventJobData): Promise<number> {
    if (ids.length === 0) return 0;
    const queue = eventsQueue(this.redis, this.keys);
    try {
      let n = 0;
      for (const id of ids) {
        const job = await Job.fromId<EventJobData>(queue, id);
        if (!job) continue;
        await job.updateData(fn(job.data, id));
        n++;
      }
      return n;
    } finally {
      await queue.close();
    }
  }

  async backlog(): Promise<{ outbox: number; undelivered: number; oldestAt?: number }> {
    const outboxes = await this.outboxes();
    const [lens, firsts, undelivered, oldest] = await Promise.all([
      Promise.all(outboxes.map((o) => this.redis.xlen(o))),
      Promise.all(outboxes.map((o) => this.redis.xrange(o, '-', '+', 'COUNT', 1))),
      this.redis.zcard(this.keys.eventsUndelivered),
      this.redis.zrange(this.keys.eventsUndelivered, 0, 0, 'WITHSCORES'),
    ]);
    const times = [...firsts.map((f) => (f[0] ? Number(f[0][0].split('-')[0]) : undefined)), oldest[1] === undefined ? undefined : Number(oldest[1])].filter((t): t is number => t !== undefined);
    return { outbox: lens.reduce((a, b) => a + b, 0), undelivered, oldestAt: times.length ? Math.min(...times) : undefined };
  }

  /** Whether any event of a campaign still waits for delivery (outbox or queue). */
  async pendingFor(campaign: string): Promise<number> {
    const prefix = `evt_${campaign}_`;
    let n = 0;
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.zscan(this.keys.eventsUndelivered, cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      n += flat.length / 2;
    } while (cursor !== '0');
    for (const e of await this.readStream(this.keys.outboxOf(campaign), 10_000)) if (e.fields.campaign === campaign) n++;
    return n;
  }
}
