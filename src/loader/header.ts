import type { Campaign } from '../config/campaign.js';
import { fail } from './peek.js';
import { planPassThrough } from './pass-through.js';

/** Where each value a verdict needs sits in a data row. */
export interface ColumnPlan {
  /** Header names as written (trimmed), by index. */
  names: string[];
  phone: number;
  /** Every phone column, in the order they are tried (phone_columns); [phone] otherwise. */
  phones: number[];
  name?: number;
  timezone?: number;
  consent?: number;
  /** customVariables: key (header spelling) and index. */
  vars: Array<[string, number]>;
  /** Pass-through columns (id_column first, then keep_columns): the campaign's spelling and index. */
  keep: Array<[string, number]>;
  /** The assistant_column. */
  assistant?: number;
  /** Every index read from a row, checked for broken text. */
  used: number[];
}

export type HeaderCampaign = Pick<Campaign, 'phone_column' | 'phone_columns' | 'name_column' | 'variables' | 'timezone_column' | 'consent_column'> &
  Partial<Pick<Campaign, 'id_column' | 'keep_columns' | 'assistant_column'>>;

// Defaults, in order of preference ("phone" beats a customer "number" column).
export const PHONE_NAMES = ['phone', 'mobile', 'phone_number', 'phonenumber', 'number', 'cell', 'telephone', 'tel'];
export const NAME_NAMES = ['name', 'full_name', 'fullname', 'first_name', 'firstname', 'contact', 'contact_name'];

/** "Phone Number", "phone_number" and "PHONE-NUMBER" are the same column. */
export function headerKey(name: string): string {
  return name.toLowerCase().replace(/[\s_-]+/g, '');
}

export function planColumns(header: string[], campaign: HeaderCampaign, source: string, line: number): ColumnPlan {
  const names = header.map((h) => h.trim());
  const listed = names.filter((n) => n !== '').map((n) => JSON.stringify(n)).join(', ');
  const byKey = new Map<string, number>();
  names.forEach((n, i) => {
    if (n === '') return; // unnamed (often trailing) columns are ignored, not duplicates
    if (n.includes('\uFFFD')) fail(source, line, 'not a UTF-8 text CSV (the header is not valid UTF-8)');
    const k = headerKey(n);
    const prev = byKey.get(k);
    if (prev !== undefined) {
      fail(source, line, `duplicate column ${JSON.stringify(n)} (columns ${prev + 1} and ${i + 1}; names are compared ignoring case, spaces, "_" and "-")`);
    }
    byKey.set(k, i);
  });

  const configured = (key: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    const i = byKey.get(headerKey(value));
    if (i === undefined) fail(source, line, `${key} ${JSON.stringify(value)} is not a column of the header (${listed || 'no named columns'})`);
    return i;
  };
  const firstOf = (candidates: string[]): number | undefined => {
    for (const c of candidates) {
      const i = byKey.get(headerKey(c));
      if (i !== undefined) return i;
    }
    return undefined;
  };

  const phones = campaign.phone_columns?.map((p) => configured('phone_columns entry', p)!);
  const phone = phones?.[0] ?? configured('phone_column', campaign.phone_column) ?? firstOf(PHONE_NAMES);
  if (phone === undefined) {
    const hint = names.length === 1 && /[|:^]/.test(names[0]!) ? ' — the only column found has a "|" or similar in it: the delimiter must be comma, semicolon or tab' : '';
    fail(source, line, `no phone column: found ${listed || 'no named columns'}; expected one named ${PHONE_NAMES.join(', ')} (any case, spaces/_/- ignored), or set phone_column in the campaign${hint}`);
  }
  const name = configured('name_column', campaign.name_column) ?? firstOf(NAME_NAMES);
  const timezone = configured('timezone_column', campaign.timezone_column);
  const consent = configured('consent_column', campaign.consent_column);
  const { keep, assistant } = planPassThrough(campaign, configured);
  // Pass-through and assistant columns are for the results and the dialer, not the assistant's prompt.
  const notSent = new Set([phone, assistant, ...keep.map(([, i]) => i)]);
  const vars: Array<[string, number]> = campaign.variables
    ? campaign.variables.map((v) => {
        const i = configured('variables entry', v)!;
        return [names[i]!, i];
      })
    : names.flatMap((n, i): Array<[string, number]> => (n !== '' && !notSent.has(i) && !phones?.includes(i) ? [[n, i]] : []));

  const used = [...new Set([phone, ...(phones ?? []), name, timezone, consent, assistant, ...vars.map(([, i]) => i), ...keep.map(([, i]) => i)].filter((i): i is number => i !== undefined))];
  return { names, phone, phones: phones ?? [phone], name, timezone, consent, vars, keep, assistant, used };
}
