/**
 * Diagnostic for bench 2: the Redis commands our dial path sends per contact,
 * counted with MONITOR on a private redis-server (the run is slowed by
 * MONITOR, so it is not timed). Commands a Lua script runs are counted apart
 * from those the clients send; a MULTI … EXEC counts as one round trip.
 *
 *   npx tsx bench/dial-trips.ts [contacts=1000] [gate|nogate] [redis|cluster|cluster-tagged]
 *
 * `cluster` dials on a private 3-master Redis Cluster with the spread key
 * layout (store/keys.ts), `cluster-tagged` on the same with a `{tagged}`
 * prefix (one slot); every master is monitored.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { contactsFile } from './lib/contacts.js';
import { family } from './memory.js';
import { spawnTs } from './lib/proc.js';
import { withRedis } from './lib/redis.js';
import { startSimProcess, until } from './lib/sim.js';
import { startLocalCluster } from '../test/helpers/redis-cluster.js';

export interface Trips {
  /** Commands clients sent, per contact, by command name (EVALSHA by script where known). */
  sent: Map<string, number>;
  /** Round trips per contact: commands sent, a MULTI … EXEC counted once. */
  trips: number;
  /** Commands run inside Lua scripts, per contact. */
  inLua: number;
  /** Commands run inside Lua, per contact, by command and key family. */
  luaByCmd: Map<string, number>;
}

export async function dialTrips(n: number, gate = 'gate', on: 'redis' | 'cluster' | 'cluster-tagged' = 'redis'): Promise<Trips> {
  const csv = await contactsFile('clean', n);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-trips-'));
  try {
    if (on === 'redis') return await withRedis((redis) => count(n, gate, redis.url, [redis.url], dir, csv));
    const cluster = await startLocalCluster();
    try {
      return await count(n, gate, `${on}:${cluster.nodes.join(',')}`, cluster.nodes.map((hp) => `redis://${hp}`), dir, csv);
    } finally {
      await cluster.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Counts the commands every node in `monitorUrls` receives while the child dials `n` contacts through `target`. */
async function count(n: number, gate: string, target: string, monitorUrls: string[], dir: string, csv: string): Promise<Trips> {
  const sim = await startSimProcess({ callDurationMs: { min: 60_000, max: 60_000 } });
  const p = spawnTs('bench/children/dial-ours.ts', [target, sim.url, csv, dir, '100000', '50', gate]);
  const clients = monitorUrls.map((u) => new Redis(u));
  const mons = await Promise.all(clients.map((c) => c.monitor()));
  const sent = new Map<string, number>();
  const inMulti = new Set<string>();
  let trips = 0;
  let inLua = 0;
  const luaByCmd = new Map<string, number>();
  let counting = false;
  mons.forEach((mon, i) => mon.on('monitor', (_time: string, args: string[], source: string) => {
    if (!counting) return;
    if (source === 'lua') {
      const name = `${args[0]!.toLowerCase()} ${family(args[1] ?? '')}`;
      luaByCmd.set(name, (luaByCmd.get(name) ?? 0) + 1);
      return void inLua++;
    }
    const cmd = args[0]!.toLowerCase();
    // Cluster housekeeping (slot maps, node lookups) is not the dial path's.
    if (cmd === 'cluster' || cmd === 'readonly') return;
    sent.set(cmd, (sent.get(cmd) ?? 0) + 1);
    const client = `${i}/${source}`;
    if (cmd === 'multi') inMulti.add(client);
    else if (cmd === 'exec' || cmd === 'discard') inMulti.delete(client);
    if (!inMulti.has(client) && cmd !== 'multi') trips++;
  }));
  try {
    await p.message('loaded');
    counting = true;
    p.send({ type: 'go' });
    if (!(await until(async () => (await sim.count()).posts >= n, Math.max(120_000, n * 50), 250))) throw new Error('not every contact was POSTed in time');
    // Let the last dials' writes land before counting stops.
    await new Promise((r) => setTimeout(r, 500));
    counting = false;
    p.send({ type: 'stop' });
    await p.message('done', 60_000);
  } finally {
    for (const c of [...mons, ...clients]) c.disconnect();
    await p.end();
    await sim.close();
  }
  const per = new Map([...sent].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / n]));
  const lua = new Map([...luaByCmd].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / n]));
  return { sent: per, trips: trips / n, inLua: inLua / n, luaByCmd: lua };
}

if (process.argv[1]?.endsWith('dial-trips.ts')) {
  const n = Number(process.argv[2] ?? 1000);
  const t = await dialTrips(n, process.argv[3] ?? 'gate', (process.argv[4] ?? 'redis') as 'redis' | 'cluster' | 'cluster-tagged');
  const total = [...t.sent.values()].reduce((a, b) => a + b, 0);
  process.stdout.write(`${n} contacts: ${total.toFixed(1)} commands sent per contact, ${t.trips.toFixed(1)} round trips (MULTI…EXEC as one), ${t.inLua.toFixed(1)} run inside Lua\n`);
  for (const [k, v] of t.sent) process.stdout.write(`  ${k.padEnd(22)} ${v.toFixed(2)}\n`);
  process.stdout.write('run inside Lua (our scripts and BullMQ\'s), per contact:\n');
  for (const [k, v] of t.luaByCmd) if (v >= 0.05) process.stdout.write(`  ${k.padEnd(22)} ${v.toFixed(2)}\n`);
  process.exit(0);
}
