import type { RowRecord } from '../campaign/row.js';
import type { Campaign } from '../config/campaign.js';
import { personalFieldsBlanked } from '../privacy/redact.js';
import type { GateResult } from './types.js';

/**
 * Consent. A campaign with `consent_column` dials a row only when
 * that column says yes. "Yes" is anything that is not a refusal or a blank:
 * consent columns hold "yes", "Y", "1", a date or "web form 2024-03", so an
 * allow-list would drop real consent; but every common way of writing
 * "no" / "none" / "unknown" / "withdrawn" is a refusal, because calling
 * someone without consent is the mistake that must not happen.
 */
const REFUSALS = new Set([
  '', 'no', 'n', 'false', 'f', '0', 'off', 'none', 'null', 'nil', 'na', 'n/a', '?', 'unknown',
  'declined', 'refused', 'withdrawn', 'revoked', 'opt out', 'opted out', 'optout', 'unsubscribed',
  'no consent', 'do not call', 'dnc',
]);

/** Lower-case, spaces/`_`/`-` folded and trimmed: " Opted_Out " → "opted out", "-" → "". */
function fold(value: string): string {
  return value.toLowerCase().replace(/[\s_-]+/g, ' ').trim();
}

/** Whether a consent cell allows the call. Undefined (column missing) is no consent. */
export function hasConsent(value: string | undefined | null): boolean {
  if (value === undefined || value === null) return false;
  return !REFUSALS.has(fold(value));
}

function refusal(c: Pick<Campaign, 'consent_column'>, rec: RowRecord): string {
  return `no consent (${c.consent_column}: ${JSON.stringify(rec.consent ?? '')})`;
}

/**
 * Load-time screen: a row without consent ends `no-consent` and keeps no
 * personal data (name, number, variables are blanked: we hold nothing about a
 * person who did not agree). The consent value stays, as the results' record of
 * what was relied on. Rows of campaigns without `consent_column` pass.
 */
export function consentScreen(c: Pick<Campaign, 'consent_column'>, rec: RowRecord): RowRecord {
  if (rec.outcome || !c.consent_column || hasConsent(rec.consent)) return rec;
  return { ...personalFieldsBlanked(rec), outcome: 'no-consent', error: refusal(c, rec) };
}

/**
 * The same rule immediately before each POST (defence in depth: a row loaded
 * by an older version, or edited in Redis, still can't be called without
 * consent). Undefined = no objection.
 */
export function consentGate(c: Pick<Campaign, 'consent_column'>, rec: RowRecord): GateResult | undefined {
  if (!c.consent_column || hasConsent(rec.consent)) return undefined;
  return { action: 'skip', outcome: 'no-consent', reason: refusal(c, rec) };
}
