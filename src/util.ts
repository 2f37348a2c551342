/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Makes `close()` idempotent: later calls get the first call's promise. */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}

/** `p`, or `value` once `ms` have passed (the timer is cleared either way: nothing is left holding the process). */
export async function within<T, U>(p: Promise<T>, ms: number, value: U): Promise<T | U> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<U>((resolve) => (timer = setTimeout(resolve, ms, value)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A round run every `everyMs` after a first wait of `firstDelayMs`, until
 * closed; `close()` stops the waits at once and lets a round under way finish.
 * The round handles its own errors (a rejection would end the loop).
 */
export class Periodic {
  private readonly stop = new AbortController();
  private loop?: Promise<void>;

  constructor(private readonly firstDelayMs: number, private readonly everyMs: number, private readonly round: () => Promise<unknown>) {}

  start(): void {
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    await sleep(this.firstDelayMs, this.stop.signal).catch(() => undefined);
    while (!this.stop.signal.aborted) {
      await this.round();
      await sleep(this.everyMs, this.stop.signal).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.loop;
  }
}
