/**
 * A private 3-master Redis Cluster for tests: three `redis-server
 * --cluster-enabled yes` processes on spare ports in a temp directory, joined
 * with `redis-cli --cluster create`. Each node also listens on its cluster bus
 * port (port + 10000), so both ports are checked free before use.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

export interface LocalCluster {
  /** `127.0.0.1:P` of each master, the value of REDIS_CLUSTER_NODES when joined with commas. */
  nodes: string[];
  ports: number[];
  dir: string;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Can we listen on `port` at 127.0.0.1 right now? */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** `n` distinct ports below 55535 whose bus port (+10000) is free too. */
async function spareClusterPorts(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let tries = 0; out.length < n && tries < 500; tries++) {
    // 20000..45000: clear of well-known ports and of the ephemeral range most systems use for outgoing connections.
    const p = 20_000 + Math.floor(Math.random() * 25_000);
    if (out.some((q) => Math.abs(q - p) < 2 || Math.abs(q + 10_000 - p) < 2 || Math.abs(q - 10_000 - p) < 2)) continue;
    if ((await portFree(p)) && (await portFree(p + 10_000))) out.push(p);
  }
  if (out.length < n) throw new Error(`could not find ${n} free port pairs for a Redis Cluster`);
  return out;
}

/** One CLUSTER INFO field of the node at `port` ('' when it does not answer). */
async function clusterInfo(port: number, field: string): Promise<string> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  r.on('error', () => undefined);
  try {
    await r.connect();
    const info = (await r.call('CLUSTER', 'INFO')) as string;
    return new RegExp(`^${field}:(\\S*)`, 'm').exec(info)?.[1] ?? '';
  } catch {
    return '';
  } finally {
    r.disconnect();
  }
}

async function waitUntil(what: string, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`Redis Cluster: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Starts and joins a 3-master cluster (no replicas); stop() kills it and removes its directory. */
export async function startLocalCluster(masters = 3): Promise<LocalCluster> {
  if (spawnSync('redis-server', ['--version']).error || spawnSync('redis-cli', ['--version']).error) {
    throw new Error('redis-server and redis-cli are needed for the Redis Cluster test (Debian/Ubuntu: apt-get install redis-server)');
  }
  const ports = await spareClusterPorts(masters);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dialer-cluster-'));
  const procs: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(procs.map(async (p) => {
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await Promise.race([exited, sleep(3000)]);
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      // A directory per node: AOF file names (and, from Redis 7, the AOF directory) would collide otherwise.
      const nodeDir = path.join(dir, String(port));
      await mkdir(nodeDir);
      procs.push(spawn('redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--dir', nodeDir,
        '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '5000',
        '--appendonly', 'yes',
        '--save', '', '--maxmemory-policy', 'noeviction',
      ], { stdio: 'ignore' }));
    }
    await waitUntil('the nodes to answer', async () => (await Promise.all(ports.map((p) => clusterInfo(p, 'cluster_state')))).every((s) => s !== ''), 10_000);
    const nodes = ports.map((p) => `127.0.0.1:${p}`);
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed (${create.status ?? create.signal}): ${create.stdout}\n${create.stderr}`);
    await waitUntil('cluster_state:ok on every node', async () => (await Promise.all(ports.map((p) => clusterInfo(p, 'cluster_state')))).every((s) => s === 'ok'), 20_000);
    return { nodes, ports, dir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
