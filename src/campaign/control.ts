import { DialerError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import type { CampaignState } from '../store/store.js';

type ControlRuntime = Pick<Runtime, 'store' | 'queues'>;

async function requireState(rt: ControlRuntime, id: string): Promise<CampaignState> {
  const info = await rt.store.getCampaign(id);
  if (!info) throw new DialerError('CAMPAIGN_NOT_FOUND', `no campaign named "${id}"`);
  return info.state;
}

/**
 * Stops new dials of one campaign on every worker (BullMQ's queue pause is
 * global); calls in flight finish. The state is in Redis, so a worker started
 * later obeys it too.
 */
export async function pauseCampaign(rt: ControlRuntime, id: string): Promise<CampaignState> {
  const state = await requireState(rt, id);
  if (state === 'done' || state === 'canceled') return state;
  await rt.queues.get(id).pause();
  await rt.store.setCampaignState(id, 'paused');
  return 'paused';
}

export async function resumeCampaign(rt: ControlRuntime, id: string): Promise<CampaignState> {
  const state = await requireState(rt, id);
  if (state !== 'paused') return state;
  await rt.store.setCampaignState(id, 'running');
  await rt.queues.get(id).resume();
  return 'running';
}

/**
 * Removes the contacts not yet dialed: they end `canceled`. Contacts whose
 * call is already placed (or may be) are followed to their real outcome.
 */
export async function cancelCampaign(rt: ControlRuntime, id: string): Promise<{ canceled: number }> {
  const state = await requireState(rt, id);
  if (state === 'done') return { canceled: 0 };
  const queue = rt.queues.get(id);
  await queue.pause();
  await rt.store.setCampaignState(id, 'canceled');
  // Rows are canceled first (atomically against the ledger), then their jobs go:
  // a worker that already holds a job finds the row final and never sends.
  let canceled = 0;
  let cursor = '0';
  do {
    const [next, flat] = await rt.store.redis.hscan(rt.store.keys.rows(id), cursor, 'COUNT', 1000);
    cursor = next;
    const open: number[] = [];
    for (let i = 0; i < flat.length; i += 2) if (!flat[i + 1]!.includes('"outcome"')) open.push(Number(flat[i]));
    canceled += await rt.store.cancelRows(id, open);
  } while (cursor !== '0');
  await queue.drain(true);
  return { canceled };
}
