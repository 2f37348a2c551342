#!/usr/bin/env node
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { openContacts } from '../loader/csv.js';
import { Command, Option } from 'commander';
import { campaignStatus } from '../campaign/status.js';
import { pauseCampaign, resumeCampaign } from '../campaign/control.js';
import { readEnv, type Env } from '../config/env.js';
import { requireCalleaseSettings } from '../config/require.js';
import { DialerError, coerceError, describeError } from '../errors.js';
import { loadCampaignFile } from '../config/campaign.js';
import { writeResults, type ResultsFormat } from '../results/export.js';
import { checkRedisDurability, openRuntime, type Runtime } from '../runtime.js';
import { formatSimulatorBanner, parseOutcomeWeights, parseRange, startSimulator } from '../simulator/index.js';
import { runDemo } from './demo.js';
import { formatSummary, runCampaign } from './run.js';
import { actionsCommand } from './actions.js';
import { dlqCommand } from './dlq.js';
import { eventsCommand } from './events.js';
import { scheduleCommand } from './schedule.js';
import { onSignals } from './signals.js';
import { serveCommand } from './serve.js';
import { ensureSmsActions } from '../campaign/sms-actions.js';
import { Dialer } from '../dialer.js';
import { privacyCommands } from './privacy.js';
import { reportCommand } from './report.js';
import { safetyCommands } from './safety.js';
import { checkCommand } from './check.js';
import { setCommand } from './set.js';
import { archiveCommand } from './archive.js';

const env = readEnv();
/** How long `worker` and `poller` wait for Redis at start before giving up. */
const LONG_RUNNING_REDIS_WAIT_MS = 5 * 60_000;

/**
 * Opens the runtime for one command and always closes it. Long-running
 * commands pass `waitForRedisMs`: started while Redis is down (a restart, a
 * container coming up first), they wait for it instead of exiting.
 */
async function withRuntime<T>(fn: (rt: Runtime) => Promise<T>, overrides: Partial<Env> = {}, waitForRedisMs = 0): Promise<T> {
  const deadline = Date.now() + waitForRedisMs;
  let rt: Runtime;
  for (;;) {
    try {
      rt = await openRuntime({ ...env, ...overrides });
      break;
    } catch (e) {
      if (!(e instanceof DialerError && e.code === 'REDIS_UNAVAILABLE') || Date.now() > deadline) throw e;
      process.stderr.write(`waiting for Redis: ${e.message}\n`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  try {
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

function print(v: unknown, json: boolean): void {
  process.stdout.write(json ? JSON.stringify(v, null, 2) + '\n' : String(v) + '\n');
}

const formatOption = () => new Option('--format <format>', 'results format').choices(['csv', 'jsonl']).default('csv');

const program = new Command('dialer')
  .description('Batch campaign dialer for the Callease AI voice-call API')
  .showHelpAfterError()
  .configureOutput({ outputError: (s, write) => write(s) });

program
  .command('run <campaign-file>')
  .description('load, dial and poll one campaign in this process; exits 0 when every row has its final outcome')
  .addOption(formatOption())
  .option('--no-progress', 'no progress bar')
  .action(async (file: string, o: { format: ResultsFormat; progress: boolean }) => {
    const quiet = process.env.LOG_LEVEL ? {} : { logLevel: 'warn' };
    await withRuntime(async (rt) => {
      const stop = new AbortController();
      const off = onSignals(() => stop.abort(), rt.log);
      try {
        const r = await runCampaign(rt, file, { progress: o.progress && Boolean(process.stdout.isTTY), format: o.format, signal: stop.signal });
        print(formatSummary(r), false);
        if (r.interrupted) process.exitCode = 130;
      } finally {
        off();
      }
    }, quiet);
    // Results written, summary printed, Redis closed: nothing should hold the process now. Whatever does (a bug) is named, and the run exits anyway.
    setTimeout(() => {
      process.stderr.write(`warning: "dialer run" was over but the process still ran 5 s later (open: ${process.getActiveResourcesInfo().join(', ')}); exiting\n`);
      process.exit();
    }, 5000).unref();
  });

program
  .command('load <campaign-file>')
  .description('validate and load a campaign into Redis; workers dial it')
  .option('--json', 'print the load summary as JSON')
  .option('--append <csv>', 'add this list after the rows of the loaded campaign (rows already in add nothing)')
  .action(async (file: string, o: { json?: boolean; append?: string }) => {
    const c = await loadCampaignFile(file);
    await withRuntime(async (rt) => {
      await ensureSmsActions(rt, c);
      if (o.append) {
        const more = { ...c, contactsPath: path.resolve(o.append) };
        const sum = await new Dialer(rt).load(more, await openContacts(more.contactsPath), { append: true });
        print(o.json ? sum : `appended to ${c.name} (upload ${sum.upload}): ${sum.rows} rows, ${sum.added} added, ${sum.already} already in the campaign, ${sum.accepted} to dial, ${sum.rejected} rejected, ${sum.duplicates} duplicates`, Boolean(o.json));
        return;
      }
      const sum = await new Dialer(rt).load(c);
      print(o.json ? sum : `loaded ${c.name}: ${sum.rows} rows, ${sum.accepted} to dial, ${sum.rejected} rejected, ${sum.duplicates} duplicates`, Boolean(o.json));
    });
  });

program
  .command('worker')
  .description('long-running dial worker for every campaign on this Redis (SIGTERM drains, a second signal forces)')
  .option('--campaign <name...>', 'only these campaigns')
  .action(async (o: { campaign?: string[] }) => {
    requireCalleaseSettings(env, 'worker');
    await withRuntime(async (rt) => {
      await checkRedisDurability(rt);
      const dialer = new Dialer(rt);
      const svc = dialer.startWorkers({ campaigns: o.campaign });
      rt.log.info({ worker: svc.id }, 'worker started');
      await untilSignal(rt, (force) => dialer.close(force));
    }, {}, LONG_RUNNING_REDIS_WAIT_MS);
  });

program
  .command('poller')
  .description('long-running poller: follows placed calls to their outcome and reconciles ambiguous dials')
  .option('--concurrency <n>', 'most GET /calls in flight', (v) => Number(v), 20)
  .action(async (o: { concurrency: number }) => {
    requireCalleaseSettings(env, 'poller');
    await withRuntime(async (rt) => {
      const dialer = new Dialer(rt);
      dialer.startPoller({ concurrency: o.concurrency });
      rt.log.info('poller started');
      await untilSignal(rt, (force) => dialer.close(force));
    }, {}, LONG_RUNNING_REDIS_WAIT_MS);
  });

program
  .command('status [campaign]')
  .description('progress of a campaign (or the list of campaigns)')
  .option('--json', 'machine-readable output')
  .option('--watch', 'refresh every 2 s')
  .action(async (id: string | undefined, o: { json?: boolean; watch?: boolean }) => {
    await withRuntime(async (rt) => {
      do {
        if (!id) {
          const ids = await rt.store.listCampaigns();
          const all = await Promise.all(ids.map((c) => campaignStatus(rt.store, rt.queues, c)));
          print(o.json ? all : all.map(formatStatusLine).join('\n') || 'no campaigns', Boolean(o.json));
        } else {
          const s = await campaignStatus(rt.store, rt.queues, id);
          print(o.json ? s : formatStatus(s), Boolean(o.json));
        }
        if (o.watch) await new Promise((r) => setTimeout(r, 2000));
      } while (o.watch);
    });
  });

program
  .command('export <campaign>')
  .description('write the results file of a campaign (one row per input row)')
  .addOption(formatOption())
  .option('--out <path>', 'output path (default: the campaign\'s results path; "-" for stdout)')
  .action(async (id: string, o: { format: ResultsFormat; out?: string }) => {
    await withRuntime(async (rt) => {
      const info = await rt.store.getCampaign(id);
      if (!info) throw new DialerError('CAMPAIGN_NOT_FOUND', `no campaign named "${id}"`);
      const def = o.format === 'jsonl' ? info.campaign.resultsPath.replace(/\.csv$/, '') + '.jsonl' : info.campaign.resultsPath;
      if (o.out === '-') {
        const tmp = `${def}.stdout-${process.pid}`;
        await writeResults(rt.store, id, tmp, o.format);
        process.stdout.write(await readFile(tmp));
        await writeFile(tmp, '').then(() => import('node:fs/promises')).then((fs) => fs.rm(tmp));
        return;
      }
      const r = await writeResults(rt.store, id, o.out ?? def, o.format);
      print(`wrote ${r.rows} rows to ${r.file}`, false);
    });
  });

program
  .command('simulate')
  .description('run the Callease API simulator')
  .option('--port <n>', 'port (0 = any free port)', (v) => Number(v), 4010)
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--seed <n>', 'seed of outcomes and faults', (v) => Number(v), 1)
  .option('--api-key <key>', 'the key clients must send', 'sim-key')
  .option('--assistants <ids>', 'comma-separated known assistant ids (default: any)')
  .option('--duration-ms <min-max>', 'call creation → final status', '2000-8000')
  .option('--outcomes <weights>', 'e.g. completed=60,no-answer=20,busy=8,voicemail=8,failed=4')
  .option('--rate-limit <n>', 'most POST /calls in any 1 s, else 429', (v) => Number(v))
  .option('--error-rate <f>', 'fraction of 5xx answers', (v) => Number(v))
  .option('--latency-ms <ms|min-max>', 'added latency')
  .option('--hang-rate <f>', 'fraction of requests never answered', (v) => Number(v))
  .option('--drop-rate <f>', 'fraction of calls created and then the connection dropped', (v) => Number(v))
  .option('--error-after-create-rate <f>', 'fraction of calls created and then answered 5xx', (v) => Number(v))
  .option('--reject-rate <f>', 'fraction of POST /calls answered 422', (v) => Number(v))
  .option('--lookup-fail-rate <f>', 'fraction of calls whose every GET answers 503', (v) => Number(v))
  .option('--lookup-latency-ms <ms|min-max>', 'added latency of GET /calls only')
  .option('--log <path>', 'JSONL request log')
  .action(async (o: Record<string, string | number | undefined>) => {
    const lat = o.latencyMs as string | undefined;
    const slow = o.lookupLatencyMs as string | undefined;
    const sim = await startSimulator({
      host: o.host as string,
      port: o.port as number,
      seed: o.seed as number,
      apiKey: o.apiKey as string,
      assistants: o.assistants ? String(o.assistants).split(',').map((s) => s.trim()).filter(Boolean) : undefined,
      callDurationMs: parseRange(String(o.durationMs)),
      outcomes: o.outcomes ? parseOutcomeWeights(String(o.outcomes)) : undefined,
      rateLimitPerSecond: o.rateLimit as number | undefined,
      faults: {
        error5xxRate: o.errorRate as number | undefined,
        hangRate: o.hangRate as number | undefined,
        dropAfterCreateRate: o.dropRate as number | undefined,
        error5xxAfterCreateRate: o.errorAfterCreateRate as number | undefined,
        latencyMs: lat === undefined ? undefined : lat.includes('-') ? parseRange(lat) : Number(lat),
        rejectRate: o.rejectRate as number | undefined,
        lookupFailRate: o.lookupFailRate as number | undefined,
        lookupLatencyMs: slow === undefined ? undefined : parseRange(slow),
      },
      logPath: o.log as string | undefined,
    });
    process.stdout.write(formatSimulatorBanner(sim) + '\n');
    await new Promise<void>((resolve) => {
      const stop = () => void sim.close().then(resolve);
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
  });

program
  .command('demo')
  .description('run the example campaign against the built-in simulator (and a private Redis if none answers)')
  .action(async () => {
    await runDemo(env);
  });

program
  .command('call')
  .description('place one call')
  .requiredOption('--assistant <id>', 'assistant id')
  .requiredOption('--phone <e164>', 'number in E.164')
  .option('--name <name>', 'contact name', '')
  .option('--var <key=value...>', 'custom variables')
  .option('--json', 'print the API response as JSON')
  .action(async (o: { assistant: string; phone: string; name: string; var?: string[]; json?: boolean }) => {
    await withRuntime(async (rt) => {
      const customVariables = (o.var ?? []).map((kv) => {
        const i = kv.indexOf('=');
        if (i < 1) throw new DialerError('USAGE', `--var must be key=value, got "${kv}"`);
        return { key: kv.slice(0, i), value: kv.slice(i + 1) };
      });
      const r = await rt.api().createCall({ assistant_id: o.assistant, name: o.name, phoneNumber: o.phone, customVariables });
      print(o.json ? r.body : `call placed: ${r.id ?? '(the API returned no id)'}`, Boolean(o.json));
    });
  });

for (const verb of ['pause', 'resume', 'cancel'] as const) {
  program
    .command(`${verb} <campaign>`)
    .description({ pause: 'stop new dials of a campaign on every worker (calls in flight finish)', resume: 'continue a paused campaign', cancel: 'remove the contacts not yet dialed; they end as canceled' }[verb])
    .option('--json', 'JSON output')
    .action(async (id: string, o: { json?: boolean }) => {
      await withRuntime(async (rt) => {
        if (verb === 'cancel') {
          const r = await new Dialer(rt).cancel(id);
          // A done campaign has nothing left to cancel: it stays done (and open to appends).
          const text = r.state === 'done' && r.canceled === 0
            ? `${id} is done: every contact has its outcome, nothing was canceled`
            : `canceled ${id}: ${r.canceled} contacts not dialed${r.in_flight ? `; ${r.in_flight} calls already placed go on to their outcome (state ${r.state})` : ''}`;
          print(o.json ? { campaign: id, ...r } : text, Boolean(o.json));
        } else {
          const state = verb === 'pause' ? await pauseCampaign(rt, id) : await resumeCampaign(rt, id);
          print(o.json ? { campaign: id, state } : `${id} is ${state}`, Boolean(o.json));
        }
      });
    });
}

actionsCommand(program, (fn) => withRuntime((rt) => fn(rt.api())));
privacyCommands(program, withRuntime);
safetyCommands(program, withRuntime);
dlqCommand(program, withRuntime);
reportCommand(program, withRuntime);
checkCommand(program, withRuntime);
eventsCommand(program, withRuntime);
scheduleCommand(program, withRuntime);
setCommand(program, withRuntime);
archiveCommand(program, withRuntime);
serveCommand(program, env);

/** Runs until SIGTERM/SIGINT: the first drains, a second forces. */
async function untilSignal(rt: Runtime, close: (force: boolean) => Promise<void>): Promise<void> {
  await new Promise<void>((resolve) => {
    let closing: Promise<void> | undefined;
    const off = onSignals((count) => {
      if (count === 1) closing = close(false).finally(resolve);
      else void close(true).finally(resolve);
    }, rt.log);
    void closing;
    process.once('beforeExit', off);
  });
}

function formatStatusLine(s: Awaited<ReturnType<typeof campaignStatus>>): string {
  return `${s.campaign.padEnd(24)} ${s.state.padEnd(9)} ${String(s.finished).padStart(7)}/${s.total} final`;
}

function formatStatus(s: Awaited<ReturnType<typeof campaignStatus>>): string {
  const outcomes = Object.entries(s.outcomes).filter(([, n]) => n > 0).map(([o, n]) => `${o}: ${n}`).join(', ');
  const eta = s.eta_seconds === null ? 'unknown' : `${s.eta_seconds}s`;
  return [
    `campaign ${s.campaign} (${s.state})`,
    `  rows ${s.total}: ${s.finished} final, ${s.pending} pending (${s.in_flight} in flight, ${s.queued} queued, ${s.waiting_for_time} waiting for a time)`,
    `  outcomes: ${outcomes || 'none yet'}`,
    `  dial rate: ${s.dials_last_minute}/min, ETA ${eta}; dead letters: ${s.dead_letters}`,
    `  live calls: ${s.live_calls}${s.max_live_calls ? ` of at most ${s.max_live_calls}` : ''}`,
    `  results: ${s.results}`,
    ...(s.load_interrupted ? ['  the load of this list broke off: run "dialer load" again (it starts afresh; nothing was dialed) or "dialer cancel"'] : []),
    ...(s.state === 'canceling' ? [`  canceling: ${s.in_flight} calls already placed go on to their outcome`] : []),
  ].join('\n');
}

program.parseAsync(process.argv).catch((e: unknown) => {
  const err = coerceError(e);
  process.stderr.write(`error: ${err instanceof DialerError ? err.message : describeError(err)}\n`);
  if (env.debug) process.stderr.write(`${err.stack}\n`);
  // Exit now: a half-open Redis connection would otherwise hold the process for its retry timer.
  process.exit(err instanceof DialerError && err.code === 'USAGE' ? 2 : 1);
});
