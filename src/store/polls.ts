import type { IndexesStore } from './indexes.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

/**
 * The poll schedule: `polls` (`<campaign>|<row>` → when the poller should next
 * look, ms, over every campaign) and, per campaign, a copy of its members
 * (`pollsOf`, score 0) written in the same MULTI (two writes in the spread
 * layout, where they sit in different slots), so a campaign's polls are
 * counted without a scan.
 */
export class PollSchedule {
  constructor(private readonly redis: RedisClient, private readonly keys: Keys, private readonly indexes: IndexesStore) {}

  async schedule(id: string, row: number, at: number, onlyIfAbsent = false): Promise<void> {
    if (this.keys.spread) {
      // Two slots: the campaign's copy first, so a crash between leaves the count high and the
      // row unscheduled, which the reaper repairs (it schedules a poll-owned row found without one).
      await this.redis.zadd(this.keys.pollsOf(id), 0, String(row));
      if (onlyIfAbsent) await this.redis.zadd(this.keys.polls, 'NX', at, `${id}|${row}`);
      else await this.redis.zadd(this.keys.polls, at, `${id}|${row}`);
      return;
    }
    const m = this.redis.multi();
    if (onlyIfAbsent) m.zadd(this.keys.polls, 'NX', at, `${id}|${row}`);
    else m.zadd(this.keys.polls, at, `${id}|${row}`);
    await m.zadd(this.keys.pollsOf(id), 0, String(row)).exec();
  }

  async isScheduled(id: string, row: number): Promise<boolean> {
    return (await this.redis.zscore(this.keys.polls, `${id}|${row}`)) !== null;
  }

  async unschedule(id: string, row: number): Promise<void> {
    if (this.keys.spread) {
      await this.redis.zrem(this.keys.polls, `${id}|${row}`);
      await this.redis.zrem(this.keys.pollsOf(id), String(row));
      return;
    }
    await this.redis.multi().zrem(this.keys.polls, `${id}|${row}`).zrem(this.keys.pollsOf(id), String(row)).exec();
  }

  /** The members CLAIM_DUE returned, as campaign and row. */
  claimDue(members: string[]): { campaign: string; row: number }[] {
    return members.map((m) => {
      const i = m.lastIndexOf('|');
      return { campaign: m.slice(0, i), row: Number(m.slice(i + 1)) };
    });
  }

  /** When the most overdue poll was due (ms), or undefined when none is due at `now` (claimed polls are leased into the future). */
  async oldestDue(now: number): Promise<number | undefined> {
    const [, score] = await this.redis.zrangebyscore(this.keys.polls, '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1);
    return score === undefined ? undefined : Number(score);
  }

  /** Polls scheduled, over every campaign or for one (its copy of the schedule; a scan for a campaign older than the indexes). */
  async pending(id?: string): Promise<number> {
    if (!id) return this.redis.zcard(this.keys.polls);
    if (await this.indexes.indexed(id)) return this.indexes.polls(id);
    let n = 0;
    let cursor = '0';
    do {
      const [next, items] = await this.redis.zscan(this.keys.polls, cursor, 'MATCH', `${id}|*`, 'COUNT', 1000);
      cursor = next;
      n += items.length / 2;
    } while (cursor !== '0');
    return n;
  }
}
