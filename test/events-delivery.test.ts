/**
 * Outbound events end to end, in-process: a campaign on the simulator, its
 * events delivered to a real HTTP receiver that fails 30% of deliveries at
 * random and is down (connection refused, then 503) for a stretch. Every
 * event arrives, every signature verifies, and a duplicate carries the id
 * and body of its first delivery.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readEventsEnv, type EventsEnv } from '../src/config/events.js';
import { Dialer } from '../src/dialer.js';
import { listEventDeadLetters, retryEventDeadLetters } from '../src/events/dead-letters.js';
import type { DialerEvent } from '../src/events/types.js';
import { pauseCampaign, resumeCampaign } from '../src/campaign/control.js';
import { campaignIn, cleanupPrefix, openTestRuntime, testPrefix, waitFor, type TestRuntime } from './helpers/dialer.js';
import { Receiver } from './helpers/receiver.js';
import { numbers, sleep, useSimulators } from './helpers/sim-http.js';

const prefix = testPrefix('events');
const SECRET = 'whsec-test-0123456789abcdef';
/** Short backoff for tests: 50 ms doubling to 400 ms, 80 attempts (a window of about 31 s). */
const FAST_EVENTS: EventsEnv = { ...readEventsEnv({}), secret: SECRET, backoffMs: 50, maxBackoffMs: 400, attempts: 80, timeoutMs: 2000, relayMs: 50 };
const simulator = useSimulators();
let dir: string;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dialer-events-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await cleanupPrefix(prefix);
  await rm(dir, { recursive: true, force: true });
});

async function setup(name: string, receiver: Receiver, events: Partial<EventsEnv>, campaign: Record<string, unknown>, csv: string) {
  await receiver.start();
  cleanups.push(() => receiver.stop());
  const sim = await simulator({ callDurationMs: { min: 100, max: 300 } });
  const t: TestRuntime = await openTestRuntime(prefix, sim, { events: { ...FAST_EVENTS, ...events } });
  cleanups.push(() => t.rt.close());
  const c = await campaignIn(path.join(dir, name), {
    name, assistant_id: 'CE_1', default_country: 'AU', rate: { calls: 100, per_seconds: 1 }, concurrency: 10,
    poll: { interval_seconds: 0.2, timeout_minutes: 5 }, results: path.join(dir, name, 'results.csv'), ...campaign,
  }, csv);
  const dialer = new Dialer(t.rt, { workerScanMs: 100, pollerTickMs: 50 });
  cleanups.push(() => dialer.close());
  return { t, c, dialer, rt: t.rt, sim };
}

const csvOf = (phones: string[]) => ['name,phone,crm', ...phones.map((p, i) => `Person ${i + 1},${p},CRM-${i + 1}`)].join('\n') + '\n';

describe('outbound events', () => {
  it('a receiver failing 30% at random and down for a stretch gets every event, signed, duplicates under one id', async () => {
    const receiver = new Receiver(SECRET, { failRate: 0.3, seed: 14 });
    const phones = [...numbers(40), 'not-a-number', '12'];
    const { rt, c, dialer } = await setup('flaky', receiver, {}, { events: { fields: ['name', 'crm'] } }, csvOf(phones));
    // The receiver's address is only known now: it comes from DIALER_EVENTS_URL.
    rt.env.events.url = receiver.url;
    await dialer.load(c);
    dialer.startEvents();
    await waitFor(() => receiver.delivered().has(`evt_${c.name}_started_1`), 'campaign.started to arrive', 20_000);
    await pauseCampaign(rt, c.name);
    // Down while the campaign dials: connection refused, then 503, then up again.
    await receiver.stop();
    await resumeCampaign(rt, c.name);
    dialer.startWorkers({ campaigns: [c.name], bare: true });
    dialer.startPoller({ bare: true });
    await waitFor(async () => (await rt.store.getCampaign(c.name))?.state === 'done', 'the campaign to finish', 40_000, 100);
    await sleep(1500);
    const failedWhileDown = (await rt.store.events.stats())[`failed:${c.name}`] ?? 0;
    receiver.unavailable = true;
    await receiver.start();
    await sleep(1500);
    receiver.unavailable = false;

    const expected = new Set([
      ...phones.map((_, i) => `evt_${c.name}_${i + 1}_finished`),
      ...['started', 'paused', 'resumed', 'finished'].map((k) => `evt_${c.name}_${k}_1`),
    ]);
    await waitFor(() => [...expected].every((id) => receiver.delivered().has(id)), 'every event to be delivered', 45_000, 100);
    await waitFor(async () => (await rt.store.events.backlog()).undelivered === 0, 'the undelivered index to empty', 10_000);

    // Nothing else was sent, every request verifies, and each id always carries the same body.
    expect(new Set(receiver.requests.map((r) => r.id))).toEqual(expected);
    expect(receiver.requests.every((r) => r.verified)).toBe(true);
    const bodies = new Map<string, Set<string>>();
    for (const r of receiver.requests) bodies.set(r.id, (bodies.get(r.id) ?? new Set()).add(r.body));
    expect([...bodies.values()].every((b) => b.size === 1)).toBe(true);
    // The faults really happened: 500s at random, 503s, and refused connections (counted as failed attempts, never seen by the receiver).
    expect(receiver.requests.filter((r) => r.status === 500).length).toBeGreaterThan(5);
    expect(receiver.requests.filter((r) => r.status === 503).length).toBeGreaterThan(0);
    expect(failedWhileDown).toBeGreaterThan(0);

    // contact.finished carries what it should and nothing else: no number.
    const first = new Map(receiver.requests.map((r) => [r.id, JSON.parse(r.body) as DialerEvent]));
    for (let row = 1; row <= phones.length; row++) {
      const e = first.get(`evt_${c.name}_${row}_finished`)!;
      const rec = await rt.store.getRow(c.name, row);
      expect(e).toMatchObject({ type: 'contact.finished', campaign: c.name });
      expect(e.data).toEqual({
        row, outcome: rec!.outcome, call_id: rec!.call_id ?? null, attempts: rec!.attempts ?? 0,
        fields: { name: `Person ${row}`, crm: row <= 40 ? `CRM-${row}` : null },
      });
      if (row <= 40) expect(JSON.stringify(e)).not.toContain(phones[row - 1]!.slice(1));
    }
    expect(first.get(`evt_${c.name}_finished_1`)!.data).toMatchObject({ state: 'done', previous_state: 'running', finished: phones.length });
    expect(await listEventDeadLetters(rt, { campaign: c.name })).toEqual([]);

    const successes = receiver.successes();
    const figures = {
      events: expected.size,
      requests: receiver.requests.length,
      answered_500: receiver.requests.filter((r) => r.status === 500).length,
      answered_503: receiver.requests.filter((r) => r.status === 503).length,
      refused_attempts: failedWhileDown,
      duplicates: [...successes.values()].reduce((n, k) => n + k - 1, 0),
      delivered_twice_or_more: [...successes.values()].filter((k) => k > 1).length,
    };
    console.log(`events delivery figures: ${JSON.stringify(figures)}`);
  }, 120_000);

  it('the event is in the outbox in the same step as the transition: no relay running (a process gone), nothing lost', async () => {
    const receiver = new Receiver(SECRET);
    const { rt, c, dialer } = await setup('outbox', receiver, {}, {}, csvOf(['not-a-number', '+61412000001']));
    rt.env.events.url = receiver.url;
    await dialer.load(c);
    // Nothing relays yet: what the load's transitions wrote is in the outbox, with its final id.
    const plain = await campaignIn(path.join(dir, 'plain'), { name: 'plain', assistant_id: 'CE_1', default_country: 'AU' }, csvOf(['bad']));
    rt.env.events.url = undefined;
    await dialer.load(plain);
    const outbox = await rt.store.events.readOutbox(100);
    expect(outbox.map((e) => [e.fields.id, e.fields.type])).toEqual([[`evt_${c.name}_1_finished`, 'contact.finished'], [`evt_${c.name}_started_1`, 'campaign.started']]);
    expect(outbox[0]!.fields).toMatchObject({ campaign: c.name, row: '1', outcome: 'rejected', attempts: '0' });
    // A campaign loaded with no URL anywhere writes no events at all.
    expect(outbox.some((e) => e.fields.campaign === 'plain')).toBe(false);
    // A relay that starts later delivers them.
    dialer.startEvents();
    await waitFor(() => receiver.delivered().size === 2, 'the outbox to be relayed and delivered', 20_000);
    expect(await rt.store.events.readOutbox(100)).toEqual([]);
  }, 60_000);

  it('an event out of attempts lands in the dead letters; retry delivers it with the same id', async () => {
    const receiver = new Receiver(SECRET, { failRate: 1, seed: 3 });
    const { rt, c, dialer } = await setup('dead', receiver, { attempts: 3 }, { events: { types: ['campaign.started', 'campaign.finished'] } }, csvOf(['not-a-number']));
    rt.env.events.url = receiver.url;
    dialer.startEvents();
    await dialer.load(c);
    // One rejected row: the campaign starts and finishes at once; contact.finished was not asked for.
    await waitFor(async () => (await listEventDeadLetters(rt, { campaign: c.name })).length === 2, 'both events to be dead-lettered', 20_000);
    const dead = await listEventDeadLetters(rt, { campaign: c.name });
    expect(dead.map((d) => [d.id, d.type, d.attempts]).sort()).toEqual([
      [`evt_${c.name}_finished_1`, 'campaign.finished', 3],
      [`evt_${c.name}_started_1`, 'campaign.started', 3],
    ]);
    expect(dead.every((d) => d.error === 'receiver answered 500')).toBe(true);
    expect(receiver.requests).toHaveLength(6);
    expect(await listEventDeadLetters(rt, { campaign: 'someone-else' })).toEqual([]);

    receiver.failRate = 0;
    expect((await retryEventDeadLetters(rt, { campaign: c.name })).retried).toHaveLength(2);
    await waitFor(() => receiver.delivered().size === 2, 'the retried events to arrive', 20_000);
    expect([...receiver.delivered()].sort()).toEqual([`evt_${c.name}_finished_1`, `evt_${c.name}_started_1`]);
    expect(await listEventDeadLetters(rt, { campaign: c.name })).toEqual([]);
    expect(receiver.requests.every((r) => r.verified)).toBe(true);
  }, 60_000);
});
