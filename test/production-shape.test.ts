/**
 * The production shape's refusals and the Redis outage log, on a private
 * redis-server with a password (restarted mid-test, so not the shared one).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEnv } from '../src/config/env.js';
import { requireCalleaseSettings } from '../src/config/require.js';
import { createLogger } from '../src/log.js';
import { openRuntime } from '../src/runtime.js';
import { waitFor } from './helpers/dialer.js';

const PASSWORD = 'pw-production-shape-0123';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

let port = 0;
let redis: ChildProcess | undefined;
async function startRedis(): Promise<void> {
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', PASSWORD, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitFor(() => new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    }).on('error', () => resolve(false));
  }), 'redis-server to listen', 10_000, 50);
}
async function stopRedis(): Promise<void> {
  const p = redis;
  redis = undefined;
  if (!p || p.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });
}

beforeAll(async () => {
  port = await freePort();
  await startRedis();
});
afterAll(stopRedis);

describe('settings a production process refuses', () => {
  it('no API key: the variable is named, at start', () => {
    expect(() => requireCalleaseSettings(readEnv({}), 'worker')).toThrow(/CALLEASE_API_KEY is not set; `dialer worker`/);
    expect(() => requireCalleaseSettings(readEnv({ CALLEASE_API_KEY: '  ' }), 'poller')).toThrow(/CALLEASE_API_KEY/);
    expect(() => requireCalleaseSettings(readEnv({ CALLEASE_API_KEY: 'k' }), 'worker')).not.toThrow();
  });

  it('plain http to a container name needs the explicit opt-in; loopback does not', () => {
    const demo = { CALLEASE_API_KEY: 'sim-key', CALLEASE_BASE_URL: 'http://simulator:4010' };
    expect(() => requireCalleaseSettings(readEnv(demo), 'worker')).toThrow(/CALLEASE_BASE_URL: .*plain http:\/\/ is allowed only for loopback/);
    expect(() => requireCalleaseSettings(readEnv({ ...demo, CALLEASE_BASE_URL: 'http://simulator.localhost:4010' }), 'worker')).toThrow(/CALLEASE_BASE_URL/);
    expect(() => requireCalleaseSettings(readEnv({ ...demo, CALLEASE_ALLOW_INSECURE_HTTP: '1' }), 'worker')).not.toThrow();
    expect(() => requireCalleaseSettings(readEnv({ ...demo, CALLEASE_BASE_URL: 'http://127.0.0.1:4010' }), 'worker')).not.toThrow();
    expect(() => readEnv({ CALLEASE_ALLOW_INSECURE_HTTP: 'maybe' })).toThrow(/CALLEASE_ALLOW_INSECURE_HTTP must be 1 or 0, got "maybe"/);
  });

  it('dial jobs get a short BullMQ lock, apart from the ledger threshold', () => {
    expect(readEnv({})).toMatchObject({ lockMs: 60_000, jobLockMs: 15_000 });
    expect(readEnv({ DIALER_LOCK_MS: '6000' })).toMatchObject({ lockMs: 6000, jobLockMs: 6000 });
    expect(readEnv({ DIALER_JOB_LOCK_MS: '8000' }).jobLockMs).toBe(8000);
  });
});

describe('REDIS_PASSWORD', () => {
  const env = () => ({ ...readEnv({}), redisUrl: `redis://127.0.0.1:${port}`, prefix: 'prodshape' });

  it('without it, the error says which setting to fix (and never the password)', async () => {
    const err = await openRuntime(env(), { log: createLogger('silent') }).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/refused the connection .*NOAUTH.*set REDIS_PASSWORD/);
    const wrong = await openRuntime({ ...env(), redisPassword: 'not-it' }, { log: createLogger('silent') }).then(() => undefined, (e: Error) => e);
    expect(wrong?.message).toMatch(/WRONGPASS|invalid password/);
    expect(wrong?.message).not.toContain('not-it');
  });

  it('every connection uses it; an outage is told in JSON lines, once, and its end', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const rt = await openRuntime({ ...env(), redisPassword: PASSWORD }, { log: createLogger('info', sink) });
    try {
      const q = rt.queues.get('outage'); // a BullMQ queue on the runtime's connection
      await q.add('dial', { row: 1 }, { jobId: 'outage-1' });
      await expect(rt.store.server.ping()).resolves.toBeUndefined();
      await stopRedis();
      await waitFor(() => lines.some((l) => l.msg === 'Redis connection lost; reconnecting'), 'the outage line', 15_000);
      await new Promise((r) => setTimeout(r, 3000)); // several reconnect attempts fail meanwhile
      await startRedis();
      await waitFor(() => lines.some((l) => l.msg === 'Redis connection back'), 'the recovery line', 20_000);
      expect(lines.filter((l) => l.msg === 'Redis connection lost; reconnecting')).toHaveLength(1);
      expect(JSON.stringify(lines)).not.toContain(PASSWORD);
      await expect(rt.store.server.ping()).resolves.toBeUndefined();
      // The queue's connection authenticated again too (the private Redis kept nothing: the job is gone).
      expect(await q.getJobState('outage-1')).toBe('unknown');
    } finally {
      await rt.close();
    }
  });
});
