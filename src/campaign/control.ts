import { DialerError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import type { CampaignState } from './lifecycle.js';
import { sleep } from '../util.js';
import { endUnfed } from '../dialer/feeder.js';

type ControlRuntime = Pick<Runtime, 'store' | 'queues'>;

async function requireState(rt: ControlRuntime, id: string): Promise<CampaignState> {
  const info = await rt.store.getCampaign(id);
  if (!info) throw new DialerError('CAMPAIGN_NOT_FOUND', `no campaign named "${id}"`);
  return info.state;
}

/**
 * BullMQ's pause flag follows the campaign state, never the other way round:
 * the state in Redis is the truth (every dial checks it atomically before its
 * POST); a paused queue only saves workers from picking jobs they would give
 * back. Called after every state change and by the reaper, so a flag left by
 * a crash (or set from elsewhere) is put right.
 */
export async function syncQueue(rt: ControlRuntime, id: string, state?: CampaignState): Promise<void> {
  const s = state ?? (await rt.store.campaignState(id));
  if (!s) return;
  const queue = rt.queues.get(id);
  const paused = await queue.isPaused();
  const want = s !== 'running';
  if (want && !paused) await queue.pause();
  else if (!want && paused) await queue.resume();
}

/**
 * Stops new dials of one campaign on every worker; calls in flight finish.
 * The state is in Redis, so a worker started later obeys it too.
 */
export async function pauseCampaign(rt: ControlRuntime, id: string): Promise<CampaignState> {
  await requireState(rt, id);
  const r = await rt.store.moveCampaign(id, 'paused');
  await syncQueue(rt, id, r.state);
  return r.state!;
}

export async function resumeCampaign(rt: ControlRuntime, id: string): Promise<CampaignState> {
  const state = await requireState(rt, id);
  if (state !== 'paused') return state;
  const r = await rt.store.moveCampaign(id, 'running');
  await syncQueue(rt, id, r.state);
  return r.state!;
}

export interface CancelReport {
  canceled: number;
  /** Calls placed (or possibly placed) that go on to their real outcome. */
  in_flight: number;
  state: CampaignState;
}

/**
 * Ends the contacts not yet dialed as `canceled`; contacts whose call is
 * placed (or may be) are followed to their real outcome, and none of them is
 * redialed. When this returns no POST of the campaign is under way: the
 * state forbids new ones atomically, and the ones already started have been
 * waited for (up to `waitMs`).
 */
export async function cancelCampaign(rt: ControlRuntime, id: string, opts: { waitMs?: number } = {}): Promise<CancelReport> {
  const state = await requireState(rt, id);
  if (state === 'done') return { canceled: 0, in_flight: 0, state };
  await rt.store.moveCampaign(id, 'canceling');
  const queue = rt.queues.get(id);
  await queue.pause();
  // Rows first (atomically against the ledger), then their jobs: a worker that
  // already holds a job finds its row final and never sends.
  let canceled = 0;
  for await (const rows of rt.store.openRowBatches(id)) canceled += await rt.store.cancelRows(id, rows);
  // The queued rows not fed to a dial job yet (dialer/feeder.ts).
  canceled += await endUnfed(rt.store, id, 'cancel', (rows) => rt.store.cancelRows(id, rows));
  await queue.drain(true);
  const deadline = Date.now() + (opts.waitMs ?? 20_000);
  while ((await rt.store.rowStates(id)).sending > 0 && Date.now() < deadline) await sleep(100);
  const states = await rt.store.rowStates(id);
  return { canceled, in_flight: states.sending + states.placed + states.ambiguous, state: (await rt.store.campaignState(id)) ?? 'canceling' };
}
