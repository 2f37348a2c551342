/**
 * Bench options, from flags and the environment (flags win):
 *   --scale <f> / BENCH_SCALE   multiplies every size and duration (default 1; the smoke test uses ~0.002)
 *   --only <a,b> / BENCH_ONLY   run only these benches (loader, dial, rate, memory, poller, drain, durable, capacity, suppression, status)
 *   --no-record / BENCH_RECORD=0  don't append to bench/RESULTS.md
 *   --profile / BENCH_PROFILE=1   run our side of each bench (and raw's dial worker) with `node --cpu-prof` (profiles in bench/profiles/)
 *   --repeat <n> / BENCH_REPEAT   runs of each variant of the throughput benches, raw and ours alternating
 *                                 (medians reported; default 3 for dial and durable, 1 for the long loader bench)
 *   --parallel / BENCH_PARALLEL=1 run the benches at the same time (the smoke test: figures then mean little)
 *   --no-build / BENCH_BUILD=0    run the measured processes from source through tsx instead of a tsc build
 *                                 (quicker to start; RSS then includes tsx's loader thread and its copy in the phone worker)
 */
export const BENCHES = ['loader', 'dial', 'rate', 'memory', 'poller', 'drain', 'durable', 'capacity', 'suppression', 'status'] as const;
export type BenchName = (typeof BENCHES)[number];

export interface BenchOptions {
  scale: number;
  only: BenchName[];
  record: boolean;
  profile: boolean;
  build: boolean;
  parallel: boolean;
  /** Undefined: each bench's own default. */
  repeat?: number;
}

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i !== -1) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`${name}=`));
  return eq?.slice(name.length + 1);
}

export function readOptions(argv = process.argv.slice(2), env = process.env): BenchOptions {
  const scale = Number(flag(argv, '--scale') ?? env.BENCH_SCALE ?? 1);
  if (!Number.isFinite(scale) || scale <= 0) throw new Error(`--scale must be a positive number, got ${flag(argv, '--scale') ?? env.BENCH_SCALE}`);
  const repeatRaw = flag(argv, '--repeat') ?? env.BENCH_REPEAT;
  const repeat = repeatRaw === undefined ? undefined : Number(repeatRaw);
  if (repeat !== undefined && !(Number.isInteger(repeat) && repeat >= 1)) throw new Error(`--repeat must be a whole number ≥ 1, got ${repeatRaw}`);
  const onlyRaw = flag(argv, '--only') ?? env.BENCH_ONLY;
  const only = onlyRaw ? onlyRaw.split(',').map((s) => s.trim()).filter(Boolean) : [...BENCHES];
  for (const b of only) if (!(BENCHES as readonly string[]).includes(b)) throw new Error(`unknown bench "${b}" (expected ${BENCHES.join(', ')})`);
  return {
    scale,
    only: only as BenchName[],
    record: !argv.includes('--no-record') && env.BENCH_RECORD !== '0',
    profile: argv.includes('--profile') || env.BENCH_PROFILE === '1',
    build: !argv.includes('--no-build') && env.BENCH_BUILD !== '0',
    parallel: argv.includes('--parallel') || env.BENCH_PARALLEL === '1',
    repeat,
  };
}

/** A size scaled down for quick runs, never below `min`. */
export function scaled(full: number, scale: number, min: number): number {
  return Math.max(min, Math.round(full * scale));
}
