import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ArchiveReport } from '../store/archive.js';
import type { Store } from '../store/store.js';
import { Periodic } from '../util.js';

export interface ArchiveServiceOptions {
  /** DIALER_ARCHIVE_AFTER_MINUTES as ms: how long after it finished a campaign is archived; undefined: never on its own. */
  afterMs?: number;
  /** Between two looks (ms). Default half of `afterMs`, between 1 s and 5 minutes. */
  checkMs?: number;
  /** Before the first look (ms). Default `afterMs`, at most a minute. */
  firstDelayMs?: number;
  /** Business time (ms) the ages are measured at. */
  now?: () => number;
}

/**
 * The finished campaigns due for the archive (store/archive.ts): done or
 * canceled at least `afterMs` ago (business time) and not archived yet.
 */
export async function dueForArchive(store: Store, afterMs: number, now: number): Promise<string[]> {
  const out: string[] = [];
  for (const id of await store.listCampaigns()) {
    const info = await store.getCampaign(id);
    if (!info || (info.state !== 'done' && info.state !== 'canceled')) continue;
    const at = Date.parse(info.finishedAt ?? '');
    if (!Number.isFinite(at) || now - at < afterMs) continue;
    if (!(await store.archive.leftToPack(id))) continue;
    out.push(id);
  }
  return out;
}

/** Archives every due campaign (ArchiveService runs it in one process at a time: Keys.archiveLock). */
export async function archiveDue(store: Store, log: Logger, afterMs: number, now: number): Promise<ArchiveReport[]> {
  const out: ArchiveReport[] = [];
  for (const id of await dueForArchive(store, afterMs, now)) {
    const r = await store.archive.archive(id);
    out.push(r);
    if (r.result === 'archived') log.info({ campaign: id, rows: r.rows, blocks: r.blocks, bytes: r.bytes }, 'campaign archived');
    else log.debug({ campaign: id, reason: r.reason }, 'campaign not archived now');
  }
  return out;
}

/** Run by `dialer worker`: archives finished campaigns once they are `afterMs` old. */
export class ArchiveService {
  private readonly periodic?: Periodic;

  constructor(private readonly deps: { store: Store; log: Logger }, private readonly opts: ArchiveServiceOptions) {
    const afterMs = opts.afterMs;
    if (afterMs === undefined) return;
    const every = opts.checkMs ?? Math.min(5 * 60_000, Math.max(1000, afterMs / 2));
    this.periodic = new Periodic(opts.firstDelayMs ?? Math.min(60_000, afterMs), every, () => this.round(afterMs, every));
  }

  start(): void {
    this.periodic?.start();
  }

  private async round(afterMs: number, every: number): Promise<void> {
    try {
      if (await this.deps.store.archive.takeTurn(String(process.pid), Math.max(1000, every - 1000))) {
        await archiveDue(this.deps.store, this.deps.log, afterMs, (this.opts.now ?? Date.now)());
      }
    } catch (e) {
      this.deps.log.error({ err: describeError(e) }, 'archive round failed; next round will try again');
    }
  }

  async close(): Promise<void> {
    await this.periodic?.close();
  }
}
