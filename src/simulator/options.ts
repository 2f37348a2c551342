import { DialerError } from '../errors.js';
import { FINAL_STATUSES, type FinalStatus, type Range, type SimulatorOptions } from './types.js';

export const DEFAULT_OUTCOME_WEIGHTS: Readonly<Record<FinalStatus, number>> = {
  completed: 60,
  'no-answer': 20,
  busy: 8,
  voicemail: 8,
  failed: 4,
};

export const DEFAULT_OPTIONS = {
  host: '127.0.0.1',
  port: 0,
  apiKey: 'sim-key',
  seed: 1,
  callDurationMs: { min: 2000, max: 8000 },
  rateLimitScope: 'calls',
  getShape: 'object',
  createShape: 'id',
} as const satisfies SimulatorOptions;

/** What the request handler reads on every request, precomputed from the options. */
export interface Config {
  apiKey: string;
  seed: number;
  assistants: Set<string> | null;
  duration: Range;
  weights: Array<[FinalStatus, number]>;
  /** Forced outcomes by number: the n-th call gets the n-th (the last repeats). */
  outcomeFor: Map<string, FinalStatus[]>;
  invalidNumbers: Set<string>;
  rateLimit: number;
  rateLimitAll: boolean;
  error5xxRate: number;
  latency: Range | null;
  hangRate: number;
  dropRate: number;
  error5xxAfterCreateRate: number;
  rejectRate: number;
  lookupFailRate: number;
  lookupLatency: Range | null;
  batchBadBodyRate: number;
  batch429Rate: number;
  batchOmitRate: number;
  getShape: NonNullable<SimulatorOptions['getShape']>;
  createShape: NonNullable<SimulatorOptions['createShape']>;
}

function bad(message: string): never {
  throw new DialerError('CONFIG_INVALID', `simulator: ${message}`);
}

function fraction(name: string, v: number | undefined): number {
  if (v === undefined) return 0;
  if (!Number.isFinite(v) || v < 0 || v > 1) bad(`${name} must be a fraction from 0 to 1, got ${v}`);
  return v;
}

function range(name: string, v: Range): Range {
  if (!Number.isFinite(v.min) || !Number.isFinite(v.max) || v.min < 0 || v.max < v.min) {
    bad(`${name} must have 0 <= min <= max, got ${JSON.stringify(v)}`);
  }
  return { min: v.min, max: v.max };
}

/** A latency option: absent or 0 is none; a number is a fixed delay. */
function optionalRange(name: string, v: number | Range | undefined): Range | null {
  if (v === undefined || v === 0) return null;
  return typeof v === 'number' ? range(name, { min: v, max: v }) : range(name, v);
}

function isFinal(s: unknown): s is FinalStatus {
  return typeof s === 'string' && (FINAL_STATUSES as readonly string[]).includes(s);
}

/** Validates the options and precomputes the hot-path view of them. */
export function buildConfig(o: SimulatorOptions): Config {
  const weightsIn = o.outcomes ?? DEFAULT_OUTCOME_WEIGHTS;
  const weights: Array<[FinalStatus, number]> = [];
  for (const [k, w] of Object.entries(weightsIn)) {
    if (!isFinal(k)) bad(`unknown outcome "${k}" (expected one of ${FINAL_STATUSES.join(', ')})`);
    if (w === undefined) continue;
    if (!Number.isFinite(w) || w < 0) bad(`outcome weight ${k} must be >= 0, got ${w}`);
    weights.push([k, w]);
  }
  if (!weights.some(([, w]) => w > 0)) bad('at least one outcome weight must be positive');
  const outcomeFor = new Map<string, FinalStatus[]>();
  for (const [num, v] of Object.entries(o.outcomeFor ?? {})) {
    const seq: unknown[] = Array.isArray(v) ? v : [v];
    if (seq.length === 0) bad(`outcomeFor[${num}] must name at least one final status`);
    for (const s of seq) if (!isFinal(s)) bad(`outcomeFor[${num}] must be a final status or a list of them, got "${String(s)}"`);
    outcomeFor.set(num, seq as FinalStatus[]);
  }
  const f = o.faults ?? {};
  const lat = f.latencyMs;
  const latency = optionalRange('faults.latencyMs', lat);
  const rateLimit = o.rateLimitPerSecond ?? 0;
  if (!Number.isFinite(rateLimit) || rateLimit < 0) bad(`rateLimitPerSecond must be >= 0, got ${rateLimit}`);
  const seed = o.seed ?? DEFAULT_OPTIONS.seed;
  if (!Number.isFinite(seed)) bad(`seed must be a number, got ${seed}`);
  const apiKey = o.apiKey ?? DEFAULT_OPTIONS.apiKey;
  if (apiKey === '') bad('apiKey must not be empty');
  return {
    apiKey,
    seed,
    assistants: o.assistants && o.assistants.length > 0 ? new Set(o.assistants) : null,
    duration: range('callDurationMs', o.callDurationMs ?? DEFAULT_OPTIONS.callDurationMs),
    weights,
    outcomeFor,
    invalidNumbers: new Set(o.invalidNumbers ?? []),
    rateLimit: Math.floor(rateLimit),
    rateLimitAll: (o.rateLimitScope ?? DEFAULT_OPTIONS.rateLimitScope) === 'all',
    error5xxRate: fraction('faults.error5xxRate', f.error5xxRate),
    latency,
    hangRate: fraction('faults.hangRate', f.hangRate),
    dropRate: fraction('faults.dropAfterCreateRate', f.dropAfterCreateRate),
    error5xxAfterCreateRate: fraction('faults.error5xxAfterCreateRate', f.error5xxAfterCreateRate),
    rejectRate: fraction('faults.rejectRate', f.rejectRate),
    lookupFailRate: fraction('faults.lookupFailRate', f.lookupFailRate),
    lookupLatency: optionalRange('faults.lookupLatencyMs', f.lookupLatencyMs),
    batchBadBodyRate: fraction('faults.batchBadBodyRate', f.batchBadBodyRate),
    batch429Rate: fraction('faults.batch429Rate', f.batch429Rate),
    batchOmitRate: fraction('faults.batchOmitRate', f.batchOmitRate),
    getShape: o.getShape ?? DEFAULT_OPTIONS.getShape,
    createShape: o.createShape ?? DEFAULT_OPTIONS.createShape,
  };
}

/** "completed=60,no-answer=20" → {completed: 60, 'no-answer': 20} (for --outcomes). */
export function parseOutcomeWeights(text: string): Partial<Record<FinalStatus, number>> {
  const out: Partial<Record<FinalStatus, number>> = {};
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const m = /^([a-z-]+)\s*[=:]\s*(\d+(?:\.\d+)?)$/.exec(item);
    if (!m) throw new DialerError('USAGE', `--outcomes: expected name=weight, got "${item}"`);
    const name = m[1]!;
    if (!isFinal(name)) throw new DialerError('USAGE', `--outcomes: unknown outcome "${name}" (expected one of ${FINAL_STATUSES.join(', ')})`);
    out[name] = Number(m[2]);
  }
  if (!Object.values(out).some((w) => w > 0)) throw new DialerError('USAGE', '--outcomes: at least one weight must be positive');
  return out;
}

/** "2000-8000" → {min: 2000, max: 8000}; "500" → {min: 500, max: 500} (for --duration-ms, --latency-ms). */
export function parseRange(text: string): Range {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?)\s*)?$/.exec(text);
  if (!m) throw new DialerError('USAGE', `expected a number or a range like 2000-8000, got "${text}"`);
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : Number(m[2]);
  if (max < min) throw new DialerError('USAGE', `range ${text}: max is below min`);
  return { min, max };
}
