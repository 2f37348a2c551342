import { createWriteStream, type WriteStream } from 'node:fs';
import type { RequestLogEntry } from './types.js';

/** Lines are batched so a benchmark's thousands of requests/s cost few write calls. */
const FLUSH_EVERY_MS = 50;
const FLUSH_AT_CHARS = 64 * 1024;

export class RequestLog {
  readonly entries: RequestLogEntry[] = [];
  private stream: WriteStream | null = null;
  private buffer = '';
  private timer: NodeJS.Timeout | null = null;
  private lastWrite: Promise<void> = Promise.resolve();
  private failed = false;

  constructor(path?: string) {
    if (!path) return;
    this.stream = createWriteStream(path, { flags: 'a' });
    this.stream.on('error', (err) => {
      // A broken log must not take the simulator (and the test using it) down.
      if (!this.failed) process.stderr.write(`simulator: request log ${path}: ${err.message}\n`);
      this.failed = true;
    });
  }

  add(entry: RequestLogEntry): void {
    this.entries.push(entry);
    if (!this.stream || this.failed) return;
    this.buffer += JSON.stringify(entry) + '\n';
    if (this.buffer.length >= FLUSH_AT_CHARS) this.writeBuffer();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.writeBuffer(), FLUSH_EVERY_MS);
      this.timer.unref();
    }
  }

  private writeBuffer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const stream = this.stream;
    if (!stream || this.failed || this.buffer === '') return;
    const chunk = this.buffer;
    this.buffer = '';
    // Writes complete in order, so waiting for the newest covers all before it.
    this.lastWrite = new Promise((resolve) => stream.write(chunk, () => resolve()));
  }

  /** Resolves once every line added so far has reached the file. */
  flush(): Promise<void> {
    this.writeBuffer();
    return this.lastWrite;
  }

  async close(): Promise<void> {
    await this.flush();
    const stream = this.stream;
    this.stream = null;
    if (stream && !stream.destroyed) await new Promise<void>((resolve) => stream.end(() => resolve()));
  }
}
