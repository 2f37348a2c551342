/**
 * A local, seeded stand-in for the Callease API (see
 * /work/shared/callease-api.md): calls with a lazily derived lifecycle, SMS
 * actions, auth, a sliding-window rate limit, injectable faults and a JSONL
 * request log. Used by the demo, tests, chaos test and benchmarks.
 */
import type { Simulator, SimulatorFaults } from './types.js';

export { startSimulator } from './server.js';
export { parseOutcomeWeights, parseRange, DEFAULT_OPTIONS, DEFAULT_OUTCOME_WEIGHTS } from './options.js';
export { callView, statusAt } from './calls.js';
export { liveStats, type LiveStats } from './live.js';
export { E164 } from './validate.js';
export { FINAL_STATUSES } from './types.js';
export type {
  CallStatus,
  CustomVariable,
  FinalStatus,
  Range,
  RequestLogEntry,
  SimAction,
  SimCall,
  Simulator,
  SimulatorFaults,
  SimulatorOptions,
} from './types.js';

function maskKey(key: string): string {
  // The default key is public knowledge; anything else is shown only in part.
  return key === 'sim-key' ? key : `${key.slice(0, 3)}${'•'.repeat(Math.max(3, key.length - 3))}`;
}

/** The rarer faults, named only when set. */
function lookupFaults(f: SimulatorFaults): string {
  const slow = f.lookupLatencyMs === undefined ? undefined : typeof f.lookupLatencyMs === 'number' ? String(f.lookupLatencyMs) : `${f.lookupLatencyMs.min}-${f.lookupLatencyMs.max}`;
  const parts = [f.rejectRate ? `, reject ${f.rejectRate}` : '', f.lookupFailRate ? `, lookups failing for ${f.lookupFailRate} of calls` : '', slow ? `, lookup latency ${slow} ms` : ''];
  return parts.join('');
}

/** Multi-line startup banner for the CLI. */
export function formatSimulatorBanner(sim: Simulator): string {
  const o = sim.options;
  const f = o.faults ?? {};
  const lat = f.latencyMs === undefined ? '0' : typeof f.latencyMs === 'number' ? String(f.latencyMs) : `${f.latencyMs.min}-${f.latencyMs.max}`;
  const d = o.callDurationMs ?? { min: 2000, max: 8000 };
  return [
    `Callease simulator listening on ${sim.url}`,
    `  api key:    ${maskKey(o.apiKey ?? 'sim-key')}  (Authorization: Bearer <key>)`,
    `  seed:       ${o.seed ?? 1}   call duration: ${d.min}-${d.max} ms`,
    `  assistants: ${o.assistants && o.assistants.length > 0 ? o.assistants.join(', ') : 'any'}`,
    `  rate limit: ${o.rateLimitPerSecond ? `${o.rateLimitPerSecond}/s (${o.rateLimitScope ?? 'calls'})` : 'none'}`,
    `  faults:     5xx ${f.error5xxRate ?? 0}, hang ${f.hangRate ?? 0}, drop ${f.dropAfterCreateRate ?? 0}, 5xx after create ${f.error5xxAfterCreateRate ?? 0}, latency ${lat} ms${lookupFaults(f)}`,
    `  request log: ${o.logPath ?? 'memory only'}`,
  ].join('\n');
}
