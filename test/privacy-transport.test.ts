import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CalleaseClient } from '../src/api/client.js';
import { readEnv } from '../src/config/env.js';
import { ApiError } from '../src/errors.js';
import { openRuntime } from '../src/runtime.js';
import { cleanupPrefix, REDIS_URL, runCli, testPrefix } from './helpers/dialer.js';

const prefix = testPrefix('privacy-transport');
afterAll(() => cleanupPrefix(prefix));

describe('unverified TLS is refused for a non-loopback API', () => {
  it('NODE_TLS_REJECT_UNAUTHORIZED=0 is read from the environment', () => {
    expect(readEnv({ NODE_TLS_REJECT_UNAUTHORIZED: '0' }).tlsRejectUnauthorized).toBe(false);
    expect(readEnv({}).tlsRejectUnauthorized).toBe(true);
  });

  it('the runtime refuses to create an API client, except for loopback (the simulator)', async () => {
    const base = { ...readEnv({}), redisUrl: REDIS_URL, prefix, apiKey: 'k', tlsRejectUnauthorized: false };
    for (const baseUrl of ['https://api.callease.ai/api/v1', 'https://127.0.0.2.nip.io/api', 'https://localhost.evil.example/api']) {
      const rt = await openRuntime({ ...base, baseUrl });
      try {
        expect(() => rt.api(), baseUrl).toThrow(/NODE_TLS_REJECT_UNAUTHORIZED=0 is set while CALLEASE_BASE_URL is not loopback/);
      } finally {
        await rt.close();
      }
    }
    for (const baseUrl of ['http://127.0.0.1:4010', 'http://localhost:4010', 'https://api.callease.ai/api/v1']) {
      const rt = await openRuntime({ ...base, baseUrl, tlsRejectUnauthorized: baseUrl.startsWith('https') });
      try {
        expect(rt.api()).toBeInstanceOf(CalleaseClient);
      } finally {
        await rt.close();
      }
    }
  });

  it('the CLI exits with the error before sending anything', async () => {
    const r = await runCli(['call', '--assistant', 'CE_1', '--phone', '+61412000001'], {
      REDIS_URL, DIALER_PREFIX: prefix, CALLEASE_API_KEY: 'k', CALLEASE_BASE_URL: 'https://api.callease.ai/api/v1', NODE_TLS_REJECT_UNAUTHORIZED: '0',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refusing to send personal data without verified TLS/);
  });
});

describe('the API client speaks TLS 1.2 or newer only', () => {
  let dir: string;
  let server: https.Server;
  let port: number;
  const sessions: string[] = [];
  const saved = { min: tls.DEFAULT_MIN_VERSION, ciphers: tls.DEFAULT_CIPHERS };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dialer-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=127.0.0.1'], { cwd: dir, stdio: 'ignore' });
    // A server that speaks only TLS 1.0/1.1 (OpenSSL 3 needs security level 0 for them).
    server = https.createServer(
      { key: await readFile(path.join(dir, 'key.pem')), cert: await readFile(path.join(dir, 'cert.pem')), minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' },
      (_req, res) => res.end('{"id":"x"}'),
    );
    server.on('secureConnection', (s: tls.TLSSocket) => sessions.push(String(s.getProtocol())));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    // Make this process's defaults as lax as possible: only the client's own setting can refuse.
    tls.DEFAULT_MIN_VERSION = 'TLSv1';
    tls.DEFAULT_CIPHERS = 'DEFAULT@SECLEVEL=0';
  });

  afterAll(async () => {
    tls.DEFAULT_MIN_VERSION = saved.min;
    tls.DEFAULT_CIPHERS = saved.ciphers;
    await new Promise((r) => server?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('a client on the process defaults would settle for TLS 1.1 here (the test can fail)', async () => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => s.once('secureConnect', () => resolve()).once('error', reject));
    expect(s.getProtocol()).toBe('TLSv1.1');
    s.destroy();
    expect(sessions).toEqual(['TLSv1.1']);
  });

  it('CalleaseClient refuses the TLS 1.1 server in the handshake: no session, nothing sent', async () => {
    sessions.length = 0;
    const client = new CalleaseClient({ baseUrl: `https://127.0.0.1:${port}`, apiKey: 'k', timeoutMs: 3000 });
    try {
      const err = await client.createCall({ assistant_id: 'CE_1', name: 'A', phoneNumber: '+61412000001', customVariables: [] }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      const chain: string[] = [];
      for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) chain.push(`${(e as { code?: string }).code} ${(e as Error).message}`);
      expect(chain.join(' | ')).toMatch(/protocol version|unsupported protocol|EPROTO/i);
      expect(chain.join(' | ')).not.toMatch(/self.signed|certificate/i);
      expect((err as ApiError).maybeSent).toBe(false);
      expect(sessions).toEqual([]);
    } finally {
      client.close();
    }
  });
});
