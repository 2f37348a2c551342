import { isSupportedCountry, type CountryCode } from 'libphonenumber-js/max';
import { DialerError } from '../errors.js';
import { maskPhone, type Logger } from '../log.js';
import { normalizePhone } from '../phone/normalize.js';
import type { Store } from '../store/store.js';
import { rewriteResultsFiles } from './files.js';
import { markErased, requireHashKey } from './hash.js';
import { ERASED_REASON } from '../gate/erasure.js';
import { decodeRow } from '../store/row-codec.js';
import { blankEvents } from './events.js';

export interface PrivacyDeps {
  store: Store;
  log: Logger;
  /** DIALER_HASH_KEY. */
  hashKey?: string;
}

export interface CampaignErasure {
  campaign: string;
  /** Rows whose personal fields were blanked. */
  rows: number;
  /** Of those, rows not dialed yet that now end `suppressed`. */
  stopped: number;
  /** Rows whose call is in flight: their number goes once the call ends (erasure sweep). */
  deferred: number;
  ledger: number;
  deadLetters: number;
  /** Event deliveries kept in Redis (queued, retrying, dead-lettered or delivered within the hour) whose personal fields were blanked. */
  events: number;
  /** Calls of this person at Callease (their transcripts and recordings live there). */
  callIds: string[];
  results: string[];
}

export interface ForgetReport {
  /** The number as E.164, masked, in each form it was read (one unless campaigns differ in default_country). */
  numbers: string[];
  /** True when the number was not in the erased set before. */
  newlyErased: boolean;
  campaigns: CampaignErasure[];
  frequencyKeys: number;
  suppressionEntries: number;
  /** Keys that still hold the number (other than the rows, ledger and sending index of calls in flight, whose erasure waits). */
  leftovers: string[];
}

const digits = (s: string) => s.replace(/\D/g, '');

/**
 * `dialer forget <number>`: erases one person from every campaign. The
 * number's keyed hash goes into the erased set first, so from that moment no
 * load and no worker gate lets it through; then rows, ledger entries, dead
 * letters, frequency keys and suppression entries lose it, and the results
 * files on this machine are rendered again, and the event deliveries Redis
 * still holds for those rows lose the personal fields. Audit entries stay as they are:
 * they hold only a masked number ("+614•••••678": not enough to dial or
 * identify anyone), and an append-only record of who was called when is
 * worth more than rewriting it. BullMQ jobs carry only row numbers.
 */
export async function forgetNumber(deps: PrivacyDeps, raw: string, opts: { country?: string; verify?: boolean } = {}): Promise<ForgetReport> {
  const { store, log } = deps;
  const key = requireHashKey(deps.hashKey);
  const country = opts.country?.toUpperCase();
  if (country !== undefined && !isSupportedCountry(country)) throw new DialerError('USAGE', `--country "${opts.country}" is not a two-letter country code libphonenumber knows`);

  // The number as each campaign reads it (a national number depends on its default_country).
  const ids = await store.listCampaigns();
  const infos = (await Promise.all(ids.map((id) => store.getCampaign(id)))).filter((i) => i !== undefined);
  const forms = new Set<string>();
  const direct = normalizePhone(raw, country);
  if (direct.ok) forms.add(direct.e164);
  if (!country) {
    for (const i of infos) {
      const r = normalizePhone(raw, i.campaign.default_country as CountryCode | undefined);
      if (r.ok) forms.add(r.e164);
    }
  }
  if (forms.size === 0) {
    const why = direct.ok ? '' : ` (${direct.reason})`;
    throw new DialerError('USAGE', `cannot read "${maskPhone(raw.trim())}" as a phone number${why}; write it with +country code or give --country`);
  }
  const numbers = [...forms];
  const newlyErased = (await markErased(store, numbers, key)) > 0;

  const report: ForgetReport = { numbers: numbers.map(maskPhone), newlyErased, campaigns: [], frequencyKeys: 0, suppressionEntries: 0, leftovers: [] };
  const deferredKeys = new Set<string>();
  for (const info of infos) {
    const c = info.campaign;
    const e = await eraseInCampaign(store, c.name, numbers, (country ?? c.default_country) as CountryCode | undefined);
    if (e.rows === 0 && e.ledger === 0 && e.deferred === 0) continue;
    if (e.deferred) deferredKeys.add(store.keys.rows(c.name)).add(store.keys.ledger(c.name)).add(store.keys.ledgerSending(c.name));
    await store.appendAudit(c.name, { type: 'erasure', at: new Date().toISOString(), rows: e.rows, deferred: e.deferred });
    e.results = await rewriteResultsFiles(store, c.name, c, e.finished);
    e.events = await blankEvents(store, c, e.erasedRows);
    const { erasedRows: _rows, finished: _finished, ...shown } = e;
    report.campaigns.push(shown);
  }

  for (const n of numbers) {
    report.frequencyKeys += await store.frequency.erase(n);
    report.suppressionEntries += await store.suppression.erase(n);
  }
  if (opts.verify !== false) {
    const found = await store.privacy.findText(numbers.map(digits));
    report.leftovers = found.filter((f) => !deferredKeys.has(f.key)).map((f) => `${f.key} (${f.type} ${f.where})`);
  }
  log.info({ numbers: report.numbers, campaigns: report.campaigns.length }, 'number erased on request');
  return report;
}

interface Erasure extends CampaignErasure {
  finished: boolean;
  /** Rows blanked now (not those deferred until their call ends). */
  erasedRows: number[];
}

/** Erases the rows of one campaign whose number (or an alternate number) is one of `numbers` (also rejected rows holding it as typed). */
export async function eraseInCampaign(store: Store, id: string, numbers: string[], country: CountryCode | undefined): Promise<Erasure> {
  const wanted = new Map(numbers.map((n) => [digits(n), n]));
  const byNumber = new Map<string, string[]>(numbers.map((n) => [n, []]));
  for await (const batch of store.rowBatches(id)) {
    for (const [row, json] of batch) {
      const rec = decodeRow(json);
      // The row's other numbers (phone_columns, several in a cell) are the same person's.
      const n = [rec.phone, ...(rec.alts ?? [])].map((p) => matchNumber(p, wanted, country)).find(Boolean);
      if (n) byNumber.get(n)!.push(row);
    }
  }

  const out: Erasure = { campaign: id, rows: 0, stopped: 0, deferred: 0, ledger: 0, deadLetters: 0, events: 0, callIds: [], results: [], finished: false, erasedRows: [] };
  const now = new Date().toISOString();
  // An archived campaign is unpacked by the erasure's script (store/archive.ts): only when it holds the number.
  const idle = [...byNumber].filter(([, rows]) => rows.length === 0).map(([n]) => n);
  let skip = new Set<string>();
  if (idle.length && (await store.archive.isArchived(id))) {
    const held = await store.archive.ledgerHas(id, idle);
    skip = new Set(idle.filter((n) => !held.has(n)));
  }
  for (const [n, rows] of byNumber) {
    if (skip.has(n)) continue;
    const { erased, stopped, deferred, ledger, deadLetters, finished, callIds } = await store.privacy.eraseNumber(id, n, now, rows);
    out.rows += erased;
    out.stopped += stopped.length;
    out.deferred += deferred.length;
    out.ledger += ledger;
    out.deadLetters += deadLetters;
    out.finished ||= finished;
    out.callIds.push(...callIds);
    out.erasedRows.push(...rows.filter((r) => !deferred.includes(r)).map(Number));
    // Same audit trail as any final outcome (Store.updateRow).
    for (const row of stopped) await store.appendAudit(id, { type: 'outcome', row: Number(row), at: now, outcome: 'suppressed', error: ERASED_REASON });
    await store.privacy.deferErasure(id, deferred);
  }
  return out;
}

/** Which of the wanted numbers a stored phone value is: E.164 as stored, or a rejected row's raw text. */
function matchNumber(phone: string, wanted: Map<string, string>, country: CountryCode | undefined): string | undefined {
  if (!phone) return undefined;
  const d = digits(phone);
  const hit = wanted.get(d);
  if (hit) return hit;
  if (phone.startsWith('+') && /^\+\d+$/.test(phone)) return undefined; // a valid E.164 of someone else
  const r = normalizePhone(phone, country);
  return r.ok ? wanted.get(digits(r.e164)) : undefined;
}
