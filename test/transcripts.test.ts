/**
 * `keep_transcripts`: what Redis (and so the results file) keeps of a call's
 * transcript and summary. Off (the default): no transcript, the column stays
 * and is empty, summaries cut at 256 bytes. On: both kept, cut at 32 KB / 2 KB
 * with a marker. The results file keeps one line per uploaded row either way.
 * Real Redis, the simulator over HTTP, workers and poller in this process.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { capText, CUT_MARK, SUMMARY_CAP_BYTES, SUMMARY_SHORT_BYTES, TRANSCRIPT_CAP_BYTES } from '../src/campaign/call-text.js';
import { parseCampaign } from '../src/config/campaign.js';
import { writeResults } from '../src/results/export.js';
import { campaignIn, openTestRuntime, startDialing, type Dialing, type TestRuntime } from './helpers/dialer.js';
import { useTestBed } from './helpers/bed.js';
import { numbers, useSimulators } from './helpers/sim-http.js';

const simulator = useSimulators();
const bed = useTestBed('transcripts');
const { prefix, open } = bed;

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
// The simulator's transcript names the contact three times, its summary once: a long name makes both long.
const LONG = 'Ada '.repeat(3000).trim(); // 11,999 characters
const SHORT = 'Bo';

async function run(name: string, campaign: Record<string, unknown>) {
  const sim = await simulator({ callDurationMs: { min: 50, max: 150 }, outcomes: { completed: 1 } });
  const t = await openTestRuntime(prefix, sim);
  const entry: { t: TestRuntime; d?: Dialing } = { t };
  open.push(entry);
  const phones = numbers(3, 61412300000);
  // Row 2 is rejected (no valid number) and must still have its line.
  const csv = ['name,phone', `${LONG},${phones[0]}`, 'Nobody,12345', `${SHORT},${phones[1]}`, `Ä${LONG}ö,${phones[2]}`].join('\n') + '\n';
  const c = await campaignIn(path.join(bed.dir, name), {
    name, assistant_id: 'CE_1', default_country: 'AU', rate: { calls: 100, per_seconds: 1 }, concurrency: 5,
    poll: { interval_seconds: 0.2, timeout_minutes: 5 }, results: path.join(bed.dir, name, 'results.csv'), ...campaign,
  }, csv);
  entry.d = await startDialing(t.rt, c);
  await entry.d.done();
  const rows = await t.rt.store.getRows(name, [1, 2, 3, 4]);
  const file = path.join(bed.dir, name, 'out.csv');
  await writeResults(t.rt.store, name, file);
  const lines = parseCsv<Record<string, string>>(await readFile(file), { columns: true });
  return { sim, rows, lines };
}

describe('keep_transcripts', () => {
  it('is off by default and must be a boolean', () => {
    const base = { name: 'k', assistant_id: 'A', contacts: 'x.csv' };
    expect(parseCampaign(JSON.stringify(base), 'k.json', '/tmp', '/tmp').keep_transcripts).toBe(false);
    expect(() => parseCampaign(JSON.stringify({ ...base, keep_transcripts: 'yes' }), 'k.json', '/tmp', '/tmp')).toThrow(/keep_transcripts/);
  });

  it('off: no transcript in Redis or the results (column kept, empty); summaries cut at 256 bytes', async () => {
    const { sim, rows, lines } = await run('off', {});
    const calls = [...sim.calls.values()];
    expect(calls).toHaveLength(3);
    for (const r of rows.filter((x) => x?.call_id)) {
      expect(r!.outcome).toBe('completed');
      expect(r!.transcript).toBeUndefined();
      const full = calls.find((c) => c.id === r!.call_id)!;
      const summary = r!.summary!;
      expect(bytes(summary)).toBeLessThanOrEqual(SUMMARY_SHORT_BYTES);
      if (r!.name !== SHORT) {
        expect(summary.endsWith(CUT_MARK)).toBe(true);
        expect(summary.startsWith('Spoke with Ä') || summary.startsWith('Spoke with Ada')).toBe(true);
      }
      expect(full.phoneNumber).toBe(r!.phone);
    }
    const short = rows.find((r) => r?.name === SHORT)!;
    expect(short.summary!.startsWith(`Spoke with ${SHORT}, who `)).toBe(true);
    expect(short.summary!.endsWith(CUT_MARK)).toBe(false);
    // One line per uploaded row, the transcript column there and empty.
    expect(lines.map((l) => l.row)).toEqual(['1', '2', '3', '4']);
    expect(lines[1]!.outcome).toBe('rejected');
    for (const l of lines) {
      expect(l).toHaveProperty('transcript');
      expect(l.transcript).toBe('');
    }
  });

  it('on: transcripts and summaries kept, long ones cut at 32 KB / 2 KB with the marker', async () => {
    const { rows, lines } = await run('on', { keep_transcripts: true });
    const long = [rows[0]!, rows[3]!];
    for (const r of long) {
      expect(r.outcome).toBe('completed');
      expect(bytes(r.transcript!)).toBeLessThanOrEqual(TRANSCRIPT_CAP_BYTES);
      expect(bytes(r.transcript!)).toBeGreaterThan(TRANSCRIPT_CAP_BYTES - 16);
      expect(r.transcript!.endsWith(CUT_MARK)).toBe(true);
      expect(r.transcript!.startsWith('AI: Hi ')).toBe(true);
      expect(bytes(r.summary!)).toBeLessThanOrEqual(SUMMARY_CAP_BYTES);
      expect(r.summary!.endsWith(CUT_MARK)).toBe(true);
    }
    // Cut on a character boundary: no broken multi-byte character.
    expect(rows[3]!.transcript!).not.toContain('\uFFFD');
    const short = rows[2]!;
    expect(short.transcript).toContain(`AI: Hi ${SHORT}, this is the Callease assistant.`);
    expect(short.transcript!.endsWith(CUT_MARK)).toBe(false);
    expect(lines.map((l) => l.row)).toEqual(['1', '2', '3', '4']);
    expect(lines[2]!.transcript).toBe(short.transcript);
    expect(lines[0]!.transcript).toBe(rows[0]!.transcript);
  });
});

describe('capText', () => {
  it('leaves text within the cap alone and cuts longer text to the cap, marker included', () => {
    expect(capText('hello', 5)).toBe('hello');
    const cut = capText('ééééé', 8); // 10 bytes; room for the marker's 6 bytes leaves 2 = one é
    expect(cut).toBe(`é${CUT_MARK}`);
    expect(bytes(cut)).toBeLessThanOrEqual(8);
    expect(capText(cut, 8)).toBe(cut);
  });
});
