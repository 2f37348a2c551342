import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detachSmsActions, ensureSmsActions, SMS_ACTION_IDS_FIELD } from '../src/campaign/sms-actions.js';
import type { Campaign } from '../src/config/campaign.js';
import type { Runtime } from '../src/runtime.js';
import { campaignIn, cleanupPrefix, testPrefix, withRuntime } from './helpers/dialer.js';
import { useSimulators } from './helpers/sim-http.js';

const prefix = testPrefix('sms');
const simulator = useSimulators();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-sms-'));
});
afterAll(async () => {
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

const ACTIONS = [
  { content: 'Your booking code is on its way', instructions: 'when the customer books' },
  { content: 'Sorry we missed you', instructions: 'when the customer asks to be called later' },
];

const campaign = (name: string, extra: Record<string, unknown> = {}) =>
  campaignIn(path.join(dir, name), { name, assistant_id: 'CE_SMS', default_country: 'AU', sms_actions: ACTIONS, detach_actions_on_finish: true, ...extra }, 'name,phone\nAnn,0412000001\n');

const recorded = async (rt: Runtime, id: string) => JSON.parse((await rt.redis.hget(rt.store.keys.campaign(id), SMS_ACTION_IDS_FIELD)) ?? 'null') as string[] | null;

describe('campaign SMS actions', () => {
  it('creates each action once, reuses identical ones, attaches them and records their ids; detach undoes it', async () => {
    const sim = await simulator();
    await withRuntime(prefix, sim, async ({ rt }) => {
      // An identical action made by hand earlier is reused, not duplicated.
      const existing = await rt.api().createAction(ACTIONS[1]!);
      // One with the same content but other instructions is not "the same".
      await rt.api().createAction({ content: ACTIONS[0]!.content, instructions: 'something else' });
      const c = await campaign('sms-a');
      await rt.store.saveCampaign(c, 'running');

      const first = await ensureSmsActions(rt, c);
      const second = await ensureSmsActions(rt, c);
      expect(second).toEqual(first);
      expect(first).toHaveLength(2);
      expect(first[1]).toBe(existing.id);
      expect(sim.actions.size).toBe(3);
      const creates = sim.requests.filter((r) => r.method === 'POST' && r.path === '/actions');
      expect(creates).toHaveLength(3); // the two made by hand + the one missing
      for (const id of first) expect(sim.actions.get(id)!.attached_to).toEqual(['CE_SMS']);
      expect(await recorded(rt, 'sms-a')).toEqual(first);

      expect(await detachSmsActions(rt, 'sms-a')).toEqual(first);
      for (const id of first) expect(sim.actions.get(id)!.attached_to).toEqual([]);
      // The actions themselves stay (other assistants or later runs may use them).
      expect(sim.actions.size).toBe(3);
    });
  });

  it('no sms_actions: no API calls', async () => {
    const sim = await simulator();
    await withRuntime(prefix, sim, async ({ rt }) => {
      const c = await campaign('sms-none', { sms_actions: undefined });
      expect(await ensureSmsActions(rt, c)).toEqual([]);
      await rt.store.saveCampaign(c, 'done');
      expect(await detachSmsActions(rt, 'sms-none')).toEqual([]);
      expect(sim.requests).toEqual([]);
    });
  });

  it('keeps an action attached while another unfinished campaign on the same assistant still uses it', async () => {
    const sim = await simulator();
    await withRuntime(prefix, sim, async ({ rt }) => {
      const one: Campaign = await campaign('sms-one');
      const two: Campaign = await campaign('sms-two', { sms_actions: [ACTIONS[0]] });
      await rt.store.saveCampaign(one, 'running');
      await rt.store.saveCampaign(two, 'running');
      const ids1 = await ensureSmsActions(rt, one);
      const ids2 = await ensureSmsActions(rt, two);
      expect(ids2).toEqual([ids1[0]]);
      expect(sim.actions.size).toBe(2);

      await rt.store.redis.hset(rt.store.keys.campaign('sms-one'), 'state', 'done');
      expect(await detachSmsActions(rt, 'sms-one')).toEqual([ids1[1]]);
      expect(sim.actions.get(ids1[0]!)!.attached_to).toEqual(['CE_SMS']);
      expect(sim.actions.get(ids1[1]!)!.attached_to).toEqual([]);

      await rt.store.redis.hset(rt.store.keys.campaign('sms-two'), 'state', 'done');
      expect(await detachSmsActions(rt, 'sms-two')).toEqual([ids1[0]]);
      expect(sim.actions.get(ids1[0]!)!.attached_to).toEqual([]);
    });
  });

  it('detach still works when one of the actions was deleted by hand', async () => {
    const sim = await simulator();
    await withRuntime(prefix, sim, async ({ rt }) => {
      const c = await campaign('sms-gone');
      await rt.store.saveCampaign(c, 'running');
      const ids = await ensureSmsActions(rt, c);
      await rt.api().deleteAction(ids[0]!);
      expect(await detachSmsActions(rt, 'sms-gone')).toEqual([ids[1]]);
      expect(sim.actions.get(ids[1]!)!.attached_to).toEqual([]);
    });
  });
});
