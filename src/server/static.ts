import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Where the status page's files are. From the sources (tsx) they sit next to
 * this file; `tsc` does not copy them into dist/, so a built server falls back
 * to the source tree (dist/src/server → ../../../src/server/public). The
 * Docker image copies them next to the built file, the first place looked.
 */
export function publicDir(): string {
  const candidates = [new URL('./public/', import.meta.url), new URL('../../../src/server/public/', import.meta.url)].map((u) => fileURLToPath(u));
  const found = candidates.find((d) => existsSync(`${d}index.html`));
  if (!found) throw new Error(`status page files not found; looked in ${candidates.join(', ')}`);
  return found;
}

export interface StaticFile {
  body: Buffer;
  type: string;
}

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/check.js': { file: 'check.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
  '/campaign.html': { file: 'campaign.html', type: 'text/html; charset=utf-8' },
  '/campaign.js': { file: 'campaign.js', type: 'text/javascript; charset=utf-8' },
  '/campaign.css': { file: 'campaign.css', type: 'text/css; charset=utf-8' },
};

/** A fixed set of small files, read once: no path from a request ever reaches the file system. */
export function loadStatic(dir = publicDir()): Map<string, StaticFile> {
  return new Map(Object.entries(FILES).map(([route, f]) => [route, { body: readFileSync(`${dir}${f.file}`), type: f.type }]));
}

/** The page loads only its own script and style and talks only to this origin. */
export const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";
