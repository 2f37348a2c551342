import type { Store } from '../store/store.js';

/**
 * Keeps alive the live-call slots of calls the poll schedule follows, in the
 * given campaigns: each slot is renewed once a third of its lease has passed.
 * Every worker and poller process runs it about once a second, so a slot
 * lives as long as any of them does; a slot whose row is no longer live
 * (a release lost in a crash) goes back at the same time.
 */
export async function keepLiveSlots(store: Store, campaigns: readonly string[], leaseMs: number): Promise<void> {
  for (const id of campaigns) await store.live.keepAlive(id, leaseMs, (leaseMs * 2) / 3);
}
