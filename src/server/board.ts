import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime.js';
import { BOARD_PATH } from './auth.js';

/** How stale the board's queue list may be (campaigns come and go). */
const SYNC_MS = 2000;

/**
 * Bull Board at /admin/queues, one queue per campaign. The auth hook of the
 * app guards every route under this path (bearer token or the board session
 * cookie), the board's own API and static files included.
 */
export async function registerBoard(app: FastifyInstance, rt: Runtime): Promise<void> {
  const adapter = new FastifyAdapter();
  adapter.setBasePath(BOARD_PATH);
  // @bull-board/fastify 9.10.1 (the newest) pins its own @bull-board/api 9.10.1 while package.json has
  // ^9.10.2: two copies of the same types. The cast goes once both are the same version.
  const serverAdapter = adapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'];
  const board = createBullBoard({ queues: [], serverAdapter, options: { uiConfig: { boardTitle: 'Callease dialer' } } });
  const shown = new Set<string>();
  let synced = 0;
  const sync = async () => {
    if (Date.now() - synced < SYNC_MS) return;
    synced = Date.now();
    const ids = new Set(await rt.store.listCampaigns());
    for (const id of ids) {
      // Read-only: pause, empty and promote go through the campaign lifecycle (the HTTP API), never behind it.
      if (!shown.has(id)) board.addQueue(new BullMQAdapter(rt.queues.get(id), { displayName: id, readOnlyMode: true }));
      shown.add(id);
    }
    for (const id of shown) {
      if (!ids.has(id)) {
        board.removeQueue(rt.store.keys.dialQueue(id));
        shown.delete(id);
      }
    }
  };
  await app.register(async (scope) => {
    scope.addHook('onRequest', async () => sync());
    await scope.register(adapter.registerPlugin(), { prefix: BOARD_PATH });
  });
}
