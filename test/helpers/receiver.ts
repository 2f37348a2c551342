/**
 * A real HTTP receiver of the dialer's events (node:http on a free port) that
 * checks every signature the way a customer would (HMAC-SHA256 of
 * "<t>.<body>", the README's snippet), can fail a share of deliveries at
 * random, and can go down (connection refused, or 503) for a stretch.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Delivery {
  id: string;
  type: string;
  body: string;
  /** The signature header verified against the secret. */
  verified: boolean;
  /** What the receiver answered. */
  status: number;
}

/** A small seeded generator, so a failing run can be repeated. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function verify(secret: string, body: string, header: string | undefined): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${body}`).digest();
  return Math.abs(Date.now() / 1000 - Number(m[1])) < 300 && timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'));
}

export class Receiver {
  /** Every request that reached the handler, in order. */
  readonly requests: Delivery[] = [];
  /** Share of deliveries answered 500 at random. */
  failRate: number;
  /** While set, every delivery is answered 503. */
  unavailable = false;
  private server?: http.Server;
  private port = 0;
  private readonly random: () => number;

  constructor(private readonly secret: string, opts: { failRate?: number; seed?: number } = {}) {
    this.failRate = opts.failRate ?? 0;
    this.random = prng(opts.seed ?? 1);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/dialer`;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let parsed: { id?: string; type?: string } = {};
        try {
          parsed = JSON.parse(body) as typeof parsed;
        } catch { /* recorded with an empty id: a test then fails */ }
        const status = this.unavailable ? 503 : this.random() < this.failRate ? 500 : 200;
        this.requests.push({ id: parsed.id ?? '', type: parsed.type ?? '', body, verified: verify(this.secret, body, req.headers['callease-dialer-signature'] as string | undefined), status });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'try later');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Down: nothing listens on the port (connection refused) until `start()` again. */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Ids answered 2xx at least once. */
  delivered(): Set<string> {
    return new Set(this.requests.filter((r) => r.status === 200).map((r) => r.id));
  }

  /** Per id, how many 2xx it got. */
  successes(): Map<string, number> {
    const m = new Map<string, number>();
    for (const r of this.requests) if (r.status === 200) m.set(r.id, (m.get(r.id) ?? 0) + 1);
    return m;
  }
}
