import { normalizeStatus } from '../api/parse.js';
import type { Runtime } from '../runtime.js';

/** Deliveries kept for inspection (LPUSH + LTRIM). */
export const WEBHOOK_LOG_SIZE = 1000;
/** Fewest ms between two full rescans of the ledgers (of campaigns older than the call id index) for an unknown call id. */
const RESCAN_MS = 1000;

export interface WebhookResult {
  callId?: string;
  status?: string;
  match?: { campaign: string; row: number };
  /** True when the row was not final and a poll of it was moved to now. */
  nudged: boolean;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);

/** The payload's shape is not documented: look where call events usually put things. */
export function eventFields(body: unknown): { callId?: string; status?: string; phone?: string } {
  if (!isObj(body)) return {};
  const nested = [body, body.data, body.call, isObj(body.data) ? body.data.call : undefined].filter(isObj);
  const pick = (keys: string[]) => {
    for (const o of nested) for (const k of keys) if (str(o[k])) return str(o[k]);
    return undefined;
  };
  const customer = nested.map((o) => o.customer).find(isObj);
  return {
    callId: pick(['call_id', 'callId', 'id']),
    status: pick(['status', 'call_status', 'callStatus']),
    phone: pick(['phoneNumber', 'phone_number', 'phone', 'to']) ?? str(customer?.number),
  };
}

/**
 * Call events pushed by Callease (if it sends them). They are stored raw and
 * used only as a hint: a matching row's `status` is updated and its next poll
 * is moved to now, but a row is never finalized from a webhook — the outcome
 * always comes from GET /calls, which a forged or stale event can't change.
 */
export class WebhookHandler {
  private index = new Map<string, { campaign: string; row: number }>();
  private scan?: Promise<void>;
  private lastScan = 0;

  constructor(private readonly rt: Runtime) {}

  async handle(body: unknown): Promise<WebhookResult> {
    const { store } = this.rt;
    const f = eventFields(body);
    const match = f.callId ? await this.find(f.callId, f.phone) : undefined;
    const status = f.status ? normalizeStatus(f.status) : undefined;
    await store.server.logWebhook(JSON.stringify({ received_at: new Date().toISOString(), match: match ?? null, body }), WEBHOOK_LOG_SIZE);
    let nudged = false;
    if (match && f.callId) {
      // Only a row following this very call (placed) is touched: an event for an
      // earlier call of a row now due a redial, or of a final row, changes nothing.
      const r = await store.moveRow(match.campaign, match.row, { from: ['placed'], callId: f.callId, patch: status ? { status } : {} });
      if (r === 'applied') {
        await store.schedulePoll(match.campaign, match.row, Date.now());
        nudged = true;
      }
    }
    return { callId: f.callId, status, match, nudged };
  }

  /**
   * By the number when the event names one (one HGET per campaign), else by
   * each campaign's call id → row index (one HGET per campaign); a campaign
   * older than that index is found through a scan of its ledger.
   */
  private async find(callId: string, phone?: string): Promise<{ campaign: string; row: number } | undefined> {
    const { indexed, unindexed } = await this.activeCampaigns();
    const ids = [...indexed, ...unindexed];
    // By the number first (as before), then by call id.
    if (phone) {
      for (const id of ids) {
        const e = await this.rt.store.ledgerGet(id, phone);
        if (e?.id === callId) return { campaign: id, row: e.r };
      }
    }
    const found = await this.rt.store.indexes.rowOfCall(indexed, callId);
    if (found || unindexed.length === 0) return found;
    const hit = this.index.get(callId);
    if (hit) return hit;
    await this.rescan(unindexed);
    return this.index.get(callId);
  }

  /** Campaigns with a call id index (finished ones too: a lookup costs one HGET), and those without one that are not done (scanned). */
  private async activeCampaigns(): Promise<{ indexed: string[]; unindexed: string[] }> {
    const out = { indexed: [] as string[], unindexed: [] as string[] };
    for (const id of await this.rt.store.listCampaigns()) {
      const info = await this.rt.store.getCampaign(id);
      if (!info) continue;
      if (await this.rt.store.indexes.indexed(id)) out.indexed.push(id);
      else if (info.state !== 'done') out.unindexed.push(id);
    }
    return out;
  }

  /** Concurrent misses share one scan; scans are at least RESCAN_MS apart. */
  private async rescan(ids: string[]): Promise<void> {
    if (this.scan) return this.scan;
    const wait = this.lastScan + RESCAN_MS - Date.now();
    this.scan = (async () => {
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const next = new Map<string, { campaign: string; row: number }>();
      for (const id of ids) {
        for await (const [, e] of this.rt.store.ledgerEntries(id)) if (e.id) next.set(e.id, { campaign: id, row: e.r });
      }
      this.index = next;
      this.lastScan = Date.now();
    })().finally(() => {
      this.scan = undefined;
    });
    return this.scan;
  }
}
