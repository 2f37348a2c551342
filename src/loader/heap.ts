import v8 from 'node:v8';

/**
 * How far V8 lets the heap grow past what survived the last full collection
 * while a load runs (percent). Left to itself V8 grows it by up to 4× when
 * collecting looks cheap; a load allocates fast and keeps little (about 40 MB
 * live on a 1,000,000-row list), so that slack was most of the loader's RSS
 * (a heap of ~190 MB). At 50% the heap stays near 100 MB.
 */
export const LOAD_HEAP_GROWING_PERCENT = 50;

let loads = 0;

/**
 * Runs `fn` (a load) with the heap kept tight. The V8 flag is read at each
 * collection and is process-wide, so concurrent loads share it and the
 * default comes back when the last one ends (0 = V8's own choice).
 */
export async function withTightHeap<T>(fn: () => Promise<T>): Promise<T> {
  if (loads++ === 0) v8.setFlagsFromString(`--heap-growing-percent=${LOAD_HEAP_GROWING_PERCENT}`);
  try {
    return await fn();
  } finally {
    if (--loads === 0) v8.setFlagsFromString('--heap-growing-percent=0');
  }
}
