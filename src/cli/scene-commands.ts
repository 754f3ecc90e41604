import { readFile } from 'node:fs/promises';
import { operatorContext } from '../auth/operator.js';
import { GatewayError } from '../core/errors.js';
import type { OneOffCommand } from './commands.js';

function tenantOf(flags: Record<string, unknown>): string {
  if (typeof flags.tenant !== 'string' || flags.tenant === '') throw new GatewayError('VALIDATION_FAILED', '--tenant is required.');
  return flags.tenant;
}

function idOf(args: string[], usage: string): string {
  if (!args[0]) throw new GatewayError('VALIDATION_FAILED', `The id is required: ${usage}.`);
  return args[0];
}

/** `DEVICE:COMMAND` or `DEVICE:COMMAND:{"json":"params"}`. */
export function parseSceneCommand(text: string): { device: string; command: string; params?: Record<string, unknown> } {
  const first = text.indexOf(':');
  const second = text.indexOf(':', first + 1);
  if (first <= 0) throw new GatewayError('VALIDATION_FAILED', `--command ${text}: expected DEVICE:COMMAND[:JSON].`);
  const device = text.slice(0, first);
  const command = second === -1 ? text.slice(first + 1) : text.slice(first + 1, second);
  if (second === -1) return { device, command };
  try {
    return { device, command, params: JSON.parse(text.slice(second + 1)) as Record<string, unknown> };
  } catch {
    throw new GatewayError('VALIDATION_FAILED', `--command ${text}: the params after the second colon must be JSON.`);
  }
}

/**
 * Scenes and automations from the operator console. They act as the tenant's
 * owner (operatorContext: channel web, audited as service:operator), so every
 * scene command passes the same gate as from the API (`--confirm` for sensitive ones).
 */
export const SCENE_COMMANDS: Record<string, OneOffCommand> = {
  'scene list': {
    usage: 'gatehouse scene list --tenant SLUG [--json]',
    options: { tenant: { type: 'string' } },
    async run(core, flags) {
      const scenes = await core.scenes.list(await operatorContext(core.db, tenantOf(flags)));
      return { json: { scenes }, text: scenes.map((s) => `${s.id} ${s.name}${s.voice ? ' (voice)' : ''}: ${s.commands.map((c) => `${c.device}:${c.command}`).join(', ')}`).join('\n') || 'No scenes.' };
    },
  },
  'scene create': {
    usage: 'gatehouse scene create --tenant SLUG --name NAME --command DEVICE:COMMAND[:JSON]… [--voice] [--json]',
    options: { tenant: { type: 'string' }, name: { type: 'string' }, command: { type: 'string', multiple: true }, voice: { type: 'boolean' } },
    async run(core, flags) {
      const commands = (Array.isArray(flags.command) ? flags.command : []).map(parseSceneCommand);
      const scene = await core.scenes.create(await operatorContext(core.db, tenantOf(flags)), { name: flags.name, voice: flags.voice === true, commands });
      return { json: { id: scene.id, name: scene.name }, text: `Created scene ${scene.name} (${scene.id}).` };
    },
  },
  'scene activate': {
    usage: 'gatehouse scene activate <id> --tenant SLUG [--confirm] [--json]',
    options: { tenant: { type: 'string' }, confirm: { type: 'boolean' } },
    async run(core, flags, args) {
      const activation = await core.scenes.activate(await operatorContext(core.db, tenantOf(flags)), idOf(args, this.usage), { confirm: flags.confirm === true });
      return {
        json: activation,
        text: activation.results.map((r) => `${r.device} ${r.command}: ${r.outcome === 'issued' ? `${r.status} (${r.commandId})` : `${r.error.code} ${r.error.message}`}`).join('\n'),
      };
    },
  },
  'scene delete': {
    usage: 'gatehouse scene delete <id> --tenant SLUG [--json]',
    options: { tenant: { type: 'string' } },
    async run(core, flags, args) {
      const id = idOf(args, this.usage);
      await core.scenes.remove(await operatorContext(core.db, tenantOf(flags)), id);
      return { json: { id, deleted: true }, text: `Deleted scene ${id}.` };
    },
  },
  'automation create': {
    usage: 'gatehouse automation create --tenant SLUG --file AUTOMATION.json [--json]',
    options: { tenant: { type: 'string' }, file: { type: 'string' } },
    async run(core, flags) {
      const file = String(flags.file ?? '');
      const text = await readFile(file, 'utf8').catch(() => {
        throw new GatewayError('VALIDATION_FAILED', `--file: cannot read ${file}.`);
      });
      let document: unknown;
      try {
        document = JSON.parse(text);
      } catch {
        throw new GatewayError('VALIDATION_FAILED', `--file: ${file} is not JSON.`);
      }
      const automation = await core.automations.create(await operatorContext(core.db, tenantOf(flags)), document);
      return { json: { id: automation.id, name: automation.name }, text: `Created automation ${automation.name} (${automation.id}).` };
    },
  },
  'automation list': {
    usage: 'gatehouse automation list --tenant SLUG [--json]',
    options: { tenant: { type: 'string' } },
    async run(core, flags) {
      const automations = await core.automations.list(await operatorContext(core.db, tenantOf(flags)));
      return { json: { automations }, text: automations.map((a) => `${a.id} ${a.name} [${a.trigger.kind}]${a.enabled ? '' : ` disabled${a.disabledReason ? ` (${a.disabledReason})` : ''}`}`).join('\n') || 'No automations.' };
    },
  },
  'automation runs': {
    usage: 'gatehouse automation runs <id> --tenant SLUG [--json]',
    options: { tenant: { type: 'string' } },
    async run(core, flags, args) {
      const page = await core.automations.runs(await operatorContext(core.db, tenantOf(flags)), idOf(args, this.usage));
      return { json: page, text: page.items.map((r) => `${r.triggeredAt.toISOString()} ${r.status}${r.late ? ' late' : ''} ${String(r.trigger.kind)}`).join('\n') || 'No runs.' };
    },
  },
};
