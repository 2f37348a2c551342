import { randomBytes } from 'node:crypto';
import type { Config } from './options.js';
import { drawRange, hashKey, keyedRng, pickWeighted } from './prng.js';
import type { CallStatus, CustomVariable, FinalStatus, SimCall } from './types.js';

/** Share of the planned duration spent queued, then (cumulative) ringing. */
const QUEUED_UNTIL = 0.1;
const RINGING_UNTIL = 0.3;
/** Simulated price per connected minute. */
const COST_PER_MINUTE = 0.12;

const ENDED_REASON: Record<Exclude<FinalStatus, 'completed'>, string> = {
  'no-answer': 'customer-did-not-answer',
  busy: 'customer-busy',
  voicemail: 'voicemail',
  failed: 'call-failed-to-connect',
};

export interface NewCall {
  assistant_id: string;
  name: string | null;
  phoneNumber: string;
  customVariables: CustomVariable[];
}

/**
 * Creates the `nth` call to its number. Outcome, duration and end reason
 * depend only on (seed, number, nth), never on arrival order across numbers.
 */
export function createCall(cfg: Config, input: NewCall, nth: number, now: number): SimCall {
  const rng = keyedRng(cfg.seed, `outcome|${input.phoneNumber}|${nth}`);
  // Always draw in the same order so forcing an outcome doesn't shift durations.
  const picked = pickWeighted(cfg.weights, rng());
  const plannedMs = Math.round(drawRange(cfg.duration.min, cfg.duration.max, rng()));
  const endedBy = rng() < 0.6 ? 'customer-ended-call' : 'assistant-ended-call';
  const script = cfg.outcomeFor.get(input.phoneNumber);
  const outcome = script ? script[Math.min(nth, script.length) - 1]! : picked;
  return {
    id: `call_${randomBytes(12).toString('hex')}`,
    ...input,
    createdAt: now,
    plannedMs,
    outcome,
    nth,
    endedReason: outcome === 'completed' ? endedBy : ENDED_REASON[outcome],
  };
}

export function statusAt(call: SimCall, now: number): CallStatus {
  const elapsed = now - call.createdAt;
  if (elapsed >= call.plannedMs) return call.outcome;
  if (elapsed < call.plannedMs * QUEUED_UNTIL) return 'queued';
  if (call.outcome === 'completed' && elapsed >= call.plannedMs * RINGING_UNTIL) return 'in-progress';
  return 'ringing';
}

function contactName(call: SimCall): string {
  if (call.name) return call.name;
  const v = call.customVariables.find((c) => c.key.toLowerCase() === 'name');
  return v?.value || 'there';
}

const REPLIES = [
  ['Sure, go ahead.', 'Yes, Thursday morning works for me.', 'booked a follow-up for Thursday morning'],
  ['I only have a minute.', "Not right now, maybe next month.", 'asked to be called back next month'],
  ['Who is this?', 'Please send me the details by text.', 'asked for the details by SMS'],
] as const;

function conversation(call: SimCall): { summary: string; transcript: string } {
  const name = contactName(call);
  const [opener, answer, gist] = REPLIES[hashKey(call.nth, call.phoneNumber) % REPLIES.length]!;
  const transcript = [
    `AI: Hi ${name}, this is the Callease assistant. Do you have a moment?`,
    `User: ${opener}`,
    `AI: Thanks, ${name}. I'm calling to follow up on your enquiry. When would suit you?`,
    `User: ${answer}`,
    `AI: Noted. Have a great day, ${name}!`,
  ].join('\n');
  return { summary: `Spoke with ${name}, who ${gist}.`, transcript };
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The call as the API shows it at `now`: ended fields stay null until the final status. */
export function callView(call: SimCall, now: number): Record<string, unknown> {
  const status = statusAt(call, now);
  const endedAt = call.createdAt + call.plannedMs;
  const startedAt = call.createdAt + Math.round(call.plannedMs * RINGING_UNTIL);
  const final = now >= endedAt;
  const connected = call.outcome === 'completed';
  const view: Record<string, unknown> = {
    id: call.id,
    assistant_id: call.assistant_id,
    name: call.name,
    phoneNumber: call.phoneNumber,
    customVariables: call.customVariables,
    status,
    created_at: iso(call.createdAt),
    started_at: connected && (status === 'in-progress' || final) ? iso(startedAt) : null,
    ended_at: null,
    duration: null,
    ended_reason: null,
    summary: null,
    transcript: null,
    recording_url: null,
    cost: null,
  };
  if (!final) return view;
  const seconds = connected ? Math.round((endedAt - startedAt) / 100) / 10 : 0;
  view.ended_at = iso(endedAt);
  view.duration = seconds;
  view.ended_reason = call.endedReason;
  view.cost = Math.round((seconds / 60) * COST_PER_MINUTE * 10000) / 10000;
  if (connected) {
    Object.assign(view, conversation(call));
    view.recording_url = `https://recordings.callease.invalid/${call.id}.mp3`;
  }
  return view;
}
