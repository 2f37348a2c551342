import { access } from 'node:fs/promises';
import { DateTime } from 'luxon';
import type { Campaign } from '../config/campaign.js';
import { loadCampaignFile } from '../config/campaign.js';
import { DialerError } from '../errors.js';
import { openContacts, readContacts } from '../loader/csv.js';
import { maskPhone } from '../log.js';
import type { RowRecord } from '../campaign/row.js';
import type { Runtime } from '../runtime.js';
import { checkWindow } from '../windows/index.js';
import { recentCalls } from '../gate/frequency.js';
import { resolveRowZones, rowZones, zoneLabel } from '../gate/zone.js';

/** One sampled contact in `dialer windows`. */
export interface WindowRow {
  row: number;
  /** Masked: enough to tell contacts apart, not to dial. */
  number: string;
  /** The results' `timezone` label: "a|b", "z (fallback)", "unknown". */
  timezone: string;
  source: 'column' | 'number' | 'fallback';
  open: boolean;
  /** ISO: `at` itself when open now, else the next moment every zone is open; null if none within 30 days. */
  next_opening: string | null;
  /** When open: when the first zone closes. */
  closes_at?: string;
  rule: string;
  /** Contact's local time at `at`, in the zone the rule names. */
  local_time?: string;
  /** Final outcome already recorded (loaded campaigns). */
  outcome?: string;
  /** Calls to this number in the last 24 h, across campaigns (frequency cap). */
  calls_24h?: number;
}

export interface WindowsReport {
  campaign: string;
  at: string;
  calling_hours: Campaign['calling_hours'] | null;
  frequency_cap: number;
  /** Where the contacts came from. */
  source: 'redis' | 'file';
  total?: number;
  sampled: number;
  open_now: number;
  contacts: WindowRow[];
}

/** `n` row numbers spread evenly over 1..total. */
export function spreadRows(total: number, n: number): number[] {
  if (total <= n) return Array.from({ length: total }, (_, i) => i + 1);
  return Array.from({ length: n }, (_, i) => 1 + Math.floor((i * total) / n));
}

function describe(c: Campaign, rec: Pick<RowRecord, 'row' | 'phone' | 'timezone' | 'outcome'>, at: number, fromRedis: boolean): WindowRow {
  const zone = fromRedis ? rowZones(c, rec) : resolveRowZones(c, rec);
  const d = checkWindow(c.calling_hours, zone, new Date(at));
  const out: WindowRow = {
    row: rec.row,
    number: maskPhone(rec.phone),
    timezone: zoneLabel(zone),
    source: zone.source,
    open: d.open,
    next_opening: d.open ? new Date(at).toISOString() : d.nextOpen?.toISOString() ?? null,
    rule: d.rule,
  };
  if (d.closesAt) out.closes_at = d.closesAt.toISOString();
  // The clock of the zone the rule names (the one blocking, or the first to close).
  const first = zone.zones.find((z) => d.rule.endsWith(` ${z}`)) ?? zone.zones[0];
  if (first) out.local_time = DateTime.fromMillis(at, { zone: first }).toISO({ suppressMilliseconds: true }) ?? undefined;
  if (rec.outcome) out.outcome = rec.outcome;
  return out;
}

async function isFile(p: string): Promise<boolean> {
  return access(p).then(() => true, () => false);
}

/**
 * For `dialer windows`: a loaded campaign's rows (evenly spread sample) or, given a
 * campaign file that is not loaded, its first contacts.
 */
export async function windowsReport(rt: Runtime, target: string, opts: { at?: string; sample?: number } = {}): Promise<WindowsReport> {
  const at = opts.at === undefined ? rt.clock.now() : Date.parse(opts.at);
  if (Number.isNaN(at)) throw new DialerError('USAGE', `--at must be an ISO time such as 2026-06-08T10:00:00+10:00, got "${opts.at}"`);
  const n = Math.max(1, Math.floor(opts.sample ?? 10));
  const info = await rt.store.getCampaign(target);
  let c: Campaign;
  const contacts: WindowRow[] = [];
  const phones: string[] = [];
  let total: number | undefined;
  if (info) {
    c = info.campaign;
    total = info.total ?? (await rt.store.rowCount(target));
    const recs = await rt.store.getRows(target, spreadRows(total, n));
    for (const r of recs) {
      if (!r || r.phone === '') continue; // erased rows keep no number
      contacts.push(describe(c, r, at, true));
      phones.push(r.phone);
    }
  } else if (await isFile(target)) {
    c = await loadCampaignFile(target);
    const input = await openContacts(c.contactsPath);
    try {
      for await (const v of readContacts(input, c, { phoneWorker: false })) {
        if (v.verdict !== 'accepted') continue;
        contacts.push(describe(c, { row: v.row, phone: v.phone, timezone: v.timezone }, at, false));
        phones.push(v.phone);
        if (contacts.length >= n) break;
      }
    } finally {
      input.destroy();
    }
  } else {
    throw new DialerError('CAMPAIGN_NOT_FOUND', `no campaign named "${target}" in Redis and no such campaign file`);
  }
  // Calls in the last 24 h (frequency cap), looked up by the full number, shown masked.
  await Promise.all(contacts.map(async (x, i) => {
    if (!x.outcome && phones[i]) x.calls_24h = await recentCalls(rt.store, phones[i], at);
  }));
  return {
    campaign: c.name,
    at: new Date(at).toISOString(),
    calling_hours: c.calling_hours ?? null,
    frequency_cap: c.frequency_cap,
    source: info ? 'redis' : 'file',
    total,
    sampled: contacts.length,
    open_now: contacts.filter((x) => x.open).length,
    contacts,
  };
}
