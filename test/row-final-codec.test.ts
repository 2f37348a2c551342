/**
 * A final row's stored form (store/row-codec.ts: `so`, `nt`, `ru`, `ed`):
 * rows stored before it (fixtures of those bytes) and rows ended now through
 * the lifecycle script give byte-identical results files, and the flags come
 * undone when a final row opens again or is erased.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RowRecord } from '../src/campaign/row.js';
import { loadCampaign } from '../src/loader/load.js';
import { writeResults } from '../src/results/export.js';
import { decodeRow, encodeRow, encodeRowPatch } from '../src/store/row-codec.js';
import { useTestBed } from './helpers/bed.js';
import { campaignIn, openTestRuntime, REPO_ROOT } from './helpers/dialer.js';

const bed = useTestBed('row-final');
const FIXTURE = path.join(REPO_ROOT, 'test/fixtures/rows/final-rows-before.json');
/** What the poller's finish patch sets (poller.ts details()). */
const CALL_FIELDS = ['status', 'duration_seconds', 'ended_reason', 'started_at', 'ended_at', 'summary', 'recording_url', 'cost', 'error'] as const;

async function fixture(): Promise<[number, string][]> {
  return (JSON.parse(await readFile(FIXTURE, 'utf8')) as { rows: [number, string][] }).rows;
}

describe('final row codec', () => {
  it('ends, reads and renders rows exactly as the rows stored before', async () => {
    const t = await openTestRuntime(bed.prefix);
    bed.open.push({ t });
    const { rt } = t;
    const rows = await fixture();
    const csv = ['name,phone', ...rows.map(([r]) => `P${r},+6140000${String(r).padStart(4, '0')}`)].join('\n') + '\n';
    for (const name of ['before', 'after']) {
      const c = await campaignIn(path.join(bed.dir, name), { name, assistant_id: 'CE_1', default_country: 'AU' }, csv);
      await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => Date.now() }, c);
      await rt.redis.del(rt.store.keys.rows(name));
    }
    await rt.redis.hset(rt.store.keys.rows('before'), ...rows.flat().map(String));

    // The same rows ended now: placed, then the final move with the call's details.
    for (const [row, stored] of rows) {
      const rec = decodeRow(stored);
      if (!rec.call_id) {
        // A final row: nothing to dial (LOAD_ROWS answers 0).
        expect(await rt.store.loadRows('after', [rec])).toEqual([0]);
        continue;
      }
      const placed: Record<string, unknown> = { ...rec, state: 'placed', status: 'in-progress' };
      for (const f of [...CALL_FIELDS, 'outcome']) if (f !== 'status') delete placed[f];
      await rt.redis.hset(rt.store.keys.rows('after'), String(row), encodeRow(placed as unknown as RowRecord));
      const patch = Object.fromEntries(CALL_FIELDS.map((f) => [f, rec[f] ?? null]));
      expect(await rt.store.moveRow('after', row, { outcome: rec.outcome!, patch })).toMatch(/applied|finished-campaign/);
    }

    const nums = rows.map(([r]) => r);
    expect(await rt.store.getRows('after', nums)).toEqual(await rt.store.getRows('before', nums));
    expect(await rt.store.getRows('before', nums)).toEqual(rows.map(([, s]) => decodeRow(s)));
    for (const format of ['csv', 'jsonl'] as const) {
      const a = await writeResults(rt.store, 'before', path.join(bed.dir, `before.${format}`), format);
      const b = await writeResults(rt.store, 'after', path.join(bed.dir, `after.${format}`), format);
      expect(a.rows).toBe(rows.length);
      expect(await readFile(b.file)).toEqual(await readFile(a.file));
    }

    // What the final form left out, and what it kept.
    const raw = async (row: number) => JSON.parse((await rt.redis.hget(rt.store.keys.rows('after'), String(row)))!) as Record<string, unknown>;
    const completed = await raw(2);
    expect(completed).toMatchObject({ so: 1, nt: 1, ru: ['https://recordings.callease.invalid/', '.mp3'], ed: 437, sa: 1796228893909 });
    for (const k of ['status', 'numbers_tried', 'recording_url', 'ea']) expect(completed).not.toHaveProperty(k);
    const stored = Object.fromEntries(rows);
    expect(JSON.stringify(completed).length).toBeLessThan(stored[2]!.length - 80);
    // Another status, several numbers, a URL without the call id, an end time not in ms: as they came.
    expect(await raw(5)).toMatchObject({ so: 1, numbers_tried: '+61400000010 +61400000011', ed: 300 });
    expect(await raw(6)).toMatchObject({ status: 'ended', nt: 1, recording_url: 'https://media.example/rec/6.wav', ea: '2026-12-02T06:21:07+10:00' });
    expect(await raw(6)).not.toHaveProperty('ed');
  });

  it('puts the fields back when a final row opens again, and the erasure drops them', async () => {
    const t = await openTestRuntime(bed.prefix);
    bed.open.push({ t });
    const { rt } = t;
    const csv = 'name,phone\nAnn,+61412000001\nBo,+61412000002\n';
    const c = await campaignIn(path.join(bed.dir, 'reopen'), { name: 'reopen', assistant_id: 'CE_1', default_country: 'AU' }, csv);
    await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => Date.now() }, c);
    for (const [row, phone] of [[1, '+61412000001'], [2, '+61412000002']] as const) {
      await rt.store.moveRow('reopen', row, { patch: { call_id: `call_${row}x`, numbers_tried: phone, status: 'queued', attempts: 1 } });
      await rt.store.moveRow('reopen', row, {
        outcome: 'failed',
        patch: { status: 'failed', recording_url: `https://r.example/call_${row}x.mp3`, started_at: '2026-12-02T06:20:55.216Z', ended_at: '2026-12-02T06:21:07.000Z' },
      });
    }
    const ended = (await rt.store.getRow('reopen', 1))!;
    expect(ended).toMatchObject({ outcome: 'failed', status: 'failed', numbers_tried: '+61412000001', recording_url: 'https://r.example/call_1x.mp3', ended_at: '2026-12-02T06:21:07.000Z' });
    expect(JSON.parse((await rt.redis.hget(rt.store.keys.rows('reopen'), '1'))!)).toMatchObject({ so: 1, nt: 1, ru: ['https://r.example/', '.mp3'] });

    expect(await rt.store.reopenRow('reopen', 1, 'failed', 'reopen-1-dlq')).toBe(true);
    const raw = JSON.parse((await rt.redis.hget(rt.store.keys.rows('reopen'), '1'))!) as Record<string, unknown>;
    for (const k of ['so', 'nt', 'ru']) expect(raw).not.toHaveProperty(k);
    const { outcome: _, state: __, ...rest } = ended;
    expect(await rt.store.getRow('reopen', 1)).toEqual({ ...rest, state: 'queued', job: 'reopen-1-dlq', dlq_retried: true });

    await rt.store.privacy.eraseNumber('reopen', '+61412000002', new Date().toISOString(), ['2']);
    const erased = (await rt.store.getRow('reopen', 2))!;
    expect(erased).toMatchObject({ phone: '', outcome: 'failed', status: 'failed', call_id: 'call_2x' });
    expect(erased.numbers_tried).toBeUndefined();
    expect(erased.recording_url).toBeUndefined();
  });

  it('stores an end time as its distance from the start; a patch sets both', () => {
    const p = JSON.parse(encodeRowPatch({ started_at: '2026-12-02T06:20:55.216Z', ended_at: '2026-12-02T06:21:07.000Z' })) as Record<string, unknown>;
    expect(p).toMatchObject({ sa: Date.parse('2026-12-02T06:20:55.216Z'), ed: 11_784, ea: null, started_at: null, ended_at: null });
    expect(JSON.parse(encodeRowPatch({ started_at: null, ended_at: null }))).toMatchObject({ sa: null, ea: null, ed: null });
    expect(() => encodeRowPatch({ ended_at: '2026-12-02T06:21:07.000Z' })).toThrow(/together/);
    const rec: RowRecord = { row: 1, name: 'A', phone: '+61412000001', state: 'queued', started_at: '2026-12-02T06:20:55.216Z', ended_at: '2026-12-02T06:21:07.000Z' };
    expect(JSON.parse(encodeRow(rec))).not.toHaveProperty('ea');
    expect(decodeRow(encodeRow(rec))).toEqual(rec);
    // An end time alone, or one that is not exact ms, stays as it is.
    const { started_at: _, ...endOnly } = rec;
    for (const r of [endOnly, { ...rec, ended_at: '2026-12-02T16:21:07+10:00' }]) expect(decodeRow(encodeRow(r))).toEqual(r);
  });
});
