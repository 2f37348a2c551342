import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { CountryCode } from 'libphonenumber-js/max';
import { CELL_SEP, normalizeCells, type CellsResult } from '../phone/multi.js';
import type { PhoneReply, PhoneRequest } from './phone-worker.js';

type PhoneResult = CellsResult;

/**
 * Phone validation on a second core. libphonenumber costs more per number (it
 * builds a RegExp for every pattern test) than parsing the CSV row around it,
 * so it bounds what one thread can load. One worker thread takes
 * batches while the loader thread parses; when the worker already has work
 * queued (or could not start) a batch is validated in-process instead, so the
 * two cores share the load and nothing depends on the worker being there.
 */
export class PhoneWorker {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly pending = new Map<number, { phones: string[]; country?: CountryCode; done: (r: PhoneResult[]) => void }>();
  private nextId = 0;
  private dead = false;

  /** A started worker, or null when this runtime can't start one (then callers stay in-process). */
  static start(): PhoneWorker | null {
    try {
      return new PhoneWorker();
    } catch {
      return null;
    }
  }

  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = startWorker(port2);
    // Replies are also pulled synchronously by poll(): a busy loader thread would
    // otherwise not see them until its next trip round the event loop.
    this.port.on('message', (m: PhoneReply) => this.settle(m));
    this.port.unref();
    this.worker.unref(); // ref'd only while a batch is out, so an idle worker never holds the process open
    const die = () => {
      this.dead = true;
      for (const [, p] of this.pending) p.done(checkLocally(p.phones, p.country));
      this.pending.clear();
    };
    this.worker.on('error', die);
    this.worker.on('exit', die);
  }

  /** True once the worker is gone (failed to start, crashed, closed): batches run in-process. */
  get inProcess(): boolean {
    return this.dead;
  }

  /** Batches sent and not yet answered (after taking in any replies already here). */
  get outstanding(): number {
    this.poll();
    return this.pending.size;
  }

  poll(): void {
    for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) this.settle(m.message as PhoneReply);
  }

  /** `done` is called exactly once, synchronously from poll() or from the port's event. */
  send(phones: string[], country: CountryCode | undefined, done: (r: PhoneResult[]) => void): void {
    if (this.dead) return done(checkLocally(phones, country));
    const id = this.nextId++;
    this.pending.set(id, { phones, country, done });
    this.worker.ref();
    this.port.ref();
    this.port.postMessage({ id, phones, country } satisfies PhoneRequest);
  }

  /** Stops the worker; batches still out are dropped (their callbacks never run). */
  async close(): Promise<void> {
    this.dead = true;
    this.pending.clear();
    this.port.close();
    await this.worker.terminate();
  }

  private settle(m: PhoneReply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0) {
      this.worker.unref();
      this.port.unref();
    }
    p.done(m.results.map(decode));
  }
}

function decode(s: string): PhoneResult {
  if (s.startsWith('!')) {
    const m = /^!(\d+)!/.exec(s);
    return m ? { ok: false, cell: Number(m[1]), reason: s.slice(m[0].length) } : { ok: false, reason: s.slice(1) };
  }
  const [e164, country, alts] = s.split(' ');
  const r: PhoneResult = { ok: true, e164: e164! };
  if (country) r.country = country;
  if (alts) r.alts = alts.split(',');
  return r;
}

/**
 * Built: dist/.../phone-worker.js. From source (tsx, vitest) the worker is TypeScript, and
 * Node 20 does not apply the parent's loader hooks to a worker's entry, so a tiny
 * JS bootstrap loads it through tsx's API. If that fails the pool falls back to in-process.
 */
function startWorker(port: MessagePort): Worker {
  const self = import.meta.url;
  // Its heap holds libphonenumber's metadata and two batches at most: capped, V8 collects
  // it instead of growing it (its young generation alone could take 48 MB).
  // A worker that ran out would exit, and the pool goes on in-process.
  const options = { workerData: { port }, transferList: [port], resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 } };
  if (!self.endsWith('.ts')) return new Worker(new URL('./phone-worker.js', self), options);
  const tsxApi = pathToFileURL(createRequire(self).resolve('tsx/esm/api')).href.replace(/\.cjs$/, '.mjs');
  const entry = new URL('./phone-worker.ts', self).href;
  return new Worker(`import(${JSON.stringify(tsxApi)}).then((m) => m.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(self)}))`, { ...options, eval: true });
}

/** `phones`: per row, its phone cells joined by CELL_SEP. */
export function checkLocally(phones: string[], country: CountryCode | undefined): PhoneResult[] {
  return phones.map((p) => normalizeCells(p.split(CELL_SEP), country));
}
