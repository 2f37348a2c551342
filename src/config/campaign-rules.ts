import type { z } from 'zod';
import { RESULT_COLUMNS } from '../campaign/row.js';

/** The keys these rules read (the schema's own types come from campaign.ts, which imports this file). */
interface RuleInput {
  assistant_id?: string;
  assistants?: Array<{ id: string; weight: number }>;
  id_column?: string;
  keep_columns?: string[];
}

/** Results columns every campaign has; a pass-through column may not take one of their names. */
const FIXED_RESULT_COLUMNS = new Set<string>([...RESULT_COLUMNS]);

/**
 * Cross-key rules of a campaign file: which assistant places the calls
 * (`assistant_id` or a weighted `assistants` split, exactly one of them), and
 * pass-through columns whose names would collide in the results file.
 */
export function assistantRules(c: RuleInput, ctx: z.RefinementCtx): void {
  if (c.assistant_id === undefined && c.assistants === undefined) {
    ctx.addIssue({ code: 'custom', path: ['assistant_id'], message: 'required (or split the rows between assistants with `assistants: [{ id, weight }, ...]`)' });
  }
  if (c.assistant_id !== undefined && c.assistants !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['assistants'], message: 'give either assistant_id or assistants, not both' });
  }
  const seen = new Set<string>();
  c.assistants?.forEach((a, i) => {
    if (seen.has(a.id)) ctx.addIssue({ code: 'custom', path: ['assistants', i, 'id'], message: `"${a.id}" is listed twice` });
    seen.add(a.id);
  });
  const pass = [...(c.id_column !== undefined ? [['id_column', c.id_column] as const] : []), ...(c.keep_columns ?? []).map((k, i) => [`keep_columns.${i}`, k] as const)];
  const names = new Set<string>();
  for (const [key, name] of pass) {
    const path = key.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    if (FIXED_RESULT_COLUMNS.has(name) || name === 'assistant') {
      ctx.addIssue({ code: 'custom', path, message: `"${name}" is also a results column; results keep pass-through columns under that name, so that column can't be passed through` });
    } else if (names.has(name)) {
      ctx.addIssue({ code: 'custom', path, message: `"${name}" is passed through twice` });
    }
    names.add(name);
  }
}
