/**
 * Bench 5 — poller cost. N calls (1,000 at scale 1; simulator calls last 2–8 s)
 * placed by a `dialer worker` and followed by a `dialer poller` (processes of
 * their own), campaign poll interval 5 s (the default). From the simulator's
 * log: GET /calls per finished call. From Redis: when each row became final
 * (its `outcome` audit event, written by the same update that makes the row
 * final) minus when the call ended on the simulator (createdAt + plannedMs).
 * No raw baseline: the note gives what a per-call schedule implies for these
 * call lengths (first look at +interval or at +1 s, then every interval; the
 * worker schedules the first look) and what a batched list GET would cost.
 * Run twice, each on a private Redis and simulator: per-call lookups (the
 * default) and batched ones (CALLEASE_CALLS_BATCH=ids: first look at +1 s,
 * due calls gathered every 0.5 s into GET /calls?ids= of at most 50).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadCampaign } from '../src/loader/load.js';
import { createLoadScreen } from '../src/gate/index.js';
import type { RowRecord } from '../src/campaign/row.js';
import { scaled, type BenchOptions } from './lib/args.js';
import { contactsFile } from './lib/contacts.js';
import { benchCampaign, benchRuntime, cliEnv } from './lib/dialer.js';
import { mean, percentile } from './lib/measure.js';
import { spawnCli } from './lib/proc.js';
import { withRedis } from './lib/redis.js';
import { startSimProcess, until } from './lib/sim.js';
import type { Row } from './lib/table.js';

const FIRST_POLL_MS = 1000;

type Mode = 'per-call' | 'batched';
const MODE_ENV: Record<Mode, NodeJS.ProcessEnv> = { 'per-call': {}, batched: { CALLEASE_CALLS_BATCH: 'ids' } };

export async function pollerBench(o: BenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  for (const mode of ['per-call', 'batched'] as const) rows.push(...(await pollerOnce(o, mode)));
  return rows;
}

async function pollerOnce(o: BenchOptions, mode: Mode): Promise<Row[]> {
  const n = scaled(1000, o.scale, 20);
  // Quick runs (the smoke test) shrink the clock too: 1 s interval, calls of 0.4–1.6 s.
  const quick = o.scale < 0.05;
  const INTERVAL_S = quick ? 1 : 5;
  const durations = quick ? { min: 400, max: 1600 } : { min: 2000, max: 8000 };
  const csv = await contactsFile('clean', n);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-poll-'));
  try {
    return await withRedis(async (redis) => {
      const sim = await startSimProcess({ callDurationMs: durations });
      const rt = await benchRuntime(redis.url, 'bench', sim.url);
      const env = cliEnv(redis.url, 'bench', sim.url, MODE_ENV[mode]);
      const procs = [spawnCli(['worker'], env), spawnCli(['poller'], env, { profile: o.profile ? `poller-${mode}` : undefined })];
      try {
        const c = benchCampaign('poll', csv, dir, { rate: { calls: 100, per_seconds: 1 }, concurrency: 50, poll: { interval_seconds: INTERVAL_S } });
        const sum = await loadCampaign({ store: rt.store, queues: rt.queues, log: rt.log, now: () => rt.clock.now(), screen: createLoadScreen(rt) }, c);
        if (!(await until(async () => (await rt.store.getCampaign(c.name))?.state === 'done', 120_000 + n * 100, 250))) throw new Error('poller bench: the campaign did not finish in time');
        await Promise.all(procs.map((p) => p.stop()));
        const { requests, calls } = await sim.dump();

        const gets = requests.filter((r) => r.method === 'GET' && r.path.startsWith('/calls'));
        const batched = gets.filter((r) => r.path.includes('ids='));
        const perCall = new Map<string, number>();
        for (const g of gets) if (g.call_id) perCall.set(g.call_id, (perCall.get(g.call_id) ?? 0) + 1);
        const rows = new Map<number, RowRecord>(Object.entries(await rt.redis.hgetall(rt.store.keys.rows(c.name))).map(([k, v]) => [Number(k), JSON.parse(v) as RowRecord]));
        const finalAt = new Map<number, number>();
        for (const [, fields] of await rt.redis.xrange(rt.store.keys.audit(c.name), '-', '+')) {
          const f = Object.fromEntries(fields.reduce<[string, string][]>((acc, v, i) => (i % 2 ? acc : [...acc, [v, fields[i + 1]!]]), []));
          if (f.type === 'outcome') finalAt.set(Number(f.row), Date.parse(f.at!));
        }
        const byId = new Map(calls.map((x) => [x.id, x]));
        const delays: number[] = [];
        for (const [row, rec] of rows) {
          const call = rec.call_id ? byId.get(rec.call_id) : undefined;
          const at = finalAt.get(row);
          if (call && at !== undefined) delays.push(at - (call.createdAt + call.plannedMs));
        }
        const finished = delays.length;
        const getsPerCall = gets.length / finished;
        const span = Math.max(...calls.map((x) => x.createdAt + x.plannedMs)) - Math.min(...calls.map((x) => x.createdAt));
        let note: string;
        if (mode === 'batched') {
          const ids = batched.map((r) => new URLSearchParams(r.path.slice(r.path.indexOf('?') + 1)).get('ids')!.split(',').length);
          note = `${batched.length} batched GET /calls?ids= (mean ${mean(ids).toFixed(1)} ids, most ${Math.max(...ids)}), ${gets.length - batched.length} per-call GETs, for ${finished} calls over ${(span / 1000).toFixed(0)} s`;
        } else {
          // The schedule's own figure: looks at placed+1 s, then every interval, until the call has ended.
          const looks = (first: number) => mean(calls.map((x) => 1 + Math.max(0, Math.ceil((x.plannedMs - first) / (INTERVAL_S * 1000)))));
          const firstGet = new Map<string, number>();
          for (const g of gets) if (g.call_id && !firstGet.has(g.call_id)) firstGet.set(g.call_id, g.t);
          const firstLook = mean(calls.filter((x) => firstGet.has(x.id)).map((x) => firstGet.get(x.id)! - x.createdAt)) / 1000;
          const hist = [...perCall.values()].reduce<Record<number, number>>((h, k) => ({ ...h, [k]: (h[k] ?? 0) + 1 }), {});
          const histText = Object.entries(hist).map(([k, v]) => `${k} GET: ${((100 * v) / perCall.size).toFixed(0)}%`).join(', ');
          note = `calls ${histText}; first GET ${firstLook.toFixed(1)} s after the call was created (mean). For calls of ${durations.min / 1000}–${durations.max / 1000} s a schedule of one look at +${INTERVAL_S} s then every ${INTERVAL_S} s implies ${looks(INTERVAL_S * 1000).toFixed(2)} GETs/call, one at +1 s then every ${INTERVAL_S} s ${looks(FIRST_POLL_MS).toFixed(2)}; a batched list GET every ${INTERVAL_S} s would be ${(Math.ceil(span / (INTERVAL_S * 1000)) / finished).toFixed(3)} per call here (${sum.jobs} calls over ${(span / 1000).toFixed(0)} s)`;
        }
        return [
          { bench: '5 poller', metric: `GET /calls per finished call (${finished} calls), ${mode}`, unit: '', ours: getsPerCall, raw: null, target: '≤ 1.5', met: getsPerCall <= 1.5, note },
          { bench: '5 poller', metric: `call end → row final, p95, ${mode}`, unit: 's', ours: percentile(delays, 95) / 1000, raw: null, target: `≤ ${2 * INTERVAL_S} s (2 intervals)`, met: percentile(delays, 95) <= 2 * INTERVAL_S * 1000 },
          {
            bench: '5 poller', metric: `call end → row final, max, ${mode}`, unit: 's', ours: Math.max(...delays) / 1000, raw: null, target: `≤ ${2 * INTERVAL_S} s`, met: Math.max(...delays) <= 2 * INTERVAL_S * 1000,
            note: `mean ${(mean(delays) / 1000).toFixed(2)} s; row final time = its outcome audit event`,
          },
        ];
      } finally {
        await Promise.all(procs.map((p) => p.stop()));
        await rt.close();
        await sim.close();
      }
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
