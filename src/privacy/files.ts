import { access } from 'node:fs/promises';
import type { Campaign } from '../config/campaign.js';
import { writeResults } from '../results/export.js';
import type { Store } from '../store/store.js';

/** The results files `export` writes by default: the CSV and its JSONL sibling. */
export function resultsFiles(c: Pick<Campaign, 'resultsPath'>): { file: string; format: 'csv' | 'jsonl' }[] {
  return [
    { file: c.resultsPath, format: 'csv' },
    { file: c.resultsPath.replace(/\.csv$/, '') + '.jsonl', format: 'jsonl' },
  ];
}

const exists = (f: string) => access(f).then(() => true, () => false);

/**
 * Renders again the results files of a campaign that exist on this machine,
 * from Redis (after an erasure or a purge), so the copy on disk loses the same
 * data. Files written elsewhere (`export --out`, other hosts) are not known.
 */
export async function rewriteResultsFiles(store: Store, id: string, c: Pick<Campaign, 'resultsPath'>, alsoCsv = false): Promise<string[]> {
  const done: string[] = [];
  for (const { file, format } of resultsFiles(c)) {
    if (!(await exists(file)) && !(alsoCsv && format === 'csv')) continue;
    await writeResults(store, id, file, format);
    done.push(file);
  }
  return done;
}
