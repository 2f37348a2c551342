import type { CallDetails } from '../api/client.js';

export interface ReconcileTarget {
  phone: string;
  assistantId: string;
  /** When the POST that may have placed the call started (ms). */
  sentAt: number;
  /** Clock difference tolerated between us and the API (ms). */
  skewMs?: number;
  /** Calls already known for this contact (earlier calls and redials): never this POST's call. */
  known?: readonly string[];
}

const digits = (s: string) => s.replace(/\D/g, '');

/**
 * Finds the call an ambiguous POST may have created, among the calls a
 * `GET /calls` returned (whatever its shape, already flattened): same number,
 * same assistant when the API says, created no earlier than the POST. With
 * several candidates the earliest is ours (a later one was someone else's
 * dial); `candidates` tells the caller there was a choice.
 */
export function matchCall(calls: CallDetails[], t: ReconcileTarget): { match?: CallDetails; candidates: number } {
  const skew = t.skewMs ?? 5000;
  const want = digits(t.phone);
  const found = calls
    .filter((c) => c.phoneNumber !== undefined && digits(c.phoneNumber) === want)
    .filter((c) => c.assistantId === undefined || c.assistantId === t.assistantId)
    // A quick redial comes within the clock tolerance of the call before it: known calls are not candidates.
    .filter((c) => !t.known?.includes(c.id))
    .filter((c) => {
      const created = c.createdAt ? Date.parse(c.createdAt) : NaN;
      return Number.isNaN(created) || created >= t.sentAt - skew;
    })
    // Undated calls last: a call dated after the POST is verifiably new, an
    // undated one could be any older call to the number.
    .sort((a, b) => (Date.parse(a.createdAt ?? '') || Infinity) - (Date.parse(b.createdAt ?? '') || Infinity) || 0);
  return { match: found[0], candidates: found.length };
}
