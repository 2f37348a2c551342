import type { Outcome } from '../campaign/row.js';

/** Status words that end a call, and the outcome each one means. */
const FINAL: Record<string, Outcome> = {
  completed: 'completed',
  'no-answer': 'no-answer',
  'not-answered': 'no-answer',
  unanswered: 'no-answer',
  busy: 'busy',
  voicemail: 'voicemail',
  machine: 'voicemail',
  failed: 'failed',
  error: 'failed',
  canceled: 'canceled',
  cancelled: 'canceled',
};

/**
 * Maps a Callease status word to an outcome. Unknown words mean "still
 * running" (the poll timeout ends those), never "done". A generic `ended`
 * is read through the end reason.
 */
export function mapCallStatus(status: string, endedReason?: string): { final: true; outcome: Outcome } | { final: false } {
  const s = status.trim().toLowerCase().replace(/[_\s]+/g, '-');
  const outcome = FINAL[s];
  if (outcome) return { final: true, outcome };
  if (s === 'ended' || s === 'finished' || s === 'done') {
    const r = (endedReason ?? '').toLowerCase();
    if (/no[-_ ]?answer|did[-_ ]?not[-_ ]?answer|unanswered/.test(r)) return { final: true, outcome: 'no-answer' };
    if (/busy/.test(r)) return { final: true, outcome: 'busy' };
    if (/voicemail|machine/.test(r)) return { final: true, outcome: 'voicemail' };
    if (/error|fail/.test(r)) return { final: true, outcome: 'failed' };
    return { final: true, outcome: 'completed' };
  }
  return { final: false };
}
