import { describeError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { sleep } from '../util.js';
import { reap } from './reaper.js';
import type { DialGate } from '../gate/types.js';
import { CampaignWorker } from './worker.js';
import { keepLiveSlots } from './live-slots.js';
import { FEED_EVERY_MS, topUp } from './feeder.js';

export interface WorkerServiceOptions {
  /** Dial only these campaigns (default: every campaign in Redis). */
  campaigns?: string[];
  /** How often to look for new campaigns and stale dials (ms). */
  scanMs?: number;
  gate?: DialGate;
  onCampaignFinished?: (campaignId: string) => void;
}

/**
 * The `dialer worker` process: one BullMQ worker per active campaign, found
 * in Redis as campaigns come and go, the feeder that keeps each one's window
 * of dial jobs topped up, plus the reaper (one worker at a time) that gives
 * open rows whose owner is gone a new one.
 */
export class WorkerService {
  private readonly workers = new Map<string, CampaignWorker>();
  private readonly stop = new AbortController();
  private loop?: Promise<void>;
  private feeding?: Promise<void>;
  readonly id = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  constructor(private readonly rt: Runtime, private readonly opts: WorkerServiceOptions = {}) {}

  start(): void {
    this.loop = this.run();
    this.feeding = this.feed();
  }

  /** Tops up the dial queue of each campaign this process serves when it runs low (dialer/feeder.ts). */
  private async feed(): Promise<void> {
    while (!this.stop.signal.aborted) {
      for (const [id, w] of this.workers) {
        if (this.stop.signal.aborted) break;
        try {
          await topUp({ store: this.rt.store, queues: this.rt.queues }, w.campaign, this.id, this.rt.clock.now(), this.rt.env.feedWindowMax);
        } catch (e) {
          this.rt.log.error({ campaign: id, err: describeError(e) }, 'feeding the dial queue failed');
        }
      }
      await sleep(FEED_EVERY_MS, this.stop.signal).catch(() => undefined);
    }
  }

  private async run(): Promise<void> {
    let lastReap = 0;
    while (!this.stop.signal.aborted) {
      try {
        await this.sync();
        await keepLiveSlots(this.rt.store, [...this.workers.keys()], this.rt.env.liveLeaseMs);
        if (Date.now() - lastReap >= this.rt.env.reapEveryMs) {
          lastReap = Date.now();
          await reap({
            store: this.rt.store, queues: this.rt.queues, log: this.rt.log, lockMs: this.rt.env.lockMs,
            now: () => this.rt.clock.now(), onCampaignFinished: this.opts.onCampaignFinished,
          }, this.id, this.rt.env.reapEveryMs, this.opts.campaigns);
        }
        await this.rt.store.server.heartbeat(this.id, Date.now());
      } catch (e) {
        this.rt.log.error({ err: describeError(e) }, 'worker service scan failed');
      }
      await sleep(this.opts.scanMs ?? 1000, this.stop.signal).catch(() => undefined);
    }
  }

  /** Starts a worker for each running campaign, stops those of finished ones. */
  private async sync(): Promise<void> {
    const { store } = this.rt;
    const ids = this.opts.campaigns ?? (await store.listCampaigns());
    for (const id of ids) {
      const info = await store.getCampaign(id);
      const active = info && info.state !== 'done' && info.state !== 'canceled';
      const w = this.workers.get(id);
      if (active && !w && !this.stop.signal.aborted) {
        this.workers.set(id, new CampaignWorker({
          store, api: this.rt.api(), log: this.rt.log, connection: this.rt.redis, gate: this.opts.gate,
          maxCallsPerSecond: this.rt.env.maxCallsPerSecond, maxConcurrentCalls: this.rt.env.maxConcurrentCalls, lockMs: this.rt.env.lockMs,
          jobLockMs: this.rt.env.jobLockMs,
          maxLiveCalls: this.rt.env.maxLiveCalls, liveLeaseMs: this.rt.env.liveLeaseMs,
          onCampaignFinished: this.opts.onCampaignFinished, now: () => this.rt.clock.now(),
        }, info.campaign, info.version));
        this.rt.log.info({ campaign: id }, 'dialing campaign');
      } else if (!active && w) {
        this.workers.delete(id);
        await w.close();
      }
    }
  }

  /** First call drains (in-flight requests finish and record their outcome); `force` aborts them. */
  async close(force = false): Promise<void> {
    this.stop.abort();
    await Promise.all([this.loop, this.feeding]);
    await Promise.allSettled([...this.workers.values()].map((w) => w.close(force)));
    this.workers.clear();
    await this.rt.store.server.dropWorker(this.id).catch(() => undefined);
    this.rt.log.debug({ worker: this.id }, 'worker service closed');
  }
}
