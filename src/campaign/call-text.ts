import type { Campaign } from '../config/campaign.js';

/**
 * What Redis keeps of a call's transcript and summary (`keep_transcripts`).
 * A transcript is the largest thing a row can hold, and Redis runs with
 * `noeviction`: a full Redis stops dialing. So by default the row keeps no
 * transcript (the results column stays, empty; the transcript stays at
 * Callease under the call id) and a summary of at most SUMMARY_SHORT_BYTES.
 * With `keep_transcripts: true` both are kept up to their caps. Text over a
 * cap is cut on a character boundary and ends with CUT_MARK, the whole within
 * the cap.
 */
export const TRANSCRIPT_CAP_BYTES = 32 * 1024;
export const SUMMARY_CAP_BYTES = 2 * 1024;
export const SUMMARY_SHORT_BYTES = 256;
export const CUT_MARK = ' […]';

/** `text` cut to at most `cap` UTF-8 bytes (marker included), or as it is when it fits. */
export function capText(text: string, cap: number): string {
  if (Buffer.byteLength(text, 'utf8') <= cap) return text;
  const room = cap - Buffer.byteLength(CUT_MARK, 'utf8');
  let bytes = 0;
  let end = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > room) break;
    bytes += n;
    end += ch.length;
  }
  return text.slice(0, end).trimEnd() + CUT_MARK;
}

type TextPatch = { transcript?: unknown; summary?: unknown };

/** The patch with transcript and summary as the campaign keeps them (see above); other fields untouched. */
export function keptCallText<P extends TextPatch>(c: Pick<Campaign, 'keep_transcripts'>, patch: P): P {
  const keep = c.keep_transcripts === true;
  const out = { ...patch };
  if (typeof out.transcript === 'string') out.transcript = keep ? capText(out.transcript, TRANSCRIPT_CAP_BYTES) : null;
  if (typeof out.summary === 'string') out.summary = capText(out.summary, keep ? SUMMARY_CAP_BYTES : SUMMARY_SHORT_BYTES);
  return out;
}
