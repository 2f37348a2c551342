import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { Env } from '../config/env.js';
import { resolveCallsBatch } from '../api/batch.js';
import { openRuntime } from '../runtime.js';
import { startSimulator } from '../simulator/index.js';
import { deleteByPatterns } from '../store/redis.js';
import { redisAnswers, startLocalRedis, type LocalRedis } from './local-redis.js';
import { formatSummary, runCampaign } from './run.js';

const EXAMPLE = 'campaigns/example.yaml';

/**
 * `npm run demo`: the example campaign against the built-in simulator, on the
 * Redis at REDIS_URL or, when none answers, a private one started for the run.
 * Its keys live under their own prefix and are removed afterwards.
 */
export async function runDemo(env: Env): Promise<void> {
  let local: LocalRedis | undefined;
  let redisUrl = env.redisUrl;
  // With REDIS_CLUSTER_NODES the demo runs on that cluster; REDIS_URL is not used.
  if (!env.redisClusterNodes?.length && !(await redisAnswers(redisUrl))) {
    local = await startLocalRedis();
    redisUrl = local.url;
    process.stdout.write(`no Redis at ${env.redisUrl}; started a private redis-server on port ${local.port}\n`);
  }
  const sim = await startSimulator({ seed: 7, callDurationMs: { min: 300, max: 1500 }, logPath: path.resolve('results/simulator-log.jsonl') });
  process.stdout.write(`simulator on ${sim.url}; request log results/simulator-log.jsonl\n`);
  const prefix = `dialer-demo-${Date.now()}`;
  // The built-in simulator answers batched lookups (GET /calls?ids=); unless CALLEASE_CALLS_BATCH says otherwise the demo uses them.
  const callsBatch = process.env.CALLEASE_CALLS_BATCH ? env.callsBatch : resolveCallsBatch({ mode: 'ids' });
  const rt = await openRuntime({ ...env, redisUrl, prefix, apiKey: 'sim-key', baseUrl: sim.url, callsBatch, logLevel: process.env.LOG_LEVEL ?? 'warn' });
  try {
    const r = await runCampaign(rt, EXAMPLE, { progress: Boolean(process.stdout.isTTY), format: 'csv' });
    process.stdout.write(formatSummary(r) + '\n');
    await sim.flushLog();
    process.stdout.write(await checkDialedOnce(r.results.file, sim.requests) + '\n');
  } finally {
    // The store's patterns: in a Cluster they carry its hash tags (store/keys.ts).
    await deleteByPatterns(rt.redis, rt.store.keys.scanPatterns).catch(() => undefined);
    await rt.close();
    await sim.close();
    await local?.stop();
  }
}

/** The demo's proof: every valid number in the results got exactly one POST /calls. */
async function checkDialedOnce(resultsFile: string, requests: { method: string; path: string; body?: unknown; status: number }[]): Promise<string> {
  const posts = new Map<string, number>();
  for (const r of requests) {
    if (r.method !== 'POST' || !r.path.startsWith('/calls')) continue;
    const n = (r.body as { phoneNumber?: string } | undefined)?.phoneNumber ?? '';
    posts.set(n, (posts.get(n) ?? 0) + 1);
  }
  const lines = parse(await readFile(resultsFile, 'utf8'), { columns: true }).length;
  const twice = [...posts.values()].filter((n) => n > 1).length;
  return `simulator log: ${[...posts.values()].reduce((a, b) => a + b, 0)} POST /calls to ${posts.size} distinct numbers, ${twice} numbers dialed more than once; results file: ${lines} rows`;
}
