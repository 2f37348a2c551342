import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { DialerError } from '../errors.js';
import { sleep } from '../util.js';

/** Answers PING within a second? */
export async function redisAnswers(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface LocalRedis {
  url: string;
  port: number;
  dir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts a private redis-server on a free port in a temp directory (AOF on,
 * noeviction, as in production); `args` are added to its command line (e.g.
 * `--replicaof 127.0.0.1 <port>` for a replica).
 */
export async function startLocalRedis(opts: { port?: number; dir?: string; appendfsync?: string; args?: string[] } = {}): Promise<LocalRedis> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new DialerError('REDIS_UNAVAILABLE',
      'no Redis answers at REDIS_URL and redis-server is not installed; install it (Debian/Ubuntu: "sudo apt-get install -y redis-server", macOS: "brew install redis") or run "docker run -d -p 6379:6379 redis:7", or set REDIS_URL');
  }
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'dialer-redis-')));
  const child = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', 'yes', '--appendfsync', opts.appendfsync ?? 'everysec', '--maxmemory-policy', 'noeviction', ...(opts.args ?? []),
  ], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && !(await redisAnswers(url)); i++) await sleep(50);
  if (!(await redisAnswers(url))) {
    child.kill('SIGKILL');
    throw new DialerError('REDIS_UNAVAILABLE', `started redis-server on port ${port} but it does not answer`);
  }
  return {
    url, port, dir, process: child,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(3000)]);
      }
      if (!opts.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Starts a private replica of `master` (AOF on, like it) and waits until the master counts it as connected. */
export async function startLocalReplica(master: Pick<LocalRedis, 'url' | 'port'>): Promise<LocalRedis> {
  const replica = await startLocalRedis({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  const m = new Redis(master.url, { maxRetriesPerRequest: 1 });
  m.on('error', () => undefined);
  try {
    for (let i = 0; i < 200; i++) {
      if (/^slave0:.*state=online/m.test(await m.info('replication'))) return replica;
      await sleep(50);
    }
  } finally {
    m.disconnect();
  }
  await replica.stop();
  throw new DialerError('REDIS_UNAVAILABLE', `replica on port ${replica.port} did not come online with its master on port ${master.port}`);
}
