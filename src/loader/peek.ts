import { isUtf8 } from 'node:buffer';
import { DialerError } from '../errors.js';

/**
 * Reads just enough of the file to see its header line, so that the
 * delimiter can be chosen and binary files refused before csv-parse starts.
 */

/** Longest row (and header) we accept, in characters; csv-parse's own guard. */
export const MAX_ROW_CHARS = 65_536;

export type Delimiter = ',' | ';' | '\t';

export interface Peeked {
  /** Everything read so far; it is replayed into the parser. */
  head: Buffer;
  delimiter: Delimiter;
  /** True when the file holds nothing but blank lines (or nothing at all). */
  empty: boolean;
}

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export async function peekHeader(chunks: AsyncIterator<Buffer | string>, source: string): Promise<Peeked> {
  const parts: Buffer[] = [];
  const scan = new HeaderScan();
  for (;;) {
    const next = await chunks.next();
    if (next.done) break;
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : next.value;
    parts.push(chunk);
    if (scan.feed(chunk)) break;
    if (scan.size > MAX_ROW_CHARS * 4) {
      // No complete header line in 256 KB: binary, or not a CSV at all.
      const head = Buffer.concat(parts);
      checkText(head, head.subarray(scan.start, head.length - 3), scan.line, source);
      fail(source, scan.line, `the header row is longer than ${MAX_ROW_CHARS} characters (is this a CSV file?)`);
    }
  }
  const head = Buffer.concat(parts);
  if (!scan.content) return { head, delimiter: ',', empty: true };
  const headerLine = head.subarray(scan.start, scan.end ?? head.length);
  checkText(head, headerLine, scan.line, source);
  return { head, delimiter: detectDelimiter(headerLine.toString('utf8')), empty: false };
}

/**
 * Finds the first non-blank line (after a BOM) byte by byte as chunks arrive, so
 * tiny chunks cost no re-scanning.
 */
class HeaderScan {
  size = 0;
  /** Line number and byte offsets of the current (eventually the header) line. */
  line = 1;
  start = 0;
  end: number | undefined;
  content = false;
  private afterCR = false;

  /** Returns true once the header line is complete. */
  feed(chunk: Buffer): boolean {
    for (let i = 0; i < chunk.length; i++) {
      const at = this.size + i;
      const b = chunk[i]!;
      const crlf = this.afterCR && b === 0x0a;
      this.afterCR = b === 0x0d;
      if (b === 0x0a || b === 0x0d) {
        if (this.content) {
          this.end = at;
          this.size += chunk.length;
          return true;
        }
        if (!crlf) this.line++;
        this.start = at + 1;
      } else if (at < 3 && b === UTF8_BOM[at] && this.start === at) {
        this.start = at + 1; // BOM bytes are not content
      } else if (b !== 0x20 && b !== 0x09) {
        this.content = true;
      }
    }
    this.size += chunk.length;
    return false;
  }
}

function checkText(head: Buffer, headerLine: Buffer, line: number, source: string): void {
  const b0 = head[0];
  const b1 = head[1];
  if ((b0 === 0xff && b1 === 0xfe) || (b0 === 0xfe && b1 === 0xff)) {
    fail(source, 1, 'not a UTF-8 text CSV (it is UTF-16; save it as "CSV UTF-8")');
  }
  if (head.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1'))) {
    fail(source, 1, 'not a UTF-8 text CSV (it looks like an .xlsx or .zip file; export it as "CSV UTF-8")');
  }
  if (headerLine.includes(0)) fail(source, line, 'not a UTF-8 text CSV (binary data in the header)');
  if (!isUtf8(headerLine)) fail(source, line, 'not a UTF-8 text CSV (the header has bytes that are not UTF-8: a binary file, or Latin-1/Windows-1252 text? save it as "CSV UTF-8")');
}

/** The most frequent of , ; TAB outside quotes in the header line; comma on a tie or when none occurs. */
export function detectDelimiter(header: string): Delimiter {
  const counts = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  for (const ch of header) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === ',' || ch === ';' || ch === '\t')) counts[ch]++;
  }
  let best: Delimiter = ',';
  for (const d of [';', '\t'] as const) if (counts[d] > counts[best]) best = d;
  return best;
}

export function fail(source: string, line: number, what: string): never {
  throw new DialerError('CSV_INVALID', `${source}: line ${line}: ${what}`);
}
