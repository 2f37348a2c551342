import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RequestLogEntry } from '../src/simulator/index.js';
import { callBody, numbers, simRequest as req, sleep, useSimulators } from './helpers/sim-http.js';

const sim = useSimulators();

describe('rate limit', () => {
  it('answers 429 with Retry-After and does not create the call', async () => {
    const s = await sim({ rateLimitPerSecond: 5 });
    const rs = await Promise.all(numbers(20).map((n) => req(s, 'POST', '/calls', { body: callBody(n) })));
    const limited = rs.filter((r) => r.status === 429);
    expect(rs.filter((r) => r.status === 201)).toHaveLength(5);
    expect(limited).toHaveLength(15);
    for (const r of limited) {
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number.isInteger(Number(r.headers.get('retry-after')))).toBe(true);
      expect(typeof r.body.error).toBe('string');
    }
    expect(s.calls.size).toBe(5);
    expect(s.requests.filter((e) => e.fault === '429')).toHaveLength(15);
    // GETs are not limited in the default 'calls' scope.
    expect((await req(s, 'GET', '/calls')).status).toBe(200);
  });

  it('never admits more than N in any rolling second, and the window slides', async () => {
    const N = 8;
    const s = await sim({ rateLimitPerSecond: N });
    const nums = numbers(400);
    const t0 = Date.now();
    let i = 0;
    const inflight: Promise<unknown>[] = [];
    while (Date.now() - t0 < 2600) {
      inflight.push(req(s, 'POST', '/calls', { body: callBody(nums[i++ % nums.length]!) }));
      await sleep(10);
    }
    await Promise.all(inflight);
    const admitted = s.requests.filter((e) => e.method === 'POST' && e.status !== 429).map((e) => e.t).sort((a, b) => a - b);
    // Fixed windows would allow 2N across a boundary; a sliding one never does.
    for (let a = 0; a < admitted.length; a++) {
      let n = 0;
      for (let b = a; b < admitted.length && admitted[b]! - admitted[a]! < 1000; b++) n++;
      expect(n).toBeLessThanOrEqual(N);
    }
    expect(admitted.length).toBeGreaterThan(2 * N);
    expect(s.calls.size).toBe(admitted.length);
  });

  it('can be changed at run time', async () => {
    const s = await sim();
    await Promise.all(numbers(10).map((n) => req(s, 'POST', '/calls', { body: callBody(n) })));
    s.setOptions({ rateLimitPerSecond: 1 });
    const rs = await Promise.all(numbers(3, 61500000000).map((n) => req(s, 'POST', '/calls', { body: callBody(n) })));
    expect(rs.map((r) => r.status).sort()).toEqual([201, 429, 429]);
  });
});

describe('faults', () => {
  it('5xx answers 500/502/503 without creating the call', async () => {
    const s = await sim({ faults: { error5xxRate: 1 } });
    const rs = await Promise.all(numbers(30).map((n) => req(s, 'POST', '/calls', { body: callBody(n) })));
    for (const r of rs) expect([500, 502, 503]).toContain(r.status);
    expect(new Set(rs.map((r) => r.status)).size).toBeGreaterThan(1);
    expect(s.calls.size).toBe(0);
    expect(s.requests.every((e) => e.fault === '5xx')).toBe(true);
    expect([500, 502, 503]).toContain((await req(s, 'GET', '/calls')).status);
    s.setOptions({ faults: { error5xxRate: 0 } });
    expect((await req(s, 'POST', '/calls', { body: callBody('+61412345678') })).status).toBe(201);
  });

  it('drop creates the call, then the client sees a socket error', async () => {
    const s = await sim({ faults: { dropAfterCreateRate: 1 } });
    await expect(req(s, 'POST', '/calls', { body: callBody('+61412345678') })).rejects.toThrow();
    expect(s.calls.size).toBe(1);
    const [call] = [...s.calls.values()];
    const entry = s.requests.find((e) => e.fault === 'drop');
    expect(entry).toMatchObject({ method: 'POST', path: '/calls', status: 0, call_id: call!.id });
    // The dialer's reconcile path: the call is visible to a list query.
    expect((await req(s, 'GET', '/calls?phoneNumber=%2B61412345678')).body.data[0].id).toBe(call!.id);
  });

  it('5xx after create answers 500/502/503, yet the call exists and a lookup finds it', async () => {
    const s = await sim({ faults: { error5xxAfterCreateRate: 1 } });
    const rs = await Promise.all(numbers(30).map((n) => req(s, 'POST', '/calls', { body: callBody(n) })));
    for (const r of rs) expect([500, 502, 503]).toContain(r.status);
    expect(s.calls.size).toBe(30);
    const entries = s.requests.filter((e) => e.method === 'POST');
    expect(entries.every((e) => e.fault === '5xx-after-create' && e.call_id && s.calls.has(e.call_id))).toBe(true);
    const first = entries[0]!;
    const phone = encodeURIComponent(s.calls.get(first.call_id!)!.phoneNumber);
    expect((await req(s, 'GET', `/calls?phoneNumber=${phone}`)).body.data[0].id).toBe(first.call_id);
    // GETs are not touched by this fault.
    expect((await req(s, 'GET', `/calls?id=${first.call_id}`)).status).toBe(200);
    s.setOptions({ faults: { error5xxAfterCreateRate: 0.5 } });
    const half = await Promise.all(numbers(200, 61500000000).map((n) => req(s, 'POST', '/calls', { body: callBody(n) })));
    const failed = half.filter((r) => r.status >= 500).length;
    expect(failed).toBeGreaterThan(60);
    expect(failed).toBeLessThan(140);
    expect(s.calls.size).toBe(230);
  });

  it('hang never answers, is logged at receive time, and close() is still prompt', async () => {
    const s = await sim({ faults: { hangRate: 1 } });
    const ac = new AbortController();
    const pending = req(s, 'POST', '/calls', { body: callBody('+61412345678'), signal: ac.signal });
    // Abort once the simulator has the request (on a busy machine it can take longer than a fixed 200 ms to arrive).
    for (let i = 0; i < 200 && s.requests.length === 0; i++) await sleep(25);
    await sleep(100);
    ac.abort();
    await expect(pending).rejects.toThrow();
    expect(s.calls.size).toBe(0);
    expect(s.requests).toHaveLength(1);
    expect(s.requests[0]).toMatchObject({ status: 0, fault: 'hang' });

    // A second hung request still open when close() is called.
    const open2 = req(s, 'POST', '/calls', { body: callBody('+61412345679') }).catch((e: unknown) => e);
    await sleep(50);
    const started = Date.now();
    await s.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await open2).toBeInstanceOf(Error);
    await s.close(); // idempotent
  });

  it('latency delays responses', async () => {
    const s = await sim({ faults: { latencyMs: 150 } });
    const t0 = Date.now();
    expect((await req(s, 'GET', '/calls')).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    s.setOptions({ faults: { latencyMs: 0 } });
    const t1 = Date.now();
    await req(s, 'GET', '/calls');
    expect(Date.now() - t1).toBeLessThan(140);
  });
});

describe('request log', () => {
  it('writes one JSONL line per request, with method/path/body and never the key', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sim-log-'));
    const logPath = path.join(dir, 'nested', 'requests.jsonl');
    const key = 'very-secret-key-4242';
    try {
      const s = await sim({ apiKey: key, logPath });
      const id = (await req(s, 'POST', '/calls', { body: callBody('+61412345678') })).body.id;
      await req(s, 'GET', `/calls?id=${id}`);
      await req(s, 'POST', '/calls', { raw: 'not json' });
      await req(s, 'GET', '/calls', { key: 'wrong-key' });
      await s.flushLog();
      const text = await readFile(logPath, 'utf8');
      expect(text).not.toContain(key);
      expect(text.toLowerCase()).not.toContain('bearer');
      const lines = text.trim().split('\n').map((l) => JSON.parse(l) as RequestLogEntry);
      expect(lines).toHaveLength(4);
      expect(lines[0]).toMatchObject({ method: 'POST', path: '/calls', status: 201, call_id: id, body: callBody('+61412345678') });
      expect(lines[1]).toMatchObject({ method: 'GET', path: `/calls?id=${id}`, status: 200 });
      expect(lines[2]).toMatchObject({ status: 400, body: 'not json' });
      expect(lines[3]).toMatchObject({ status: 401 });
      for (const l of lines) {
        expect(new Date(l.time).getTime()).toBe(l.t);
        expect(l.time).toMatch(/\.\d{3}Z$/);
      }
      expect(s.requests).toEqual(lines);
      await s.close();
      expect((await readFile(logPath, 'utf8')).trim().split('\n')).toHaveLength(4);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
