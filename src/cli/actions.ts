import type { Command } from 'commander';
import type { CalleaseClient } from '../api/client.js';
import { DialerError } from '../errors.js';

type WithApi = <T>(fn: (api: CalleaseClient) => Promise<T>) => Promise<T>;

const out = (v: unknown, json?: boolean) =>
  process.stdout.write((json ? JSON.stringify(v, null, 2) : typeof v === 'string' ? v : JSON.stringify(v, null, 2)) + '\n');

/** `dialer actions ...`: the seven /actions endpoints, for hand use. */
export function actionsCommand(program: Command, withApi: WithApi): void {
  const actions = program.command('actions').description('SMS actions of the Callease API (list|get|create|update|delete|attach|detach)');
  actions
    .command('list')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) =>
      withApi(async (api) => {
        const list = await api.listActions();
        out(o.json ? list.map((a) => a.raw) : list.map((a) => `${a.id}\t${a.content}\t(${a.instructions})`).join('\n') || 'no actions', o.json);
      }));
  actions
    .command('get <id>')
    .option('--json', 'JSON output')
    .action((id: string, o: { json?: boolean }) =>
      withApi(async (api) => {
        const a = await api.getAction(id);
        if (!a) throw new DialerError('API_NOT_FOUND', `no action ${id}`);
        out(o.json ? a.raw : `${a.id}\n  content: ${a.content}\n  instructions: ${a.instructions}`, o.json);
      }));
  actions
    .command('create')
    .requiredOption('--content <text>', 'SMS text')
    .requiredOption('--instructions <text>', 'when the assistant sends it')
    .option('--json', 'JSON output')
    .action((o: { content: string; instructions: string; json?: boolean }) =>
      withApi(async (api) => {
        const a = await api.createAction({ content: o.content, instructions: o.instructions });
        out(o.json ? a.raw : `created ${a.id}`, o.json);
      }));
  actions
    .command('update <id>')
    .requiredOption('--content <text>', 'SMS text')
    .requiredOption('--instructions <text>', 'when the assistant sends it')
    .option('--json', 'JSON output')
    .action((id: string, o: { content: string; instructions: string; json?: boolean }) =>
      withApi(async (api) => {
        const a = await api.updateAction(id, { content: o.content, instructions: o.instructions });
        out(o.json ? a.raw : `updated ${a.id}`, o.json);
      }));
  actions
    .command('delete <id>')
    .option('--json', 'JSON output')
    .action((id: string, o: { json?: boolean }) =>
      withApi(async (api) => {
        await api.deleteAction(id);
        out(o.json ? { id, deleted: true } : `deleted ${id}`, o.json);
      }));
  for (const verb of ['attach', 'detach'] as const) {
    actions
      .command(`${verb} <assistant-id> <action-ids...>`)
      .option('--json', 'JSON output')
      .action((assistantId: string, ids: string[], o: { json?: boolean }) =>
        withApi(async (api) => {
          const r = verb === 'attach' ? await api.attachActions(assistantId, ids) : await api.detachActions(assistantId, ids);
          out(o.json ? r : `${verb}ed ${ids.join(', ')} ${verb === 'attach' ? 'to' : 'from'} ${assistantId}`, o.json);
        }));
  }
}
