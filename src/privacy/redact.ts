import type { RowRecord } from '../campaign/row.js';

/**
 * What is personal in a row record, in one place. Erasure (`forget`) and
 * retention (`purge`) both keep the row itself, so the results file still has
 * one line per input row and the counts add up.
 */

/** Row fields that are (or carry) personal data: who the person is and what was said. */
export const PERSONAL_FIELDS = ['name', 'phone', 'vars', 'keep', 'summary', 'transcript', 'recording_url'] as const;

/**
 * The record with name and number blank and the variables, summary,
 * transcript and recording gone. Outcome, times, call id, consent value and
 * the error text stay: none of them identifies a person on its own (errors
 * are written with masked numbers).
 */
export function personalFieldsBlanked(rec: RowRecord): RowRecord {
  const out: RowRecord = { ...rec, name: '', phone: '' };
  delete out.vars;
  delete out.keep;
  delete out.summary;
  delete out.transcript;
  delete out.recording_url;
  return out;
}

/** What a purged campaign keeps of a row: enough for counts and timing, nothing about the person. */
export const STUB_FIELDS = ['row', 'outcome', 'attempts', 'duration_seconds', 'ended_reason', 'started_at', 'ended_at', 'call_id', 'http_status', 'upload'] as const;

/** A row past retention: the stub fields, name and number blank. */
export function rowStub(rec: RowRecord): RowRecord {
  const out: Record<string, unknown> = { name: '', phone: '' };
  for (const f of STUB_FIELDS) if (rec[f] !== undefined) out[f] = rec[f];
  return out as unknown as RowRecord;
}
