/**
 * Key names (store/keys.ts): the flat layout keeps every name as it always
 * was (existing data on one Redis, or a Cluster with a `{tagged}` prefix,
 * keeps working); the spread layout gives each campaign key the campaign's
 * hash tag and each account key the prefix's.
 */
import { describe, expect, it } from 'vitest';
import { Keys } from '../src/store/keys.js';

/** Redis Cluster's hash tag rule: the text between the first `{` and the next `}`, when not empty. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

/** Every key of campaign `id` the store names (BullMQ's dial queue keys start with its prefix and name). */
const campaignKeys = (k: Keys, id: string): string[] => [
  k.campaign(id), k.rows(id), k.rowsByOutcome(id, 'completed'), k.counts(id), k.ledger(id), k.waiting(id), k.ledgerSending(id),
  k.ledgerCounts(id), k.callIds(id), k.pollsOf(id), k.rowKeys(id), k.open(id), k.dlq(id), k.audit(id), k.dials(id),
  k.limiter(`c:${id}`), k.live(id), k.uploadLock(id), k.outboxOf(id), `${k.dialQueuePrefix}:${k.dialQueue(id)}:wait`,
  k.archive(id), k.archiveAudit(id), k.archiveBlock(id, 'r0'),
];
const accountKeys = (k: Keys): string[] => [
  k.campaigns, k.scheduleActive('nightly'), k.reaperLock, k.polls, k.limiter('account'), k.semaphore('account'), k.liveAccount,
  k.suppression, k.erased, k.erasePending, k.retentionLock, k.frequency('+61412000001'), k.webhooks, k.workers,
  k.eventsOutbox, k.eventsCampaigns, k.eventsUndelivered, k.eventsStats, `${k.prefix}:${k.eventsQueue}:wait`, k.archiveLock,
];

describe('key layouts', () => {
  it('flat: the names existing data is stored under', () => {
    const k = new Keys('dialer');
    expect(k.spread).toBe(false);
    expect(campaignKeys(k, 'spring')).toEqual([
      'dialer:c:spring', 'dialer:c:spring:rows', 'dialer:c:spring:rows:o:completed', 'dialer:c:spring:counts', 'dialer:c:spring:ledger',
      'dialer:c:spring:waiting', 'dialer:c:spring:ledger:sending', 'dialer:c:spring:ledger:counts', 'dialer:c:spring:callids',
      'dialer:c:spring:polls', 'dialer:c:spring:rowkeys', 'dialer:c:spring:open', 'dialer:c:spring:dlq', 'dialer:c:spring:audit',
      // `:dials:s`: the record of recent dials, a hash (the sorted set `:dials` it replaced is deleted with the campaign).
      'dialer:c:spring:dials:s', 'dialer:limiter:c:spring', 'dialer:c:spring:live', 'dialer:c:spring:upload-lock', 'dialer:events:outbox',
      'dialer:dial-spring:wait', 'dialer:c:spring:z', 'dialer:c:spring:za', 'dialer:c:spring:z:r0',
    ]);
    expect(accountKeys(k)).toEqual([
      'dialer:campaigns', 'dialer:sched:nightly:active', 'dialer:reaper:lock', 'dialer:polls', 'dialer:limiter:account', 'dialer:sem:account',
      'dialer:live', 'dialer:suppression', 'dialer:erased', 'dialer:erased:pending', 'dialer:retention:lock', 'dialer:freq:+61412000001',
      'dialer:webhooks', 'dialer:workers', 'dialer:events:outbox', 'dialer:events:campaigns', 'dialer:events:undelivered', 'dialer:events:stats', 'dialer:events:wait', 'dialer:archive:lock',
    ]);
    expect(k.scanPatterns).toEqual(['dialer:*']);
    // A `{tagged}` prefix (one slot in a Cluster) is used as it is.
    expect(new Keys('{dialer}').rows('spring')).toBe('{dialer}:c:spring:rows');
  });

  it('spread: every campaign key in its campaign\'s slot, every account key in the prefix\'s', () => {
    const k = new Keys('dialer', 'spread');
    expect(k.spread).toBe(true);
    for (const id of ['spring', 'a-1', '9']) {
      for (const key of campaignKeys(k, id)) expect(hashTag(key), key).toBe(id);
    }
    for (const key of accountKeys(k)) expect(hashTag(key), key).toBe('dialer');
    expect(k.rows('spring')).toBe('dialer:c:{spring}:rows');
    expect(k.dialQueue('spring')).toBe('dial-{spring}');
    expect(k.suppression).toBe('{dialer}:suppression');
    expect(k.scanPatterns).toEqual(['{dialer}:*', 'dialer:*']);
  });
});
