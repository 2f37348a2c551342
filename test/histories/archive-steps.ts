/**
 * The archive's part of a history (runner.ts): a `dialer archive` killed
 * midway, and the check once the campaign ended (invariants 10 and 11).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { Redis } from 'ioredis';
import { Keys } from '../../src/store/keys.js';
import { alive, kill9, spawnCli, type Proc } from '../chaos/procs.js';
import { HELD, type ArchiveCheckEvidence } from './invariants.js';
import { sleep } from './util.js';

/** What the archive steps act through: the history's folder, Redis, the dialer environment, its log and CLI. */
export interface ArchiveStepContext {
  dir: string;
  redisUrl: string;
  env: NodeJS.ProcessEnv;
  campaign: string;
  note(line: string): void;
  cli(args: string[]): Promise<{ code: number | string; stdout: string; stderr: string }>;
}

/**
 * `dialer archive` in the background, racing the next steps, and a kill -9
 * `ms` after its first block went in (seen on a MONITOR connection: the
 * SET of a `<campaign>:z:<name>` block inside its commit script). With
 * `ms` 0 the harness also pauses every writer (CLIENT PAUSE WRITE, which
 * holds scripts too) the moment it sees that SET, so the run's next commit
 * waits and dies with it: a half-done archive (its row block in, its audit
 * not), whatever the machine's speed. A run refused at once (the campaign
 * runs) or with nothing to pack just exits; steps.log says which.
 */
export async function killedArchive(ctx: ArchiveStepContext, name: string, ms: number): Promise<void> {
  const logFile = path.join(ctx.dir, `${name}.log`);
  const keys = new Keys(ctx.campaign);
  const blockKey = keys.archiveBlock(ctx.campaign, '');
  const peek = new Redis(ctx.redisUrl, { maxRetriesPerRequest: 1 });
  peek.on('error', () => undefined);
  const blocks = async () => {
    const r = await peek.multi().smembers(keys.archive(ctx.campaign)).zrange(keys.archiveAudit(ctx.campaign), 0, -1).exec().catch(() => null);
    return r ? JSON.stringify(r.map(([, v]) => [...(v as string[])].sort())) : null;
  };
  let monitor: Redis | undefined;
  let paused = false;
  let pausing: Promise<unknown> = Promise.resolve();
  let p: Proc | undefined;
  try {
    const before = await blocks();
    let committed: (block: string) => void = () => undefined;
    const first = new Promise<string>((resolve) => (committed = resolve));
    // A connection of its own in monitor mode, its error handler on before it connects: ioredis's
    // peek.monitor() attaches none until MONITOR is answered, and a reply racing that crashed a run.
    monitor = new Redis(ctx.redisUrl, { monitor: true, lazyConnect: true, maxRetriesPerRequest: 1 });
    monitor.on('error', () => undefined);
    await monitor.connect().catch(() => undefined);
    monitor?.on('monitor', (_time: string, args: string[]) => {
      if (String(args[0]).toLowerCase() !== 'set' || !String(args[1]).startsWith(blockKey)) return;
      if (ms === 0 && !paused) {
        paused = true;
        pausing = peek.call('CLIENT', 'PAUSE', '2000', 'WRITE').catch(() => undefined);
      }
      committed(String(args[1]).slice(blockKey.length));
    });
    const proc = spawnCli(name, ['archive', ctx.campaign, '--json'], ctx.env, logFile);
    p = proc;
    const seen = await Promise.race([first, proc.exited.then(() => undefined), sleep(20_000).then(() => undefined)]);
    await pausing;
    if (seen !== undefined && ms > 0) await sleep(ms);
    const running = alive(proc);
    await kill9(proc);
    if (paused) await peek.call('CLIENT', 'UNPAUSE').catch(() => undefined);
    const out = (await readFile(logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-2).join(' | ').slice(0, 200);
    const after = await blocks();
    const how = running ? `killed -9 ${seen !== undefined ? `${ms} ms after its first block (${seen})${paused ? ', writers paused' : ''}` : 'before it committed a block'}` : `exited by itself (${String(proc.child.exitCode ?? proc.child.signalCode)}) before the kill`;
    ctx.note(`${name}: ${how}; blocks ${before ?? '?'} → ${after ?? '?'}${out ? `; said ${out}` : ''}`);
  } finally {
    if (p && alive(p)) await kill9(p);
    if (paused) await peek.call('CLIENT', 'UNPAUSE').catch(() => undefined);
    monitor?.disconnect();
    peek.disconnect();
  }
}
/**
 * Once the campaign ended: `dialer archive` to completion (export A is the
 * settle's), export B, then a re-load of the same list and every appended
 * list appended again (`appendFiles`), ~2 s for any POST /calls they would
 * cause, export C. Invariants 10 and 11 judge it.
 */
export async function archiveCheck(ctx: ArchiveStepContext, state: string, before: Record<string, string>[], erasureDeferred: boolean, appendFiles: string[] = []): Promise<ArchiveCheckEvidence> {
  ctx.note('archive check');
  const exportTo = async (file: string): Promise<[Record<string, string>[] | null, string | undefined]> => {
    const r = await ctx.cli(['export', ctx.campaign, '--out', path.join(ctx.dir, file)]);
    if (r.code !== 0) return [null, `exit ${r.code}: ${r.stderr.trim()}`];
    return [parseCsv<Record<string, string>>(await readFile(path.join(ctx.dir, file)), { columns: true, skip_empty_lines: true }), undefined];
  };
  const run = async (): Promise<ArchiveCheckEvidence['archive']> => {
    const a = await ctx.cli(['archive', ctx.campaign, '--json']);
    const archive: ArchiveCheckEvidence['archive'] = { code: a.code };
    try {
      const j = JSON.parse(a.stdout) as { result?: string; reason?: string };
      Object.assign(archive, { result: j.result, reason: j.reason });
    } catch {
      archive.error = (a.stderr || a.stdout).trim().slice(0, 500);
    }
    if (a.code !== 0 && !archive.error) archive.error = a.stderr.trim().slice(0, 500);
    return archive;
  };
  let archive = await run();
  // Held by a warm or a forget during the steps: nothing writes once the campaign ended, so the hold is lifted
  // (as test/archive.test.ts does) and the archive runs again: the round trip of a warmed campaign gets checked too.
  // Not with an erasure deferred: the worker's retention round may finish it (a real write) at any moment.
  if (HELD.test(archive.reason ?? archive.error ?? '') && !erasureDeferred) {
    const peek = new Redis(ctx.redisUrl, { maxRetriesPerRequest: 3 });
    peek.on('error', () => undefined);
    const lifted = await peek.hdel(new Keys(ctx.campaign).campaign(ctx.campaign), 'z_hold').catch(() => 0).finally(() => peek.disconnect());
    ctx.note(`archive check: held; z_hold ${lifted ? 'lifted' : 'not found'}, archiving again`);
    if (lifted) archive = { ...(await run()), holdLifted: true };
  }
  const [after, afterError] = await exportTo('results-archived.csv');
  const at = Date.now();
  const l = await ctx.cli(['load', path.join(ctx.dir, 'campaign.json'), '--json']);
  // Each appended list again, into the archived (and now warmed) campaign: every row is in already.
  const reappends: NonNullable<ArchiveCheckEvidence['reappends']> = [];
  for (const file of appendFiles) {
    const r = await ctx.cli(['load', path.join(ctx.dir, 'campaign.json'), '--append', file, '--json']);
    let added: number | undefined;
    try {
      added = r.code === 0 ? (JSON.parse(r.stdout) as { added?: number }).added : undefined;
    } catch {
      // no summary: reported as such
    }
    reappends.push({ file: path.basename(file), code: r.code, ...(added !== undefined ? { added } : {}), ...(r.code !== 0 ? { error: (r.stderr || r.stdout).trim().slice(0, 500) } : {}) });
  }
  await sleep(2000);
  const until = Date.now();
  const [afterReload, afterReloadError] = await exportTo('results-reloaded.csv');
  return {
    state, archive, before, after, afterError, afterReload, afterReloadError, ...(appendFiles.length ? { reappends } : {}),
    reload: { at, until, code: l.code, ...(l.code !== 0 ? { error: (l.stderr || l.stdout).trim().slice(0, 500) } : {}) },
  };
}
