import { handleActions, handleAttach } from './actions.js';
import { callView, createCall } from './calls.js';
import { liveStats } from './live.js';
import { keyedRng, type Rng } from './prng.js';
import { fail, notFound, reply, type Reply, type Request, type SimState } from './state.js';
import type { SimCall } from './types.js';
import { checkCallBody } from './validate.js';

/** The simulator's own figures; not a Callease route. */
export const STATS_PATH = '/simulator/stats';

/** Routes an authenticated request. */
export function route(s: SimState, req: Request): Reply {
  const { method, pathname } = req;
  if (pathname === '/calls') {
    if (method === 'POST') return postCall(s, req);
    if (method === 'GET') {
      if (req.query.has('ids')) return withGetFault(s, () => getMany(s, req, req.query.getAll('ids').join(',')));
      return withGetFault(s, () => (req.query.has('id') ? getOne(s, req, req.query.get('id')!) : listCalls(s, req)));
    }
  } else if (pathname.startsWith('/calls/')) {
    // Path-style lookup, for clients configured with a /calls/{id} template.
    if (method === 'GET') return withGetFault(s, () => getOne(s, req, decodeURIComponent(pathname.slice(7))));
  } else if (pathname === STATS_PATH) {
    // Not part of the Callease API: the simulator's own figures (calls live at once by its clock).
    if (method === 'GET') return reply(200, liveStats(s.calls.values(), req.now));
  } else if (pathname === '/actions/attach' || pathname === '/actions/detach') {
    if (method === 'POST') return handleAttach(s, req, pathname === '/actions/attach');
  } else if (pathname === '/actions') {
    const r = handleActions(s, req, undefined);
    if (r) return r;
  } else if (pathname.startsWith('/actions/') && pathname.indexOf('/', 9) === -1) {
    const r = handleActions(s, req, decodeURIComponent(pathname.slice(9)));
    if (r) return r;
  }
  return fail(404, `no route ${method} ${pathname}`);
}

/** The three gateway errors a real deployment shows, 503 with a Retry-After hint. */
export function serverError(r: number): Reply {
  const reply5xx: Reply =
    r < 1 / 3 ? fail(500, 'internal server error') : r < 2 / 3 ? fail(502, 'bad gateway') : { ...fail(503, 'service unavailable'), headers: { 'retry-after': '1' } };
  reply5xx.fault = '5xx';
  return reply5xx;
}

function withGetFault(s: SimState, answer: () => Reply): Reply {
  const rate = s.cfg.error5xxRate;
  if (rate > 0) {
    const [r, code] = [s.globalRng(), s.globalRng()];
    if (r < rate) return serverError(code);
  }
  return answer();
}

export function rateLimited(limit: number, retryAfterMs: number): Reply {
  const secs = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return {
    status: 429,
    body: { error: `rate limit exceeded: at most ${limit} requests per second`, retry_after: secs },
    headers: { 'retry-after': String(secs) },
    fault: '429',
  };
}

function postCall(s: SimState, req: Request): Reply {
  const cfg = s.cfg;
  if (!cfg.rateLimitAll && cfg.rateLimit > 0) {
    const r = s.limiter.tryAdmit(cfg.rateLimit, req.now);
    if (!r.ok) return rateLimited(cfg.rateLimit, r.retryAfterMs);
  }
  if (req.badJson) return fail(400, 'body is not valid JSON');
  const c = checkCallBody(req.body);
  if ('error' in c) return fail(422, c.error);
  const input = c.ok;
  if (cfg.assistants && !cfg.assistants.has(input.assistant_id)) return notFound(`assistant ${input.assistant_id}`);
  if (cfg.invalidNumbers.has(input.phoneNumber)) return fail(422, 'phoneNumber is not a valid number');

  // Fault draws keyed by (number, attempt) and always taken in the same order,
  // so one number's retries see the same faults whatever else is in flight.
  const attempt = (s.attempts.get(input.phoneNumber) ?? 0) + 1;
  s.attempts.set(input.phoneNumber, attempt);
  const rng: Rng = keyedRng(cfg.seed, `fault|${input.phoneNumber}|${attempt}`);
  // Later faults are drawn after the earlier ones, so adding one left every earlier draw (and seeded run) as it was.
  const [r5xx, rCode, rHang, rDrop, rLatency, rReject] = [rng(), rng(), rng(), rng(), rng(), rng()];
  const r5xxAfter = rng();
  if (r5xx < cfg.error5xxRate) return { ...serverError(rCode), latencyDraw: rLatency };
  if (rHang < cfg.hangRate) return { status: 0, kind: 'hang', fault: 'hang' };
  if (rReject < cfg.rejectRate) return { ...fail(422, 'call rejected (simulated)'), fault: 'reject', latencyDraw: rLatency };

  const list = s.byNumber.get(input.phoneNumber) ?? [];
  const call = createCall(cfg, input, list.length + 1, req.now);
  // Its own keyed draw, so turning this fault on changes no outcome or other fault.
  if (cfg.lookupFailRate > 0 && keyedRng(cfg.seed, `lookup|${input.phoneNumber}|${call.nth}`)() < cfg.lookupFailRate) call.lookupFails = true;
  list.push(call);
  s.byNumber.set(input.phoneNumber, list);
  s.calls.set(call.id, call);
  if (rDrop < cfg.dropRate) return { status: 0, kind: 'drop', fault: 'drop', callId: call.id, latencyDraw: rLatency };
  // The call exists and rings, yet the client sees a 5xx: only a lookup can tell.
  if (r5xxAfter < cfg.error5xxAfterCreateRate) return { ...serverError(rCode), fault: '5xx-after-create', callId: call.id, latencyDraw: rLatency };

  const created = { status: 'queued', created_at: new Date(call.createdAt).toISOString() };
  const body =
    cfg.createShape === 'data'
      ? { data: { id: call.id, ...created } }
      : { [cfg.createShape]: call.id, ...created };
  return { ...reply(201, body), callId: call.id, latencyDraw: rLatency };
}

/** A lookup the API can never answer (faults.lookupFailRate). */
function lookupFailure(): Reply {
  return { ...fail(503, 'service unavailable'), headers: { 'retry-after': '1' }, fault: 'lookup' };
}

function getOne(s: SimState, req: Request, id: string): Reply {
  const call = s.calls.get(id);
  if (!call) return notFound(`call ${id}`);
  if (call.lookupFails) return lookupFailure();
  const view = callView(call, req.now);
  const shape = s.cfg.getShape;
  const body = shape === 'array' ? [view] : shape === 'envelope' ? { data: [view] } : view;
  return { ...reply(200, body), callId: id };
}

/** Most ids one batched lookup may ask for. */
export const MAX_BATCH_IDS = 500;

/**
 * GET /calls?ids=a,b,c (a form the Callease reference does not document; the
 * simulator offers it so batched lookups can be tried): the calls known among
 * those ids, as {data:[...]} (or [...] with getShape 'array'). Unknown ids are
 * left out, as is a call the API can't show (lookupFailRate): the client then
 * asks for it on its own.
 */
function getMany(s: SimState, req: Request, raw: string): Reply {
  const ids = [...new Set(raw.split(',').map((x) => x.trim()).filter(Boolean))];
  if (ids.length === 0) return fail(400, 'ids must list at least one call id');
  if (ids.length > MAX_BATCH_IDS) return fail(400, `ids may list at most ${MAX_BATCH_IDS} call ids`);
  const cfg = s.cfg;
  if (cfg.batch429Rate > 0 && s.globalRng() < cfg.batch429Rate) {
    return { status: 429, body: { error: 'rate limit exceeded (simulated)', retry_after: 1 }, headers: { 'retry-after': '1' }, fault: '429' };
  }
  if (cfg.batchBadBodyRate > 0 && s.globalRng() < cfg.batchBadBodyRate) return { status: 200, rawBody: '{"data":[{"id":', fault: 'bad-body' };
  const data: Record<string, unknown>[] = [];
  for (const id of ids) {
    const call = s.calls.get(id);
    if (!call || call.lookupFails) continue;
    if (cfg.batchOmitRate > 0 && keyedRng(cfg.seed, `omit|${id}`)() < cfg.batchOmitRate) continue;
    data.push(callView(call, req.now));
  }
  return { ...reply(200, s.cfg.getShape === 'array' ? data : { data }), callIds: data.map((d) => String(d.id)) };
}

/** Parses created_after: epoch ms or an ISO time. */
function parseTime(v: string): number {
  return /^\d+$/.test(v) ? Number(v) : Date.parse(v);
}

function listCalls(s: SimState, req: Request): Reply {
  const q = req.query;
  let phone = q.get('phoneNumber');
  // An unencoded "+" arrives as a space; take it the way the client meant it.
  if (phone !== null && phone.startsWith(' ')) phone = '+' + phone.trimStart();
  const assistant = q.get('assistant_id');
  const afterRaw = q.get('created_after');
  let after = -Infinity;
  if (afterRaw !== null) {
    after = parseTime(afterRaw);
    if (Number.isNaN(after)) return fail(400, 'created_after must be an ISO time or epoch milliseconds');
  }
  const pool: Iterable<SimCall> = phone !== null ? (s.byNumber.get(phone) ?? []) : s.calls.values();
  const data: Record<string, unknown>[] = [];
  for (const call of pool) {
    // Inclusive: a call created in the very ms the client noted must be found.
    if (call.createdAt < after) continue;
    if (assistant !== null && call.assistant_id !== assistant) continue;
    // The list can't be served without the record it can't read.
    if (call.lookupFails) return lookupFailure();
    data.push(callView(call, req.now));
  }
  return reply(200, { data });
}
