import type { Campaign } from '../config/campaign.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';

/** How often a running worker or poller looks whether a campaign's settings changed (ms). */
export const SETTINGS_CHECK_MS = 500;

export interface LiveCampaignOptions {
  /** Shortest time between two looks at the settings version (ms). @defaultValue SETTINGS_CHECK_MS */
  everyMs?: number;
  /** Called once a change is taken up, with the settings now and before. */
  onChange?: (now: Campaign, before: Campaign) => void;
  log?: Logger;
}

/**
 * A campaign's settings as they are now, for a process that keeps them
 * (a dial worker, the poller). `dialer set`, `PATCH /campaigns/:name` and a
 * reload of the file bump the settings version in Redis; this looks at the
 * version at most every `everyMs` (one HGET) and reads the settings again
 * when it moved. Readers take `current` at the moment they use a setting,
 * never a copy kept from the start.
 */
export class LiveCampaign {
  private c: Campaign;
  private v: number;
  private checkedAt = 0;
  private pending?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private readonly everyMs: number;
  private removed = false;

  constructor(private readonly store: Store, initial: { campaign: Campaign; version: number }, private readonly opts: LiveCampaignOptions = {}) {
    this.c = initial.campaign;
    this.v = initial.version;
    this.checkedAt = Date.now();
    this.everyMs = opts.everyMs ?? SETTINGS_CHECK_MS;
  }

  get current(): Campaign {
    return this.c;
  }

  get version(): number {
    return this.v;
  }

  /** The campaign was deleted from Redis (seen at the last look). */
  get gone(): boolean {
    return this.removed;
  }

  /**
   * Looks at the version unless that was done less than `everyMs` ago (calls
   * at once share one look). A failed look keeps the settings it has and is
   * tried again at the next call. `force`: look now whenever the last look was.
   */
  refresh(force = false): Promise<void> {
    if (this.pending) return this.pending;
    if (!force && Date.now() - this.checkedAt < this.everyMs) return Promise.resolve();
    this.pending = this.look().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async look(): Promise<void> {
    this.checkedAt = Date.now();
    const id = this.c.name;
    try {
      if ((await this.store.settings.version(id)) === this.v) return;
      const info = await this.store.getCampaign(id);
      if (!info) {
        this.removed = true;
        return;
      }
      const before = this.c;
      this.c = info.campaign;
      this.v = info.version;
      this.opts.onChange?.(this.c, before);
    } catch (e) {
      this.opts.log?.warn({ campaign: id, err: describeError(e) }, 'could not look for changed campaign settings; keeping these');
    }
  }

  /** Looks every `everyMs` in the background (for a holder that must act on a change, not only read) until `stop()`. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.refresh(true), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
