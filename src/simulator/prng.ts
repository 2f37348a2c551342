/**
 * Small seeded PRNGs. Draws that matter for a test (outcomes, faults of a
 * POST /calls) come from a generator keyed by what the request is about, so
 * that the order in which concurrent requests arrive doesn't change them.
 */

export type Rng = () => number;

/** mulberry32: fast, good enough for simulation, 32-bit state. */
export function mulberry32(state: number): Rng {
  let a = state >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over the key, salted with the seed, then avalanche-mixed. */
export function hashKey(seed: number, key: string): number {
  let h = (0x811c9dc5 ^ Math.imul(seed | 0, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A generator that depends only on (seed, key). */
export function keyedRng(seed: number, key: string): Rng {
  return mulberry32(hashKey(seed, key));
}

/** Picks a key by weight; `r` in [0, 1). */
export function pickWeighted<K extends string>(weights: ReadonlyArray<readonly [K, number]>, r: number): K {
  let total = 0;
  for (const [, w] of weights) total += w;
  let x = r * total;
  for (const [k, w] of weights) {
    if (w <= 0) continue;
    if (x < w) return k;
    x -= w;
  }
  // Float rounding can leave x a hair above the last bucket.
  for (let i = weights.length - 1; i >= 0; i--) if (weights[i]![1] > 0) return weights[i]![0];
  throw new Error('pickWeighted: no positive weight');
}

/** Uniform draw in [min, max]. */
export function drawRange(min: number, max: number, r: number): number {
  return max <= min ? min : min + (max - min) * r;
}
