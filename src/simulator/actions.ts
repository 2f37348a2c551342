import { randomBytes } from 'node:crypto';
import { fail, notFound, reply, type Reply, type Request, type SimState } from './state.js';
import type { SimAction } from './types.js';
import { checkActionBody, checkAttachBody } from './validate.js';

const iso = (ms: number): string => new Date(ms).toISOString();

/** A copy, so a client (or test) holding a response can't mutate the store. */
function show(a: SimAction): SimAction {
  return { ...a, SEND_SMS: { ...a.SEND_SMS }, attached_to: [...a.attached_to] };
}

/** /actions and /actions/{id}; `id` undefined for the collection. */
export function handleActions(s: SimState, req: Request, id: string | undefined): Reply | undefined {
  if (id === undefined) {
    if (req.method === 'GET') return reply(200, { data: [...s.actions.values()].map(show) });
    if (req.method !== 'POST') return undefined;
    if (req.badJson) return fail(400, 'body is not valid JSON');
    const c = checkActionBody(req.body);
    if ('error' in c) return fail(422, c.error);
    const action: SimAction = {
      id: `act_${randomBytes(8).toString('hex')}`,
      type: 'SEND_SMS',
      SEND_SMS: c.ok,
      attached_to: [],
      created_at: iso(req.now),
      updated_at: iso(req.now),
    };
    s.actions.set(action.id, action);
    return reply(201, show(action));
  }
  const action = s.actions.get(id);
  switch (req.method) {
    case 'GET':
      return action ? reply(200, show(action)) : notFound('action');
    case 'PUT': {
      if (!action) return notFound('action');
      if (req.badJson) return fail(400, 'body is not valid JSON');
      const c = checkActionBody(req.body);
      if ('error' in c) return fail(422, c.error);
      action.SEND_SMS = c.ok;
      action.updated_at = iso(req.now);
      return reply(200, show(action));
    }
    case 'DELETE':
      if (!action) return notFound('action');
      s.actions.delete(id);
      return reply(200, { id, deleted: true });
    default:
      return undefined;
  }
}

/** POST /actions/attach and /actions/detach. All ids must exist, else nothing changes. */
export function handleAttach(s: SimState, req: Request, attach: boolean): Reply {
  if (req.badJson) return fail(400, 'body is not valid JSON');
  const c = checkAttachBody(req.body);
  if ('error' in c) return fail(422, c.error);
  const { assistant_id, actions } = c.ok;
  if (s.cfg.assistants && !s.cfg.assistants.has(assistant_id)) return notFound(`assistant ${assistant_id}`);
  const found: SimAction[] = [];
  for (const id of actions) {
    const a = s.actions.get(id);
    if (!a) return notFound(`action ${id}`);
    found.push(a);
  }
  for (const a of found) {
    const has = a.attached_to.includes(assistant_id);
    if (attach && !has) a.attached_to.push(assistant_id);
    if (!attach && has) a.attached_to = a.attached_to.filter((x) => x !== assistant_id);
  }
  return reply(200, { assistant_id, actions: attachedTo(s, assistant_id) });
}

/** Ids of the actions attached to an assistant. */
export function attachedTo(s: SimState, assistantId: string): string[] {
  const ids: string[] = [];
  for (const a of s.actions.values()) if (a.attached_to.includes(assistantId)) ids.push(a.id);
  return ids;
}
