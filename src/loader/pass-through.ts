import type { Campaign } from '../config/campaign.js';

type PassCampaign = Partial<Pick<Campaign, 'id_column' | 'keep_columns' | 'assistant_column'>>;

/**
 * Where the pass-through columns (`id_column`, then `keep_columns`) and the
 * `assistant_column` sit in the header. Pass-through values are stored with
 * the row and written to the results under the campaign's spelling of the column; they are
 * sent to the API only when `variables` lists them too.
 */
export function planPassThrough(
  c: PassCampaign,
  configured: (key: string, value: string | undefined) => number | undefined,
): { keep: Array<[string, number]>; assistant?: number } {
  const keep: Array<[string, number]> = [];
  // Keyed by the campaign's spelling: the results columns are known before the header is read.
  const add = (key: string, value: string) => {
    const i = configured(key, value)!;
    if (!keep.some(([k]) => k === value)) keep.push([value, i]);
  };
  if (c.id_column !== undefined) add('id_column', c.id_column);
  for (const k of c.keep_columns ?? []) add('keep_columns entry', k);
  return { keep, assistant: configured('assistant_column', c.assistant_column) };
}

/** The row's pass-through values (trimmed), or undefined when the campaign keeps none. */
export function passThroughValues(keep: Array<[string, number]>, get: (i: number) => string): Record<string, string> | undefined {
  if (keep.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const [key, i] of keep) out[key] = get(i);
  return out;
}
