import { applySettings, settingsOf, type Assignment, type SettingChange } from '../config/settings-patch.js';
import type { CampaignFile } from '../config/campaign.js';
import { campaignIntervalMs, campaignRateScope } from '../dialer/rate.js';
import type { DialQueues } from '../dialer/jobs.js';
import { DialerError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import type { RowRecord } from './row.js';

/**
 * `dialer set` and `PATCH /campaigns/:name`: the one place a campaign's
 * settings change while it runs. The new settings are validated by the
 * campaign schema (config/settings-patch.ts), written with a new version
 * and an audit event in one step, and what lives outside the settings is
 * brought in line at once: BullMQ's global concurrency, the rate limiter's
 * next slot, and contacts waiting for a calling window that has changed.
 * Workers and pollers see the new version within SETTINGS_CHECK_MS.
 */

export interface ChangeSettingsDeps {
  store: Store;
  queues: DialQueues;
  log: Logger;
}

export interface SettingsChangeResult {
  campaign: string;
  /** Settings version after the change (unchanged when nothing changed). */
  version: number;
  /** Leaves that changed, old and new value; empty when the values were already so. */
  changes: SettingChange[];
  /** The campaign's settings now. */
  settings: CampaignFile;
  /** Contacts waiting for their calling window that were woken to be checked against the new hours. */
  woken: number;
}

/** Who made a change, as the audit event records it. */
export type SettingsSource = 'cli' | 'http';

const CAS_TRIES = 10;

export async function changeSettings(deps: ChangeSettingsDeps, id: string, assignments: Assignment[], by: SettingsSource): Promise<SettingsChangeResult> {
  const { store, queues, log } = deps;
  for (let i = 0; i < CAS_TRIES; i++) {
    const info = await store.getCampaign(id);
    if (!info) throw new DialerError('CAMPAIGN_NOT_FOUND', `no campaign named "${id}" (see "dialer status" for the list)`);
    const { campaign, changes } = applySettings(info.campaign, assignments);
    if (changes.length === 0) return { campaign: id, version: info.version, changes, settings: settingsOf(info.campaign), woken: 0 };
    const version = await store.settings.replace(id, info.version, JSON.stringify(campaign), {
      type: 'settings', at: new Date().toISOString(), by, keys: changes.map((c) => c.key).join(','), changes: JSON.stringify(changes),
    });
    if (version === 'gone') throw new DialerError('CAMPAIGN_NOT_FOUND', `no campaign named "${id}"`);
    if (version === 'moved') continue; // someone else changed them meanwhile: apply ours to theirs

    const before = info.campaign;
    if (campaign.concurrency !== before.concurrency) await queues.get(id).setGlobalConcurrency(campaign.concurrency);
    const oldMs = campaignIntervalMs(before.rate);
    const newMs = campaignIntervalMs(campaign.rate);
    if (newMs !== oldMs) {
      await store.settings.retimeLimiter(campaignRateScope(id), oldMs, newMs);
      // A queue held by BullMQ for a slow rate's long wait would stay held after a speed-up.
      if (newMs < oldMs) await queues.get(id).removeRateLimitKey();
    }
    let woken = 0;
    if (changes.some((c) => c.key.startsWith('calling_hours'))) {
      woken = await wakeWindowWaits(deps, id).catch((e: unknown) => {
        log.warn({ campaign: id, err: describeError(e) }, 'could not wake the contacts waiting for their calling window; they are checked when their wait ends');
        return 0;
      });
    }
    log.info({ campaign: id, version, by, changed: changes.map((c) => c.key), woken }, 'campaign settings changed');
    return { campaign: id, version, changes, settings: settingsOf(campaign), woken };
  }
  throw new DialerError('CAMPAIGN_INVALID', `the settings of "${id}" kept changing while this change was applied; try again`);
}

/**
 * Contacts put off to the next opening of the old calling window are
 * checked again now (their delayed dial jobs promoted): the gate then lets
 * them through under wider hours, or puts them off to the new opening.
 * Redials and retry backoffs keep their own times.
 */
async function wakeWindowWaits({ store, queues }: ChangeSettingsDeps, id: string): Promise<number> {
  const queue = queues.get(id);
  const BATCH = 500;
  let woken = 0;
  // From the last page to the first: a promoted job leaves the delayed set
  // without moving the places of the pages still to read.
  for (let end = (await queue.getDelayedCount()) - 1; end >= 0; end -= BATCH) {
    const jobs = (await queue.getDelayed(Math.max(0, end - BATCH + 1), end)).filter((j) => j?.data);
    const rows = await store.getRows(id, jobs.map((j) => j.data.row));
    for (const [k, job] of jobs.entries()) {
      const rec: RowRecord | undefined = rows[k];
      if (!rec || rec.outcome || rec.status !== 'waiting' || (rec.job && rec.job !== job.id)) continue;
      try {
        await job.promote();
        woken++;
      } catch {
        // Not delayed any more (its wait just ended, or another change woke it).
      }
    }
  }
  return woken;
}
