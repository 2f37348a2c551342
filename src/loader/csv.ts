import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { CsvError, parse, type Parser } from 'csv-parse';
import { isSupportedCountry, type CountryCode } from 'libphonenumber-js/max';
import type { Campaign } from '../config/campaign.js';
import { DialerError } from '../errors.js';
import { CELL_SEP, type CellsResult } from '../phone/multi.js';
import { PhoneWorker, checkLocally } from './phone-pool.js';
import { planColumns, type ColumnPlan } from './header.js';
import { rowKeyer } from './row-key.js';
import { passThroughValues } from './pass-through.js';
import { MAX_ROW_CHARS, fail, peekHeader } from './peek.js';

export interface ContactVerdict {
  /** 1 = first data row. Blank lines (and rows of empty cells) do NOT count: rows are data rows. */
  row: number;
  /** 1-based line of the file where the row starts (for error messages). */
  line: number;
  name: string;
  /** E.164 if valid, else the raw value (trimmed). */
  phone: string;
  /** Only the `variables` columns (default: all but the phone column); keys as spelled in the header. */
  vars: Record<string, string>;
  /** Value (trimmed) of campaign.timezone_column, when set. */
  timezone?: string;
  /** Value (trimmed) of campaign.consent_column, when set. */
  consent?: string;
  /** Pass-through columns (id_column, keep_columns), when the campaign has any. */
  keep?: Record<string, string>;
  /** Value (trimmed) of campaign.assistant_column, when set. */
  assistant?: string;
  verdict: 'accepted' | 'rejected';
  /** For rejected rows, naming the field: "phone: invalid number for AU". */
  reason?: string;
  /** Region code of the number, when accepted. */
  country?: string;
  /** The row's identity across uploads (ReadContactsOptions.rowKeys; see row-key.ts). */
  key?: string;
  /** Further valid numbers of the row (phone_columns, several numbers in a cell), E.164, in the order to try. */
  alts?: string[];
}

export type ContactsCampaign = Pick<Campaign, 'phone_column' | 'phone_columns' | 'name_column' | 'default_country' | 'variables' | 'timezone_column' | 'consent_column' | 'contactsPath'> &
  Partial<Pick<Campaign, 'file' | 'id_column' | 'keep_columns' | 'assistant_column'>>;

/** Opens the contacts file, failing early (with the errno code) when it can't be read. */
export async function openContacts(path: string): Promise<Readable> {
  try {
    const handle = await open(path, 'r');
    const stat = await handle.stat().catch(async (e: unknown) => {
      await handle.close();
      throw e;
    });
    if (!stat.isFile()) {
      await handle.close();
      throw Object.assign(new Error('not a file'), { code: stat.isDirectory() ? 'EISDIR' : 'ENOTFILE' });
    }
    return handle.createReadStream();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new DialerError('CSV_INVALID', `${path}: cannot read contacts file (${code})`, { cause: e });
  }
}

/** Bytes per parse slice: bounds a batch whatever chunk sizes the input stream uses. */
const SLICE_BYTES = 64 * 1024;
/** Rows read before a phone worker is worth its ~100 ms start-up. */
const WORKER_AFTER_ROWS = 5_000;
/** Batches the worker may have queued; more go in-process so both cores stay busy. */
const WORKER_BATCHES = 2;
/** Batches read ahead of the one being yielded before the loader waits for the worker. */
const MAX_QUEUED = 4;

export interface ReadContactsOptions {
  /** Name used in error messages; default campaign.contactsPath. */
  source?: string;
  /** Validate phone numbers on a worker thread for big files (default true). */
  phoneWorker?: boolean;
  /** Give each verdict its `key` (for idempotent appends). */
  rowKeys?: boolean;
}

interface Batch {
  verdicts: ContactVerdict[];
  /** Index in `verdicts` of each row still waiting for its phone check, and its raw phone. */
  waiting: number[];
  phones: string[];
  results?: CellsResult[];
  /** Wakes the loader when it is waiting for this batch's worker results. */
  wake?: () => void;
}

/**
 * Streams verdicts for the data rows of a contacts CSV, in file order.
 * File-level problems throw DialerError('CSV_INVALID', '<file>: line N: ...');
 * row-level problems become rejected verdicts. Duplicates are not detected here.
 * A file-level error can come after some verdicts were yielded: treat the file as failed.
 */
export async function* readContacts(input: Readable, campaign: ContactsCampaign, opts: ReadContactsOptions = {}): AsyncGenerator<ContactVerdict> {
  const source = opts.source ?? campaign.contactsPath;
  const country = campaign.default_country as CountryCode | undefined;
  const chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  // csv-parse is driven as a push parser: write() parses synchronously and on_record
  // (returning null, so nothing goes through the stream's object buffer) hands us each
  // record. Lines are counted there, so a parse error knows where its row began.
  let lastLine = 0;
  let row = 0;
  let plan: ColumnPlan | undefined;
  let keyOf: ((fields: string[]) => string) | undefined;
  let batch = newBatch();
  const onRecord = (fields: string[]): null => {
    const line = lastLine + 1;
    lastLine = line + lineBreaks(fields);
    if (isBlank(fields)) return null;
    if (!plan) {
      plan = planColumns(fields, campaign, source, line);
      // id_column comes with the pass-through columns (read here when the campaign has it).
      if (opts.rowKeys) keyOf = rowKeyer(plan, (campaign as { id_column?: string }).id_column);
    } else {
      addRow(batch, fields, plan, ++row, line);
      if (keyOf) batch.verdicts[batch.verdicts.length - 1]!.key = keyOf(fields);
    }
    return null;
  };
  let parser: Parser | undefined;
  let pool: PhoneWorker | null | undefined; // null: could not start, don't try again
  const queue: Batch[] = [];
  const dispatch = () => {
    if (batch.verdicts.length === 0) return;
    const b = batch;
    batch = newBatch();
    if (pool === undefined && opts.phoneWorker !== false && row >= WORKER_AFTER_ROWS) pool = PhoneWorker.start();
    if (pool && pool.outstanding < WORKER_BATCHES) {
      pool.send(b.phones, country, (r) => {
        b.results = r;
        b.wake?.();
      });
    } else {
      b.results = checkLocally(b.phones, country);
    }
    queue.push(b);
  };
  // Yields finished batches in file order; waits for the oldest only when too many are queued.
  async function* drain(all: boolean): AsyncGenerator<ContactVerdict> {
    pool?.poll();
    while (queue.length > 0 && (queue[0]!.results || all || queue.length > MAX_QUEUED)) {
      const b = queue.shift()!;
      if (!b.results) await new Promise<void>((resolve) => (b.wake = resolve));
      yield* finish(b, plan!);
      pool?.poll();
    }
  }
  try {
    if (country !== undefined && !isSupportedCountry(country)) {
      // The schema only checks the shape ("XX" passes); libphonenumber knows which countries exist.
      throw new DialerError('CAMPAIGN_INVALID', `${campaign.file || 'campaign'}: default_country: "${country}" is not a known country code`);
    }
    const peeked = await peekHeader(chunks, source);
    if (peeked.empty) fail(source, 1, 'the file is empty (expected a header row such as "name,phone")');
    const p = (parser = parse({
      delimiter: peeked.delimiter,
      // Mixed line endings happen when rows are appended in another editor.
      record_delimiter: ['\r\n', '\n', '\r'],
      bom: true,
      encoding: 'utf8',
      relax_column_count: true, // ragged rows become rejected verdicts, not a failed file
      // No relax_quotes: with it an unclosed quote ends at any later stray quote, silently
      // merging the rows in between into one. A stray quote fails the file, naming the line.
      max_record_size: MAX_ROW_CHARS,
      on_record: onRecord,
    }));
    p.on('error', () => {}); // read synchronously from p.errored below
    for await (const slice of slices(peeked.head, chunks)) {
      p.write(slice);
      if (p.errored) throw p.errored;
      dispatch();
      yield* drain(false);
    }
    p.end();
    await finished(p, { readable: false });
    dispatch();
    yield* drain(true);
  } catch (e) {
    throw describe(e, source, lastLine + 1, parser, plan?.names);
  } finally {
    parser?.destroy();
    await pool?.close();
    await chunks.return?.();
  }
}

/** The peeked head, then the rest of the input, in slices of at most SLICE_BYTES. */
async function* slices(head: Buffer, rest: AsyncIterator<Buffer | string>): AsyncGenerator<Buffer> {
  for (let next: IteratorResult<Buffer | string> = { done: false, value: head }; !next.done; next = await rest.next()) {
    const buf = typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : next.value;
    for (let at = 0; at < buf.length; at += SLICE_BYTES) yield buf.subarray(at, at + SLICE_BYTES);
  }
}

function newBatch(): Batch {
  return { verdicts: [], waiting: [], phones: [] };
}

function* finish(b: Batch, plan: ColumnPlan): Generator<ContactVerdict> {
  const results = b.results!;
  for (let k = 0; k < b.waiting.length; k++) {
    const v = b.verdicts[b.waiting[k]!]!;
    const r = results[k]!;
    if (r.ok) {
      v.phone = r.e164;
      v.verdict = 'accepted';
      if (r.country) v.country = r.country;
      if (r.alts) v.alts = r.alts;
    } else {
      v.reason = `${plan.names[plan.phones[r.cell ?? 0] ?? plan.phone]}: ${r.reason}`;
    }
  }
  yield* b.verdicts;
}

/** Adds a row's verdict to the batch; rows that pass every other check wait for their phone check. */
function addRow(batch: Batch, fields: string[], plan: ColumnPlan, row: number, line: number): void {
  const get = (i: number | undefined) => (i === undefined ? '' : (fields[i] ?? '').trim());
  const vars: Record<string, string> = {};
  for (const [key, i] of plan.vars) vars[key] = get(i);
  const cells = plan.phones.length === 1 ? undefined : plan.phones.map(get);
  // With several phone columns a rejected row shows what each said.
  const phone = cells ? cells.filter((p) => p !== '').join(' | ') : get(plan.phone);
  const v: ContactVerdict = { row, line, name: get(plan.name), phone, vars, verdict: 'rejected' };
  if (plan.timezone !== undefined) v.timezone = get(plan.timezone);
  if (plan.consent !== undefined) v.consent = get(plan.consent);
  const keep = passThroughValues(plan.keep, get);
  if (keep) v.keep = keep;
  if (plan.assistant !== undefined) v.assistant = get(plan.assistant);
  batch.verdicts.push(v);
  const problem = rowProblem(fields, plan, line);
  if (problem !== undefined) {
    v.reason = problem;
  } else {
    batch.waiting.push(batch.verdicts.length - 1);
    batch.phones.push(cells ? cells.join(CELL_SEP) : v.phone);
  }
}

function rowProblem(fields: string[], plan: ColumnPlan, line: number): string | undefined {
  const width = plan.names.length;
  if (fields.length < width) return `line ${line}: ${fields.length} fields but the header has ${width}`;
  if (fields.length > width && fields.slice(width).some((f) => f.trim() !== '')) {
    return `line ${line}: ${fields.length} fields but the header has ${width} (a value with an unquoted delimiter?)`;
  }
  for (const i of plan.used) {
    const f = fields[i]!;
    // csv-parse decodes invalid UTF-8 to U+FFFD; a row like that would be dialed with a garbled name.
    if (f.includes('\uFFFD')) return `${plan.names[i]}: not valid UTF-8 (is the file Latin-1? save it as UTF-8)`;
    if (f.includes('\0')) return `${plan.names[i]}: contains NUL bytes (binary data?)`;
  }
  return undefined;
}

function isBlank(fields: string[]): boolean {
  for (const f of fields) if (f.trim() !== '') return false;
  return true;
}

/** Line breaks inside quoted fields; \r\n counts once. */
function lineBreaks(fields: string[]): number {
  let n = 0;
  for (const f of fields) {
    if (f.indexOf('\n') === -1 && f.indexOf('\r') === -1) continue;
    n += f.match(/\r\n|\r|\n/g)!.length;
  }
  return n;
}

/** csv-parse's errors → '<file>: line N: ...' where N is the line the failing row starts on. */
function describe(e: unknown, source: string, line: number, parser: unknown, names: string[] | undefined): unknown {
  if (e instanceof DialerError) return e;
  if (e instanceof CsvError) {
    const quoting = (parser as { state?: { quoting?: boolean } }).state?.quoting === true;
    const i = (e as { column?: unknown }).column;
    const column = typeof i === 'number' ? ` (column ${names?.[i] ? JSON.stringify(names[i]) : i + 1})` : '';
    switch (e.code) {
      case 'INVALID_OPENING_QUOTE':
        return new DialerError('CSV_INVALID', `${source}: line ${line}: a quote inside an unquoted value${column}; quote the whole value and double the quote, e.g. "O""Brien"`, { cause: e });
      case 'CSV_INVALID_CLOSING_QUOTE':
        return new DialerError('CSV_INVALID', `${source}: line ${line}: text after a closing quote${column}; inside a quoted value write a quote as ""`, { cause: e });
      case 'CSV_QUOTE_NOT_CLOSED':
        return new DialerError('CSV_INVALID', `${source}: line ${line}: a quoted field opened on this row is never closed`, { cause: e });
      case 'CSV_MAX_RECORD_SIZE':
        return new DialerError(
          'CSV_INVALID',
          `${source}: line ${line}: row is longer than ${MAX_ROW_CHARS} characters${quoting ? ' (inside a quoted field: is a quote never closed?)' : ''}`,
          { cause: e },
        );
      default:
        return new DialerError('CSV_INVALID', `${source}: line ${line}: ${e.message}`, { cause: e });
    }
  }
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code) return new DialerError('CSV_INVALID', `${source}: cannot read contacts file (${code})`, { cause: e });
  return e;
}
