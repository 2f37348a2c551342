import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** This package's version, found by walking up from this module (works from src/ and dist/src/). */
export function packageVersion(): string {
  if (cached !== undefined) return cached;
  cached = '0.0.0';
  try {
    let dir = dirname(fileURLToPath(import.meta.url));
    for (let i = 0; i < 6; i++) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === 'callease-dialer' && typeof pkg.version === 'string') {
          cached = pkg.version;
          break;
        }
      } catch {
        // not here; keep walking up
      }
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  } catch {
    // keep the fallback
  }
  return cached;
}
