/**
 * A weighted split between two assistants: 1,000 rows at 70/30 loaded into
 * Redis twice (two campaigns, the second list shuffled) land within ±5% of
 * the weights and give every number the same assistant both times.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assignAssistant, splitAssistant } from '../src/campaign/assistant.js';
import { loadCampaignFile } from '../src/config/campaign.js';
import { loadCampaign } from '../src/loader/load.js';
import { resultRow } from '../src/results/export.js';
import { campaignIn, cleanupPrefix, openTestRuntime, testPrefix, writeCampaign, type TestRuntime } from './helpers/dialer.js';
import { numbers } from './helpers/sim-http.js';
import { decodeRow } from '../src/store/row-codec.js';

const prefix = testPrefix('ab');
let t: TestRuntime;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-ab-'));
  t = await openTestRuntime(prefix);
});
afterAll(async () => {
  await t?.rt.close();
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

const SPLIT = [{ id: 'CE_A', weight: 70 }, { id: 'CE_B', weight: 30 }];
const PHONES = numbers(1000, 61412000000);

async function loadAndRead(name: string, phones: string[]): Promise<Map<string, string>> {
  const csv = ['name,phone', ...phones.map((p, i) => `P${i},${p}`)].join('\n') + '\n';
  const c = await campaignIn(path.join(dir, name), { name, assistants: SPLIT, default_country: 'AU' }, csv);
  const sum = await loadCampaign({ store: t.rt.store, queues: t.rt.queues, log: t.rt.log, now: () => Date.now() }, c);
  expect(sum).toMatchObject({ rows: 1000, accepted: 1000 });
  const h = await t.rt.redis.hgetall(t.rt.store.keys.rows(name));
  const out = new Map<string, string>();
  for (const v of Object.values(h)) {
    const rec = decodeRow(v);
    // The results column shows what the row stores, and what the worker will send.
    expect(resultRow(rec, c).assistant).toBe(rec.assistant);
    out.set(rec.phone, rec.assistant!);
  }
  return out;
}

describe('weighted assistants', () => {
  it('1,000 rows at 70/30 land within ±5% and every number keeps its assistant across runs and campaigns', async () => {
    const first = await loadAndRead('ab-one', PHONES);
    const shuffled = [...PHONES].reverse().filter((_, i) => i % 2 === 0).concat([...PHONES].reverse().filter((_, i) => i % 2 === 1));
    const second = await loadAndRead('ab-two', shuffled);
    expect(first.size).toBe(1000);
    const a = [...first.values()].filter((x) => x === 'CE_A').length;
    const b = [...first.values()].filter((x) => x === 'CE_B').length;
    expect(a + b).toBe(1000);
    expect(a).toBeGreaterThanOrEqual(650);
    expect(a).toBeLessThanOrEqual(750);
    for (const [phone, assistant] of first) expect(second.get(phone), phone).toBe(assistant);
  });

  it('is a pure function of the number: the same split gives the same answer, the weights move only edge numbers', () => {
    for (const p of PHONES.slice(0, 50)) expect(splitAssistant(SPLIT, p)).toBe(splitAssistant([...SPLIT], p));
    // 80/20 keeps everyone 70/30 sent to CE_A there, and moves some CE_B people to CE_A.
    const wider = [{ id: 'CE_A', weight: 80 }, { id: 'CE_B', weight: 20 }];
    for (const p of PHONES) if (splitAssistant(SPLIT, p) === 'CE_A') expect(splitAssistant(wider, p)).toBe('CE_A');
    expect(splitAssistant([{ id: 'ONLY', weight: 1 }], PHONES[0]!)).toBe('ONLY');
  });

  it('assistant_column wins over the split and the campaign assistant; an empty cell falls back', () => {
    expect(assignAssistant({ assistants: SPLIT }, PHONES[0]!, 'CE_ROW')).toBe('CE_ROW');
    expect(assignAssistant({ assistants: SPLIT }, PHONES[0]!, '')).toBe(splitAssistant(SPLIT, PHONES[0]!));
    expect(assignAssistant({ assistant_id: 'CE_1' }, PHONES[0]!, '')).toBeUndefined();
    expect(assignAssistant({ assistant_id: 'CE_1' }, PHONES[0]!, 'CE_1')).toBeUndefined();
  });

  it('exactly one of assistant_id and assistants; bad weights and repeated ids name the file and key', async () => {
    const bad = async (name: string, extra: Record<string, unknown>, message: string) => {
      const file = await writeCampaign(path.join(dir, name), { name, default_country: 'AU', ...extra }, 'name,phone\n');
      await expect(loadCampaignFile(file)).rejects.toThrow(`${file}: ${message}`);
    };
    await bad('both', { assistant_id: 'CE_1', assistants: SPLIT }, 'assistants: give either assistant_id or assistants, not both');
    await bad('neither', {}, 'assistant_id: required');
    await bad('zero', { assistants: [{ id: 'CE_A', weight: 0 }] }, 'assistants.0.weight: ');
    await bad('twice', { assistants: [{ id: 'CE_A', weight: 1 }, { id: 'CE_A', weight: 2 }] }, 'assistants.1.id: "CE_A" is listed twice');
    const ok = await loadCampaignFile(await writeCampaign(path.join(dir, 'ok'), { name: 'ok', assistants: SPLIT }, 'name,phone\n'));
    expect(ok.assistant_id).toBeUndefined();
    expect(ok.assistants).toEqual(SPLIT);
  });
});

describe('enum values and countries', () => {
  it('an unknown enum value or country is an error naming the file and the key', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ default_country: 'XX' }, 'default_country: "XX" is not a country libphonenumber knows'],
      [{ default_country: 'ZZ' }, 'default_country: "ZZ" is not a country libphonenumber knows'],
      [{ on_ambiguous: 'retry-forever' }, 'on_ambiguous: '],
      [{ calling_hours: { preset: 'au-telemarketin' } }, 'calling_hours.preset: '],
      [{ calling_hours: { preset: 'uk', days: ['monday'] } }, 'calling_hours.days.0: '],
      [{ redial: { outcomes: ['voicemail', 'hung-up'] } }, 'redial.outcomes.1: '],
    ];
    for (const [i, [extra, message]] of cases.entries()) {
      const file = await writeCampaign(path.join(dir, `enum-${i}`), { name: `enum-${i}`, assistant_id: 'CE_1', ...extra }, 'name,phone\n');
      await expect(loadCampaignFile(file), JSON.stringify(extra)).rejects.toThrow(`${file}: ${message}`);
    }
  });
});
