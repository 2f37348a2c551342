import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { DialerError } from '../errors.js';
import { campaignSchema, type Campaign, type CampaignFile } from './campaign.js';

/**
 * Changing the settings of a campaign that runs (`dialer set`, `PATCH
 * /campaigns/:name`), pure: dotted keys into the campaign settings, merged
 * into the current settings and validated by the campaign schema itself, so
 * any key the schema knows (today's or one added later) can be set without
 * this file knowing it. Only the keys a loaded campaign has already used up
 * (its name, its list and how the list was read) are refused, by the table
 * below; everything else is read by workers and pollers at use time.
 */

/** One change: a dotted key and its new value; `undefined` takes the key out (back to its default). */
export interface Assignment {
  key: string;
  value: unknown;
}

/** A leaf that changed, old and new value (undefined = not set). */
export interface SettingChange {
  key: string;
  old: unknown;
  new: unknown;
}

/** What was wrong with one key. */
export interface SettingIssue {
  key: string;
  message: string;
}

/** A refused change: every problem, each naming its key. */
export class SettingsError extends DialerError {
  constructor(readonly issues: SettingIssue[]) {
    super('CAMPAIGN_INVALID', issues.map((i) => `${i.key}: ${i.message}`).join('\n'));
    this.name = 'SettingsError';
  }
}

/** Top-level keys that can't change once a campaign is loaded, and why. */
export const FIXED_KEYS: Readonly<Record<string, string>> = {
  name: 'it is the campaign id (Redis keys, results); load the list under a new name',
  assistant_id: 'calls already placed are looked up under it; start a new campaign for another assistant',
  contacts: 'the list is loaded; add rows with "dialer load" or a contacts upload',
  results: 'the results path is fixed when the campaign is created; use "dialer export --out" for another file',
  default_country: 'numbers were normalised with it when the list was loaded',
  variables: 'the columns kept were chosen when the list was loaded',
  fallback_timezone: "each contact's zone was resolved when the list was loaded",
  suppression: 'a file on the loading machine; use "dialer suppress add|import" for numbers never to call',
  schedule: 'its jobs are already scheduled (recurring: edit the file and run "dialer schedule sync")',
  sms_actions: 'they are created and attached when the campaign starts',
};

/** Any `*_column` / `*_columns` key names a column of the list, read when it was loaded. */
const COLUMN_KEY = /_columns?$/;

/** Why `key` can't change on a loaded campaign, or undefined when it can. */
export function fixedReason(key: string): string | undefined {
  const top = key.split('.')[0]!;
  if (Object.hasOwn(FIXED_KEYS, top)) return FIXED_KEYS[top];
  if (COLUMN_KEY.test(top)) return 'a column of the list, read when the list was loaded';
  return undefined;
}

const KEY = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * `KEY=VALUE` as `dialer set` takes it: the value is YAML (a number, a
 * string, `true`, a flow list `[10,60]` or mapping `{calls: 5, per_seconds: 1}`);
 * `null` or `~` takes the key out.
 */
export function parseAssignment(arg: string): Assignment {
  const i = arg.indexOf('=');
  const key = i < 0 ? arg : arg.slice(0, i);
  if (i < 1 || !KEY.test(key)) {
    throw new SettingsError([{ key: key || arg, message: 'expected KEY=VALUE with a dotted key, e.g. rate.calls=5' }]);
  }
  const text = arg.slice(i + 1);
  if (text.trim() === '') throw new SettingsError([{ key, message: 'no value (write KEY=null to go back to the default)' }]);
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (e) {
    throw new SettingsError([{ key, message: `value is not valid YAML: ${(e as Error).message.split('\n')[0]}` }]);
  }
  return { key, value: value === null ? undefined : value };
}

/**
 * A PATCH body as assignments: a partial campaign (`{"rate": {"calls": 5}}`),
 * dotted keys (`{"rate.calls": 5}`), either of them under `"set"`, or a mix.
 * Mappings are merged key by key; a list or a scalar replaces; `null` takes
 * the key out.
 */
export function flattenPatch(body: unknown): Assignment[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new SettingsError([{ key: '(body)', message: 'must be a JSON object of settings, e.g. {"rate": {"calls": 5}} or {"set": {"rate.calls": 5}}' }]);
  }
  const obj = body as Record<string, unknown>;
  const root = Object.keys(obj).length === 1 && isPlainObject(obj.set) ? obj.set : obj;
  const out: Assignment[] = [];
  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(node)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (!KEY.test(key)) throw new SettingsError([{ key, message: 'not a settings key (letters, digits, "_" and "-", joined by ".")' }]);
      if (isPlainObject(v) && Object.keys(v).length > 0) walk(v, key);
      else out.push({ key, value: v === null ? undefined : v });
    }
  };
  walk(root, '');
  if (out.length === 0) throw new SettingsError([{ key: '(body)', message: 'no settings to change' }]);
  return out;
}

/** The settings a campaign file gives (the resolved campaign without the paths worked out from it). */
export function settingsOf(c: Campaign): CampaignFile {
  const { file: _f, contactsPath: _c, resultsPath: _r, suppressionPath: _s, ...rest } = c;
  return rest;
}

/**
 * Applies `changes` to a campaign's settings: refused keys, paths through a
 * value that isn't a mapping, and anything the schema rejects are reported
 * together, each naming its key. Returns the new campaign (paths kept) and
 * the leaves that changed (none when the values were already so).
 */
export function applySettings(current: Campaign, changes: Assignment[]): { campaign: Campaign; changes: SettingChange[] } {
  const issues: SettingIssue[] = [];
  const before = settingsOf(current);
  const next = structuredClone(before) as Record<string, unknown>;
  for (const { key, value } of changes) {
    const fixed = fixedReason(key);
    if (fixed) {
      issues.push({ key, message: `cannot change on a loaded campaign: ${fixed}` });
      continue;
    }
    const err = setPath(next, key.split('.'), value);
    if (err) issues.push({ key, message: err });
  }
  // The rest is validated too, so one answer lists every problem.
  const parsed = campaignSchema.safeParse(next);
  if (!parsed.success) issues.push(...zodIssues(parsed.error));
  if (issues.length || !parsed.success) throw new SettingsError(issues);
  const campaign: Campaign = { ...parsed.data, file: current.file, contactsPath: current.contactsPath, resultsPath: current.resultsPath, suppressionPath: current.suppressionPath };
  return { campaign, changes: diffSettings(before, parsed.data) };
}

/** Leaves (lists count as one) that differ between two settings objects, in key order. */
export function diffSettings(a: object, b: object): SettingChange[] {
  const la = leaves(a);
  const lb = leaves(b);
  const keys = [...new Set([...la.keys(), ...lb.keys()])].sort();
  return keys.filter((k) => JSON.stringify(la.get(k)) !== JSON.stringify(lb.get(k))).map((k) => ({ key: k, old: la.get(k), new: lb.get(k) }));
}

function leaves(o: object, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  for (const [k, v] of Object.entries(o)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isPlainObject(v)) leaves(v, key, out);
    else if (v !== undefined) out.set(key, v);
  }
  return out;
}

/** Sets (or with `undefined` deletes) a dotted path, making mappings on the way; an error text when a step is not a mapping. */
function setPath(root: Record<string, unknown>, path: string[], value: unknown): string | undefined {
  let node = root;
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i]!;
    const cur = node[seg];
    if (cur === undefined || cur === null) {
      if (value === undefined) return undefined; // nothing there to take out
      node[seg] = {};
    } else if (!isPlainObject(cur)) {
      return `${path.slice(0, i + 1).join('.')} is ${Array.isArray(cur) ? 'a list' : `a ${typeof cur}`}, not a group of settings`;
    }
    node = node[seg] as Record<string, unknown>;
  }
  const last = path.at(-1)!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return undefined;
}

/** Zod issues as key + message ("rate.calls: Too small…", "rate.foo: unknown key"). */
function zodIssues(error: z.ZodError): SettingIssue[] {
  return error.issues.flatMap((issue) => {
    const where = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => ({ key: where ? `${where}.${k}` : k, message: 'unknown key' }));
    return [{ key: where || '(settings)', message: issue.message }];
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
