/**
 * The per-campaign indexes (store/index-lua.ts) against a full read of the
 * rows and the ledger, from one atomic snapshot (MULTI): what status, the
 * metrics and the webhooks would read from the index and what a scan finds.
 * Returns one line per disagreement; none when they agree.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../../src/store/keys.js';

type Flat = Record<string, string>;

function pairs(flat: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < flat.length; i += 2) m.set(flat[i]!, flat[i + 1] === 'inf' ? Infinity : Number(flat[i + 1]));
  return m;
}

function diffMaps<V>(what: string, want: Map<string, V>, got: Map<string, V>, out: string[]): void {
  for (const [k, v] of want) if (!got.has(k)) out.push(`${what}: ${k} missing from the index (scan: ${String(v)})`);
  else if (got.get(k) !== v) out.push(`${what}: ${k} is ${String(got.get(k))} in the index, ${String(v)} by scan`);
  for (const [k, v] of got) if (!want.has(k)) out.push(`${what}: ${k} in the index (${String(v)}) but not found by scan`);
}

export async function indexDrift(redis: Redis, keys: Keys, id: string): Promise<string[]> {
  const res = await redis
    .multi()
    .hgetall(keys.rows(id))
    .hgetall(keys.ledger(id))
    .zrange(keys.waiting(id), 0, -1, 'WITHSCORES')
    .zrange(keys.ledgerSending(id), 0, -1, 'WITHSCORES')
    .hgetall(keys.ledgerCounts(id))
    .hgetall(keys.callIds(id))
    .exec();
  if (!res) return ['snapshot failed'];
  const [rows, ledger, waiting, sending, counts, callIds] = res.map(([e, v]) => {
    if (e) throw e;
    return v;
  }) as [Flat, Flat, string[], string[], Flat, Flat];
  const out: string[] = [];

  const wantWaiting = new Map<string, number>();
  for (const [row, v] of Object.entries(rows)) {
    const r = JSON.parse(v) as { outcome?: string; status?: string; next_at?: string };
    if (!r.outcome && r.status === 'waiting') wantWaiting.set(row, r.next_at ? Date.parse(r.next_at) : Infinity);
  }
  diffMaps('waiting rows', wantWaiting, pairs(waiting), out);

  const wantSending = new Map<string, number>();
  const wantCounts = new Map<string, number>();
  const wantIds = new Map<string, string>();
  for (const [num, v] of Object.entries(ledger)) {
    const e = JSON.parse(v) as { s: string; r: number; t: number; sent?: number; id?: string };
    wantCounts.set(e.s, (wantCounts.get(e.s) ?? 0) + 1);
    if (e.s === 'sending') wantSending.set(num, e.sent ?? e.t);
    if (e.id) wantIds.set(e.id, String(e.r));
  }
  diffMaps('sending entries', wantSending, pairs(sending), out);
  const gotCounts = new Map(Object.entries(counts).map(([s, n]) => [s, Number(n)] as const).filter(([, n]) => n !== 0));
  diffMaps('ledger counts', wantCounts, gotCounts, out);
  diffMaps('call ids', wantIds, new Map(Object.entries(callIds)), out);
  return out;
}
