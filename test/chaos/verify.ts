/**
 * The chaos run's verdict, from the simulator's own records (its JSONL
 * request log and its final call list) and the exported results file, never
 * from the dialer's state.
 */
import type { RequestLogEntry } from '../../src/simulator/index.js';
import type { InputRow } from './contacts.js';

/** A call as the simulator lists it at the end of the run. */
export interface SimCallRecord {
  id: string;
  phone: string;
  status: string;
}

export interface Figures {
  contacts: number;
  accepted: number;
  workerKills: number;
  pollerKills: number;
  redisKills: number;
  faults: { post5xx: number; hang: number; drop: number; rateLimited429: number; get5xx: number; post5xxAfterCreate: number };
  posts: number;
  callsCreated: number;
  /** Numbers that received more than one POST /calls (allowed when at most one created a call). */
  numbersPostedMoreThanOnce: number;
  maxPostsToOneNumber: number;
  /** Numbers with more than one created call: must be 0. */
  duplicateCalls: number;
  rowsLost: number;
  /** Accepted (valid, not duplicate) contacts that ended `unknown`: nobody can say whether they were called. */
  unknown: number;
  /** `unknown` as a percentage of accepted contacts. */
  unknownPercent: number;
  outcomeMismatches: number;
  /** Accepted rows that ended without a call, and no call exists for their number (explained, not a failure). */
  endedWithoutCall: Record<string, number>;
  outcomes: Record<string, number>;
  wallSeconds: number;
  /** Worker/poller restarts that found Redis down and exited (then started again once it was back). */
  startsRefusedWhileRedisDown?: number;
}

export interface Verdict {
  figures: Figures;
  /** Every broken guarantee, one line each (empty when all hold). */
  failures: string[];
}

export interface VerifyInput {
  rows: InputRow[];
  log: RequestLogEntry[];
  /** Parsed results file: one record per line, columns by name. */
  results: Record<string, string>[];
  simCalls: SimCallRecord[];
  kills: { workers: number; poller: number; redis: number };
  wallSeconds: number;
}

const isPostCalls = (e: RequestLogEntry) => e.method === 'POST' && e.path.split('?')[0] === '/calls';
const phoneOf = (e: RequestLogEntry) => ((e.body ?? {}) as { phoneNumber?: string }).phoneNumber ?? '';
const inc = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);

export function verify(input: VerifyInput): Verdict {
  const failures: string[] = [];
  const fail = (msg: string) => failures.length < 200 && failures.push(msg);
  const faults = { post5xx: 0, hang: 0, drop: 0, rateLimited429: 0, get5xx: 0, post5xxAfterCreate: 0 };
  const posts = new Map<string, number>();
  const created = new Map<string, string[]>();
  let postCount = 0;
  for (const e of input.log) {
    if (!isPostCalls(e)) {
      if (e.method === 'GET' && e.fault === '5xx') faults.get5xx++;
      continue;
    }
    postCount++;
    if (e.fault === '5xx') faults.post5xx++;
    else if (e.fault === '5xx-after-create') faults.post5xxAfterCreate++;
    else if (e.fault === 'hang') faults.hang++;
    else if (e.fault === 'drop') faults.drop++;
    else if (e.fault === '429') faults.rateLimited429++;
    const n = phoneOf(e);
    posts.set(n, (posts.get(n) ?? 0) + 1);
    // A call rings someone when it was created: a 201, or a drop after creating it.
    if (e.call_id) created.set(n, [...(created.get(n) ?? []), e.call_id]);
  }
  let duplicateCalls = 0;
  for (const [n, ids] of created) {
    if (ids.length > 1) {
      duplicateCalls++;
      fail(`number ${n} got ${ids.length} calls: ${ids.join(', ')}`);
    }
  }
  const simById = new Map(input.simCalls.map((c) => [c.id, c]));
  const createdIds = [...created.values()].flat();
  if (input.simCalls.length !== createdIds.length) fail(`the request log shows ${createdIds.length} created calls, the simulator lists ${input.simCalls.length}`);

  // One results line per input row, in order, nothing extra.
  let rowsLost = 0;
  const byRow = new Map<number, Record<string, string>>();
  for (const r of input.results) {
    const n = Number(r.row);
    if (byRow.has(n)) fail(`row ${n} appears twice in the results`);
    byRow.set(n, r);
  }
  if (input.results.length !== input.rows.length) fail(`results have ${input.results.length} rows for ${input.rows.length} input rows`);
  const inputPhones = new Set(input.rows.map((r) => r.phone));
  for (const n of created.keys()) if (!inputPhones.has(n)) fail(`a call was created for ${n}, which is in no input row`);

  const outcomes: Record<string, number> = {};
  const endedWithoutCall: Record<string, number> = {};
  let mismatches = 0;
  const mismatch = (msg: string) => (mismatches++, fail(msg));
  for (const inRow of input.rows) {
    const res = byRow.get(inRow.row);
    if (!res || !res.outcome || res.outcome === 'pending' || res.phone !== inRow.phone) {
      rowsLost++;
      fail(`row ${inRow.row}: ${!res ? 'missing from the results' : res.phone !== inRow.phone ? `phone ${res.phone} is not the input's ${inRow.phone}` : 'has no final outcome'}`);
      continue;
    }
    inc(outcomes, res.outcome);
    const calls = created.get(inRow.phone) ?? [];
    if (inRow.expect === 'rejected') {
      if (res.outcome !== 'rejected') mismatch(`row ${inRow.row}: invalid number but outcome ${res.outcome}`);
      if (posts.has(inRow.phone)) mismatch(`row ${inRow.row}: invalid number was POSTed`);
      continue;
    }
    if (inRow.expect === 'duplicate') {
      if (res.outcome !== 'duplicate' || res.call_id) mismatch(`row ${inRow.row}: duplicate of row ${inRow.ownerRow} but outcome ${res.outcome} call ${res.call_id || '-'}`);
      continue;
    }
    if (res.call_id) {
      const sim = simById.get(res.call_id);
      if (!sim) mismatch(`row ${inRow.row}: call ${res.call_id} is unknown to the simulator`);
      else if (sim.phone !== inRow.phone) mismatch(`row ${inRow.row}: call ${res.call_id} went to another number`);
      else if (sim.status !== res.outcome) mismatch(`row ${inRow.row}: outcome ${res.outcome}, the simulator says ${sim.status}`);
      if (calls.length === 1 && calls[0] !== res.call_id) mismatch(`row ${inRow.row}: reports call ${res.call_id}, the number's call was ${calls[0]}`);
    } else if (calls.length > 0) {
      // Someone's phone rang and the results don't say so.
      mismatch(`row ${inRow.row}: outcome ${res.outcome} without a call id, but call ${calls.join(', ')} was created for the number`);
    } else {
      if (['completed', 'no-answer', 'busy', 'voicemail', 'failed'].includes(res.outcome)) mismatch(`row ${inRow.row}: outcome ${res.outcome} but no call exists`);
      inc(endedWithoutCall, `${res.outcome} (${posts.has(inRow.phone) ? `${posts.get(inRow.phone)} POSTs, none created a call` : 'never POSTed'})`);
    }
  }
  const postCounts = [...posts.values()];
  const accepted = input.rows.filter((r) => r.expect === 'accepted');
  const unknown = accepted.filter((r) => byRow.get(r.row)?.outcome === 'unknown').length;
  return {
    failures,
    figures: {
      contacts: input.rows.length,
      accepted: accepted.length,
      workerKills: input.kills.workers,
      pollerKills: input.kills.poller,
      redisKills: input.kills.redis,
      faults,
      posts: postCount,
      callsCreated: createdIds.length,
      numbersPostedMoreThanOnce: postCounts.filter((n) => n > 1).length,
      maxPostsToOneNumber: Math.max(0, ...postCounts),
      duplicateCalls,
      rowsLost,
      unknown,
      unknownPercent: accepted.length ? Math.round((10_000 * unknown) / accepted.length) / 100 : 0,
      outcomeMismatches: mismatches,
      endedWithoutCall,
      outcomes,
      wallSeconds: input.wallSeconds,
    },
  };
}

/** The figures as an aligned two-column table. */
export function formatFigures(f: Figures): string {
  const lines: [string, string | number][] = [
    ['contacts (valid, accepted)', `${f.contacts} (${f.accepted})`],
    ['worker kills (kill -9)', f.workerKills],
    ['poller kills / redis kills', `${f.pollerKills} / ${f.redisKills}${f.startsRefusedWhileRedisDown ? ` (${f.startsRefusedWhileRedisDown} restarts refused while Redis was down)` : ''}`],
    ['faults: POST 5xx (no call created)', f.faults.post5xx],
    ['faults: POST 5xx after creating the call', f.faults.post5xxAfterCreate],
    ['faults: hangs', f.faults.hang],
    ['faults: drops (created, no answer)', f.faults.drop],
    ['faults: 429', f.faults.rateLimited429],
    ['faults: GET 5xx', f.faults.get5xx],
    ['POST /calls sent', f.posts],
    ['calls created', f.callsCreated],
    ['numbers POSTed more than once', `${f.numbersPostedMoreThanOnce} (max ${f.maxPostsToOneNumber} POSTs)`],
    ['numbers called twice (>1 call created)', f.duplicateCalls],
    ['rows lost', f.rowsLost],
    ['valid contacts ending unknown', `${f.unknown} (${f.unknownPercent}% of ${f.accepted})`],
    ['outcome mismatches', f.outcomeMismatches],
    ['ended without a call (explained)', Object.entries(f.endedWithoutCall).map(([k, v]) => `${k}: ${v}`).join('; ') || 'none'],
    ['outcomes', Object.entries(f.outcomes).map(([k, v]) => `${k} ${v}`).join(', ')],
    ['wall time', `${f.wallSeconds.toFixed(1)} s`],
  ];
  const w = Math.max(...lines.map(([k]) => k.length));
  return lines.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}
