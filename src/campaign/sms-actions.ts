import type { Campaign } from '../config/campaign.js';
import { campaignAssistants } from './assistant.js';
import { ApiError } from '../errors.js';
import type { Runtime } from '../runtime.js';

type ActionsRuntime = Pick<Runtime, 'api' | 'store' | 'log'>;

/** Campaign hash field: JSON array of the action ids attached for this campaign. */
export const SMS_ACTION_IDS_FIELD = 'sms_action_ids';

const key = (content: string, instructions: string) => JSON.stringify([content, instructions]);

async function recordedIds(rt: Pick<Runtime, 'store'>, campaignId: string): Promise<string[]> {
  const v = await rt.store.campaignField(campaignId, SMS_ACTION_IDS_FIELD);
  if (!v) return [];
  try {
    const ids: unknown = JSON.parse(v);
    return Array.isArray(ids) ? ids.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * Makes sure the campaign's `sms_actions` exist and are attached to its
 * assistant, and records their ids in the campaign hash (`sms_action_ids`)
 * so `detachSmsActions` can undo it when the campaign ends.
 *
 * An existing action with the same content and instructions is reused, so
 * running a campaign again (or every tick of a schedule) never piles up
 * copies. Creating an action is not idempotent on the API side; if a create
 * times out after the action was made, the next call finds it by content.
 */
export async function ensureSmsActions(rt: ActionsRuntime, c: Campaign): Promise<string[]> {
  const wanted = c.sms_actions ?? [];
  if (wanted.length === 0) return [];
  const api = rt.api();
  const byContent = new Map<string, string>();
  for (const a of await api.listActions()) {
    const k = key(a.content, a.instructions);
    if (!byContent.has(k)) byContent.set(k, a.id);
  }
  const ids: string[] = [];
  for (const w of wanted) {
    const k = key(w.content, w.instructions);
    let id = byContent.get(k);
    if (!id) {
      id = (await api.createAction({ content: w.content, instructions: w.instructions })).id;
      byContent.set(k, id);
      rt.log.info({ campaign: c.name, action: id }, 'SMS action created');
    }
    if (!ids.includes(id)) ids.push(id);
  }
  // Rows of an `assistants` split go to several assistants; each needs the actions.
  for (const assistant of campaignAssistants(c)) await api.attachActions(assistant, ids);
  // Union with what an earlier load recorded, so a detach later covers both.
  const all = [...new Set([...(await recordedIds(rt, c.name)), ...ids])];
  await rt.store.setCampaignField(c.name, SMS_ACTION_IDS_FIELD, JSON.stringify(all));
  rt.log.info({ campaign: c.name, assistants: campaignAssistants(c), actions: ids }, 'SMS actions attached');
  return ids;
}

/**
 * Detaches the actions recorded for a campaign from its assistant (call it
 * when the campaign ends and `detach_actions_on_finish` is set). An action
 * that another unfinished campaign on the same assistant also recorded stays
 * attached: that campaign still needs it. Returns the ids detached.
 */
export async function detachSmsActions(rt: ActionsRuntime, campaignId: string): Promise<string[]> {
  const info = await rt.store.getCampaign(campaignId);
  if (!info) return [];
  const ids = await recordedIds(rt, campaignId);
  if (ids.length === 0) return [];
  const detached: string[] = [];
  for (const assistant of campaignAssistants(info.campaign)) {
    const inUse = new Set<string>();
    for (const other of await rt.store.listCampaigns()) {
      if (other === campaignId) continue;
      const o = await rt.store.getCampaign(other);
      if (!o || o.state === 'done' || o.state === 'canceled' || !campaignAssistants(o.campaign).includes(assistant)) continue;
      for (const id of await recordedIds(rt, other)) inUse.add(id);
    }
    let detach = ids.filter((id) => !inUse.has(id));
    if (detach.length === 0) continue;
    const api = rt.api();
    try {
      await api.detachActions(assistant, detach);
    } catch (e) {
      // The API refuses the whole request when one id is gone (deleted by hand): detach the rest.
      if (!(e instanceof ApiError && e.code === 'API_NOT_FOUND')) throw e;
      const existing = new Set((await api.listActions()).map((a) => a.id));
      detach = detach.filter((id) => existing.has(id));
      if (detach.length) await api.detachActions(assistant, detach);
    }
    rt.log.info({ campaign: campaignId, assistant, actions: detach }, 'SMS actions detached');
    for (const id of detach) if (!detached.includes(id)) detached.push(id);
  }
  if (detached.length === 0) return [];
  await rt.store.setCampaignField(campaignId, 'sms_actions_detached_at', new Date().toISOString());
  return detached;
}
