/**
 * A feeder that dies between its two steps: runs the real feedRows on a
 * campaign, with a queue whose addBulk never returns, says "claimed" on
 * stdout once the claim (FEED_ROWS) is done, and waits to be SIGKILLed.
 * argv: prefix, campaign, rows to feed.
 */
import { readEnv } from '../../src/config/env.js';
import { feedRows } from '../../src/dialer/feeder.js';
import type { DialQueues } from '../../src/dialer/jobs.js';
import { createLogger } from '../../src/log.js';
import { openRuntime } from '../../src/runtime.js';

const [prefix, id, n] = process.argv.slice(2) as [string, string, string];
const rt = await openRuntime({ ...readEnv({}), redisUrl: 'redis://127.0.0.1:6379', prefix, apiKey: 'sim-key', baseUrl: 'http://127.0.0.1:1' }, { log: createLogger('silent') });
const info = await rt.store.getCampaign(id);
const hung = { get: () => ({ addBulk: () => (process.stdout.write('claimed\n'), new Promise(() => undefined)) }) } as unknown as DialQueues;
await feedRows({ store: rt.store, queues: hung }, info!.campaign, Number(n));
