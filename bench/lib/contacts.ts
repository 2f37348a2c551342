import { createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';

/**
 * Contact lists for the benches, deterministic by row index, every number
 * unique unless it is one of the planted duplicates. Half Australian (mobiles
 * written three ways, landlines in four area codes), half US (+1 in three
 * spellings). All of them valid for libphonenumber's /max metadata (checked
 * over 1M rows) with default_country AU.
 */
export function phoneFor(i: number): string {
  const s = String(i).padStart(7, '0');
  const ex = 200 + Math.floor(i / 10000);
  const line = String(i % 10000).padStart(4, '0');
  switch (i % 6) {
    case 0: {
      const n = String(400000000 + i);
      return `0${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`;
    }
    case 1: {
      const n = String(410000000 + i);
      return `+61 ${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`;
    }
    case 2:
      return `(0${'2378'[Math.floor(i / 6) % 4]}) 9${s.slice(0, 3)} ${s.slice(3)}`;
    case 3:
      return `+1 (212) ${ex}-${line}`;
    case 4:
      return `+1-415-${ex}-${line}`;
    default:
      return `+1512${ex}${line}`;
  }
}

const INVALID = ['12345', '0412 34', '+1 (212) 555-01', 'call me', '+61 412 345 678 999', '0000000000'];
const CITIES = ['Sydney', 'Melbourne', 'Brisbane', 'Perth', 'New York', 'San Francisco', 'Austin'];

/** Row i (0-based) of the mixed list: 5% invalid numbers (i % 20 == 3), 5% duplicates of an earlier row (i % 20 == 7). */
function mixedRow(i: number): string {
  let phone: string;
  if (i % 20 === 3) phone = INVALID[i % INVALID.length]!;
  else if (i % 20 === 7 && i >= 13) phone = phoneFor(i - 13); // row i-13 is never invalid nor a duplicate
  else phone = phoneFor(i);
  return `Person ${i},${phone},${CITIES[i % CITIES.length]}`;
}

function cleanRow(i: number): string {
  return `Person ${i},${phoneFor(i)},${CITIES[i % CITIES.length]}`;
}

async function write(file: string, rows: number, row: (i: number) => string): Promise<void> {
  const out = createWriteStream(file);
  out.write('name,phone,city\n');
  for (let i = 0; i < rows; i += 10_000) {
    const lines: string[] = [];
    for (let k = i; k < Math.min(rows, i + 10_000); k++) lines.push(row(k));
    if (!out.write(lines.join('\n') + '\n')) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** Path of the generated list (made once, kept in the temp directory between runs). */
export async function contactsFile(kind: 'mixed' | 'clean', rows: number): Promise<string> {
  const dir = path.join(os.tmpdir(), 'callease-bench');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${kind}-${rows}.csv`);
  const ok = await stat(file).then((s) => s.size > 0, () => false);
  if (!ok) {
    // One temp file per call: benches running side by side may ask for the same list.
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await write(tmp, rows, kind === 'mixed' ? mixedRow : cleanRow);
    await (await import('node:fs/promises')).rename(tmp, file);
  }
  return file;
}
