/**
 * The stored form of an audit event (store/audit-codec.ts): zone lists coded,
 * local times as instant + offset, a rule's zone coded; every field reads
 * back exactly, entries written before read as they are, through a real
 * stream in Redis.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { decodeAuditEvent, decodeAuditField, encodeAuditEvent, encodeAuditField } from '../src/store/audit-codec.js';
import { cleanupPrefix, openTestRuntime, testPrefix } from './helpers/dialer.js';

const prefix = testPrefix('auditcodec');
afterAll(() => cleanupPrefix(prefix));

const AU = 'Australia/Adelaide|Australia/Brisbane|Australia/Darwin|Australia/Hobart|Australia/Melbourne|Australia/Perth|Australia/Sydney';
const round = (field: string, v: string) => decodeAuditField(field, encodeAuditField(field, v));

describe('audit codec', () => {
  it('local times: instant and offset, exactly as written', () => {
    for (const v of ['2026-12-02T23:03:10.794+10:30', '2026-12-02T07:33:10-05:00', '2026-06-08T10:00:00+10:00', '2026-12-02T12:33:10.001Z', '1969-12-31T23:59:59.999Z']) {
      const s = encodeAuditField('local_time', v);
      expect(s.length).toBeLessThan(v.length - 9);
      expect(decodeAuditField('local_time', s)).toBe(v);
    }
    // Anything that would not read back the same is kept as it came.
    for (const v of ['2026-06-08T10:00:00.000+10:00', '2026-13-08T10:00:00+10:00', 'yesterday', '', '#x', '##']) expect(round('local_time', v)).toBe(v);
    expect(encodeAuditField('local_time', '2026-06-08T10:00:00.000+10:00')).toBe('2026-06-08T10:00:00.000+10:00');
  });

  it('rules: a trailing zone in the table is coded', () => {
    const rule = 'au-telemarketing Mon 09:00-20:00 Australia/Sydney';
    expect(encodeAuditField('rule', rule)).toMatch(/^#..au-telemarketing Mon 09:00-20:00$/);
    expect(encodeAuditField('rule', 'none: no calling-hours limit')).toBe('#!none');
    for (const v of [rule, 'none: no calling-hours limit', ': no calling-hours limit', '#!none', 'a: no calling-hours limit Australia/Perth', 'x: not an IANA time zone "Mars/Base"', 'Australia/Sydney', '#0a rule', '#', '']) expect(round('rule', v)).toBe(v);
  });

  it('zone lists coded, numbers masked with one byte', () => {
    expect(encodeAuditField('timezone', AU)).toHaveLength(15);
    expect(round('timezone', AU)).toBe(AU);
    expect(round('number', '+614•••••000')).toBe('+614•••••000');
  });

  it('reads entries written before this encoding as they are', () => {
    const old = ['type', 'dial', 'row', '1', 'local_time', '2026-12-02T23:03:10.794+10:30', 'timezone', 'Australia/Adelaide|~Brisbane', 'rule', 'none: no calling-hours limit'];
    expect(decodeAuditEvent('1796214790850-0', old)).toEqual({
      type: 'dial', row: '1', local_time: '2026-12-02T23:03:10.794+10:30', timezone: 'Australia/Adelaide|Australia/Brisbane', rule: 'none: no calling-hours limit', at: new Date(1796214790850).toISOString(),
    });
  });

  it('a dial event through a real stream reads back whole, in fewer bytes', async () => {
    const t = await openTestRuntime(prefix);
    try {
      const { store } = t.rt;
      const ev = {
        type: 'dial', row: '7', number: '+614•••••000', at: '2026-01-01T00:00:00.000Z', local_time: '2026-01-01T10:30:00+10:30', timezone: AU,
        rule: 'au-telemarketing Thu 09:00-20:00 Australia/Adelaide', consent: 'yes', attempt: '1', call_id: 'call_1', result: 'placed',
      };
      await store.appendAudit('a1', ev);
      const read: Record<string, string>[] = [];
      for await (const [, e] of store.privacy.auditEntries('a1')) read.push(e);
      expect(read).toEqual([ev]);
      const stored = encodeAuditEvent(ev).join('').length;
      expect(stored).toBeLessThan(Object.entries(ev).flat().join('').length - 80);
    } finally {
      await t.rt.close();
    }
  });
});
