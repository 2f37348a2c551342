/**
 * The project's docker-compose.yml driven from a test: `DIALER_COMPOSE` names
 * the compose command (default: ../shared/tools/containers/compose beside the
 * checkout when it exists, else `docker compose`), `DIALER_DOCKER` the docker
 * CLI (default `docker`). Nothing here knows how the containers are networked:
 * the API is reached on 127.0.0.1:$DIALER_HTTP_PORT, where compose publishes it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './dialer.js';

export const SHARED_COMPOSE = path.resolve(REPO_ROOT, '../shared/tools/containers/compose');

export function composeCommand(env: NodeJS.ProcessEnv = process.env): string[] {
  const given = env.DIALER_COMPOSE?.trim();
  if (given) return given.split(/\s+/);
  return existsSync(SHARED_COMPOSE) ? [SHARED_COMPOSE] : ['docker', 'compose'];
}

export function dockerCommand(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.DIALER_DOCKER?.trim() || 'docker').split(/\s+/);
}

export interface Run {
  stdout: string;
  stderr: string;
}

/** Runs a command in the repository root; rejects with its output when it fails. */
export function run(cmd: string[], timeoutMs = 10 * 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(cmd[0]!, cmd.slice(1), { cwd: REPO_ROOT, timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd.join(' ')} failed: ${err.message}\n${stderr.slice(-4000)}\n${stdout.slice(-2000)}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** One compose project of the demo: `--env-file demo.env --profile demo`. */
export class ComposeProject {
  readonly compose = composeCommand();
  readonly docker = dockerCommand();
  constructor(readonly project: string, private readonly envFile = path.join(REPO_ROOT, 'demo.env')) {}

  args(...rest: string[]): string[] {
    return [...this.compose, '-p', this.project, '--env-file', this.envFile, '--profile', 'demo', ...rest];
  }

  run(rest: string[], timeoutMs?: number): Promise<Run> {
    return run(this.args(...rest), timeoutMs);
  }

  /** Ids of the service's running containers. */
  async running(service: string): Promise<string[]> {
    const ids = (await this.run(['ps', '-q', service])).stdout.split('\n').map((s) => s.trim()).filter(Boolean);
    if (ids.length === 0) return [];
    const states = (await run([...this.docker, 'inspect', '-f', '{{.Id}} {{.State.Running}}', ...ids])).stdout.trim().split('\n');
    return states.filter((l) => l.endsWith(' true')).map((l) => l.split(' ')[0]!);
  }

  async kill9(containerId: string): Promise<void> {
    await run([...this.docker, 'kill', '--signal', 'KILL', containerId]);
  }

  /** The service's log lines, without compose's "name | " prefix. */
  async logs(service: string): Promise<string[]> {
    const out = await this.run(['logs', '--no-color', service]);
    return (out.stdout + out.stderr).split('\n').map((l) => l.replace(/^[^|]*\|\s?/, '')).filter((l) => l.trim() !== '');
  }

  /** Everything down, volumes included; never throws (teardown after a failure too). */
  async down(): Promise<void> {
    await this.run(['down', '-v', '--remove-orphans', '--timeout', '20'], 5 * 60_000).catch((e: Error) => {
      process.stderr.write(`compose down failed: ${e.message}\n`);
    });
  }
}

/** Log lines that are neither JSON nor one of the known one-line banners: raw stack traces and the like. */
export function rawLines(lines: string[]): string[] {
  return lines.filter((l) => {
    const t = l.trim();
    if (t.startsWith('{')) {
      try {
        JSON.parse(t);
        return false;
      } catch {
        return true;
      }
    }
    return !/^(dialer API on |waiting for Redis: |simulator |Attaching to )/.test(t);
  });
}
