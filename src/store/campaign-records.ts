import type { CampaignState, RowState } from '../campaign/lifecycle.js';
import type { Campaign } from '../config/campaign.js';
import { CAMPAIGN_MOVE, FINISH_LOADING, LOAD_LEASE, SCHEDULE_CLAIM } from './campaign-scripts.js';
import type { EventsStore } from './events.js';
import { FED_FIELD, UNFED_FIELD } from './feed.js';
import type { IndexesStore } from './indexes.js';
import type { Keys } from './keys.js';
import { defineScript, type Script } from './lua.js';
import type { RedisClient } from './redis.js';

export interface CampaignInfo {
  campaign: Campaign;
  state: CampaignState;
  /** Data rows in the CSV; known once loading finished. */
  total?: number;
  createdAt?: string;
  finishedAt?: string;
  /** Version of the settings (`config`), bumped by every write of them; 0 when never changed. */
  version: number;
  /** Rows in archive blocks (store/archive.ts) and since when (ms); absent when none is. */
  archived?: { rows: number; sinceMs: number };
}

/** A campaign's hash and counts: its settings, state, loader's lease and recurring runs (Store's campaign methods). */
export class CampaignRecords {
  private readonly moveScript: Script;
  private readonly finishLoadingScript: Script;
  private readonly loadLeaseScript: Script;
  private readonly scheduleClaimScript: Script;

  constructor(private readonly redis: RedisClient, private readonly keys: Keys, private readonly indexes: IndexesStore, private readonly events: EventsStore) {
    this.moveScript = defineScript(redis, 'dialer_campaign_move', 2, CAMPAIGN_MOVE);
    this.finishLoadingScript = defineScript(redis, 'dialer_finish_loading', 2, FINISH_LOADING);
    this.loadLeaseScript = defineScript(redis, 'dialer_load_lease', 1, LOAD_LEASE);
    this.scheduleClaimScript = defineScript(redis, 'dialer_schedule_claim', 2, SCHEDULE_CLAIM);
  }

  async saveCampaign(c: Campaign, state: CampaignState): Promise<void> {
    const res = await this.redis
      .multi()
      .hset(this.keys.campaign(c.name), 'config', JSON.stringify(c), 'state', state)
      .hsetnx(this.keys.campaign(c.name), 'created_at', new Date().toISOString())
      .hincrby(this.keys.campaign(c.name), 'config_version', 1)
      .exec();
    // The campaigns set is an account key (another slot in the spread layout): listed once its hash exists.
    await this.redis.sadd(this.keys.campaigns, c.name);
    // A campaign created now has its indexes from its first row on (an older one is scanned instead),
    // and a feed cursor: its queued rows get their dial jobs a window at a time (one loaded before has none: all fed).
    if (res?.[1]?.[1] === 1) {
      await this.indexes.markIndexed(c.name);
      await this.redis.hset(this.keys.campaign(c.name), FED_FIELD, 0, UNFED_FIELD, 0);
    }
    await this.events.setTarget(c);
  }

  /** Updates a campaign's settings, keeping its state. */
  async saveConfig(c: Campaign): Promise<void> {
    // A new version: running workers and pollers read the settings again.
    await this.redis.multi().hset(this.keys.campaign(c.name), 'config', JSON.stringify(c)).hincrby(this.keys.campaign(c.name), 'config_version', 1).exec();
    await this.events.setTarget(c);
  }

  async listCampaigns(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.campaigns)).sort();
  }

  async getCampaign(id: string): Promise<CampaignInfo | undefined> {
    const h = await this.redis.hgetall(this.keys.campaign(id));
    if (!h.config) return undefined;
    return {
      campaign: JSON.parse(h.config) as Campaign,
      state: (h.state ?? 'running') as CampaignState,
      total: h.total === undefined ? undefined : Number(h.total),
      createdAt: h.created_at,
      finishedAt: h.finished_at,
      version: Number(h.config_version ?? 0),
      ...(h.archived_at ? { archived: { rows: Number(h.z_rows ?? 0), sinceMs: Number(h.archived_at) } } : {}),
    };
  }

  async campaignState(id: string): Promise<CampaignState | undefined> {
    return ((await this.redis.hget(this.keys.campaign(id), 'state')) ?? undefined) as CampaignState | undefined;
  }

  /** Moves a campaign along its lifecycle; returns whether it moved and the state now. */
  async moveCampaign(id: string, to: CampaignState): Promise<{ moved: boolean; state: CampaignState | undefined }> {
    const [ok, state] = (await this.moveScript(this.keys.campaign(id), this.keys.counts(id), to, new Date().toISOString())) as [number, string];
    return { moved: ok === 1, state: (state || undefined) as CampaignState | undefined };
  }

  /**
   * Marks loading finished with `total` data rows (a larger total already there stays); returns the campaign
   * state after (settled when every row is final). Ends the load lease unless `keepLease` (the loader held none).
   */
  async finishLoading(id: string, total: number, opts: { keepLease?: boolean } = {}): Promise<CampaignState> {
    return (await this.finishLoadingScript(this.keys.campaign(id), this.keys.counts(id), total, new Date().toISOString(), opts.keepLease ? 'keep-lease' : '')) as CampaignState;
  }

  /** Takes or renews a loader's lease on a campaign; when another loader holds it, who and until when. */
  async loadLease(id: string, owner: string, untilMs: number): Promise<{ held: boolean; owner?: string; until?: number }> {
    const [ok, other, until] = (await this.loadLeaseScript(this.keys.campaign(id), owner, untilMs, Date.now())) as [number, string, number];
    return ok === 1 ? { held: true } : { held: false, owner: other, until };
  }

  /** Ends the lease of a loader that is gone. */
  async dropLoadLease(id: string): Promise<void> {
    await this.redis.hdel(this.keys.campaign(id), 'load_owner', 'load_until');
  }

  async loadOwner(id: string): Promise<{ owner?: string; until?: number }> {
    const [owner, until] = await this.redis.hmget(this.keys.campaign(id), 'load_owner', 'load_until');
    return { owner: owner ?? undefined, until: until ? Number(until) : undefined };
  }

  /** One field of the campaign hash (e.g. what a feature recorded for the campaign). */
  async campaignField(id: string, field: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.campaign(id), field)) ?? undefined;
  }

  async setCampaignField(id: string, field: string, value: string): Promise<void> {
    await this.redis.hset(this.keys.campaign(id), field, value);
  }

  /** Rows in each open state (maintained by the lifecycle scripts). */
  async rowStates(id: string): Promise<Record<RowState, number>> {
    const states = ['queued', 'waiting', 'sending', 'placed', 'ambiguous', 'redial-due'] as const;
    const vs = await this.redis.hmget(this.keys.counts(id), ...states.map((s) => `state:${s}`));
    const out = {} as Record<RowState, number>;
    states.forEach((s, i) => (out[s] = Math.max(0, Number(vs[i] ?? 0))));
    return out;
  }

  /** Rows per final outcome, and `finished`. */
  async counts(id: string): Promise<Record<string, number>> {
    const h = await this.redis.hgetall(this.keys.counts(id));
    return Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith('state:')).map(([k, v]) => [k, Number(v)]));
  }

  /** One run of a recurring campaign at a time: claims `run` unless an earlier run is still open. */
  async claimScheduleRun(schedule: string, run: string): Promise<{ claimed: boolean; open?: string }> {
    for (;;) {
      const active = this.keys.scheduleActive(schedule);
      const prev = (await this.redis.get(active)) ?? '';
      // Spread layout: the previous run's hash is in another slot, so its state is read first and passed in
      // (a run that settles meanwhile is only found open once more: the next tick claims).
      const [r, other] = (this.keys.spread
        ? await this.scheduleClaimScript(active, active, prev, run, prev ? ((await this.campaignState(prev)) ?? 'none') : 'none')
        : await this.scheduleClaimScript(active, this.keys.campaign(prev || run), prev, run, '')) as [number, string];
      if (r === 1) return { claimed: true };
      if (r === 0) return { claimed: false, open: other };
    }
  }
}
