import { ROLES, type Role } from '../auth/context.js';
import { platformRedirectUris, type VoicePlatform } from '../auth/oauth/clients.js';
import { CERTS_DIR } from '../paths.js';
import { operatorContext } from '../auth/operator.js';
import { DEVICE_TYPES } from '../core/capabilities/catalogue.js';
import { readFile } from 'node:fs/promises';
import { parseCapability, parseDevicesFile } from './device-file.js';
import { GatewayError } from '../core/errors.js';
import { VOICE_PLATFORMS, type VoicePolicyChange } from '../core/voice-policy.js';
import { createTenant } from '../core/tenants.js';
import type { Core } from '../core/create-core.js';
import { PUSH_COMMANDS } from './push-commands.js';
import { VOICE_COMMANDS } from './voice-commands.js';
import { SCENE_COMMANDS } from './scene-commands.js';

export type Flags = Record<string, string | string[] | boolean | undefined>;
export type CommandResult = { json: Record<string, unknown>; text: string };
export type OneOffCommand = {
  usage: string;
  options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;
  /** False for commands that touch no data (certificates): they run without starting or finding Postgres. */
  needsDatabase?: false;
  run(core: Core, flags: Flags, args: string[]): Promise<CommandResult>;
};

function required(flags: Flags, name: string): string {
  const value = flags[name];
  if (typeof value !== 'string' || value === '') throw new GatewayError('VALIDATION_FAILED', `--${name} is required.`);
  return value;
}

function list(flags: Flags, name: string): string[] {
  const value = flags[name];
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
}

/** `--enable lock:pin:voice-code`: the capability, then what it asks for on voice. */
function enableSpec(spec: string): VoicePolicyChange {
  const [capability = '', ...marks] = spec.split(':');
  const unknown = marks.filter((mark) => !['pin', 'ack', 'voice-code'].includes(mark));
  if (unknown.length > 0) throw new GatewayError('VALIDATION_FAILED', `--enable ${spec}: unknown ${unknown.join(', ')}; use :pin, :ack or :voice-code.`);
  return { capability, enabled: true, requiresPin: marks.includes('pin'), requiresAck: marks.includes('ack'), platformVoiceCode: marks.includes('voice-code') };
}

export { parseCapability } from './device-file.js';

/** The one-off subcommands (everything but `start`), by their two-word names. */
export const COMMANDS: Record<string, OneOffCommand> = {
  'tenant create': {
    usage: 'gatehouse tenant create <slug> [--name NAME] [--json]',
    options: { name: { type: 'string' } },
    async run(core, flags, args) {
      const slug = args[0];
      if (!slug) throw new GatewayError('VALIDATION_FAILED', 'The tenant slug is required: gatehouse tenant create <slug>.');
      const tenant = await createTenant(core.db, { slug, name: flags.name as string | undefined });
      return { json: { id: tenant.id, slug: tenant.slug }, text: `Created tenant ${tenant.slug} (${tenant.id}).` };
    },
  },
  'user create': {
    usage: 'gatehouse user create --tenant SLUG --email E --password P --role owner|admin|member|viewer [--json]',
    options: { tenant: { type: 'string' }, email: { type: 'string' }, password: { type: 'string' }, role: { type: 'string' } },
    async run(core, flags) {
      const role = required(flags, 'role');
      if (!ROLES.includes(role as Role)) throw new GatewayError('VALIDATION_FAILED', `--role must be one of ${ROLES.join(', ')}.`);
      const ctx = await operatorContext(core.db, required(flags, 'tenant'));
      const member = await core.auth.members.add(ctx, { email: required(flags, 'email'), password: required(flags, 'password'), role: role as Role });
      const note = member.existingUser ? ' (an existing user; their password is unchanged)' : '';
      return { json: { id: member.id, email: member.email }, text: `Added ${member.email} as ${member.role}${note}. User id ${member.id}.` };
    },
  },
  'user pin': {
    usage: 'gatehouse user pin set|reset --tenant SLUG (--user ID | --email E) [--pin DIGITS] [--json]',
    options: { tenant: { type: 'string' }, user: { type: 'string' }, email: { type: 'string' }, pin: { type: 'string' } },
    async run(core, flags, args) {
      const action = args[0];
      const ctx = await operatorContext(core.db, required(flags, 'tenant'));
      const member = { userId: flags.user as string | undefined, email: flags.email as string | undefined };
      if (!member.userId && !member.email) throw new GatewayError('VALIDATION_FAILED', '--user or --email is required.');
      if (action === 'set') {
        const userId = await core.voicePins.setFor(ctx, member, required(flags, 'pin'));
        return { json: { userId, pin: 'set' }, text: `Voice PIN set for ${userId}.` };
      }
      if (action === 'reset') {
        const userId = member.userId ?? required(flags, 'user');
        await core.voicePins.reset(ctx, userId);
        return { json: { userId, pin: 'reset' }, text: `Voice PIN of ${userId} removed; they set a new one with their password.` };
      }
      throw new GatewayError('VALIDATION_FAILED', 'Use gatehouse user pin set or gatehouse user pin reset.');
    },
  },
  'voice policy': {
    usage: 'gatehouse voice policy --tenant SLUG [--platform alexa|google] [--enable CAPABILITY[:pin][:ack][:voice-code]]... [--disable CAPABILITY]... [--json]',
    options: { tenant: { type: 'string' }, platform: { type: 'string' }, enable: { type: 'string', multiple: true }, disable: { type: 'string', multiple: true } },
    async run(core, flags) {
      const ctx = await operatorContext(core.db, required(flags, 'tenant'));
      const platform = flags.platform as string | undefined;
      if (platform !== undefined && !VOICE_PLATFORMS.includes(platform as VoicePlatform)) throw new GatewayError('VALIDATION_FAILED', '--platform must be alexa or google.');
      const changes: VoicePolicyChange[] = [
        ...list(flags, 'enable').map(enableSpec),
        ...list(flags, 'disable').map((capability) => ({ capability, enabled: false, requiresPin: false })),
      ];
      if (changes.length > 0 && platform === undefined) throw new GatewayError('VALIDATION_FAILED', '--platform is required to change the policy.');
      const entries = changes.length > 0 ? await core.voicePolicy.update(ctx, platform as VoicePlatform, changes) : await core.voicePolicy.list(ctx, platform as VoicePlatform | undefined);
      const text = entries.map((e) => `${e.platform.padEnd(7)} ${e.capability.padEnd(18)} ${e.risk.padEnd(10)} ${e.enabled ? 'on ' : 'off'} ${e.requiresPin ? 'PIN' : '   '} ${e.requiresAck ? 'ack' : '   '} ${e.platformVoiceCode ? 'voice-code' : '          '} ${e.source}`).join('\n');
      return { json: { entries }, text };
    },
  },
  'tenant retention': {
    usage: 'gatehouse tenant retention --tenant SLUG [--days N] [--json]',
    options: { tenant: { type: 'string' }, days: { type: 'string' } },
    async run(core, flags) {
      const ctx = await operatorContext(core.db, required(flags, 'tenant'));
      const days = flags.days as string | undefined;
      const retention = days === undefined ? await core.retention.get(ctx) : await core.retention.set(ctx, Number(days));
      return { json: retention, text: `Telemetry and device events are kept ${retention.telemetryRetentionDays} days (platform ceiling ${retention.maxDays}).` };
    },
  },
  'tenant approvals': {
    usage: 'gatehouse tenant approvals --tenant SLUG [--second-person on|off] [--json]',
    options: { tenant: { type: 'string' }, 'second-person': { type: 'string' } },
    async run(core, flags) {
      const ctx = await operatorContext(core.db, required(flags, 'tenant'));
      const value = flags['second-person'];
      if (value !== undefined) {
        if (value !== 'on' && value !== 'off') throw new GatewayError('VALIDATION_FAILED', '--second-person must be on or off.');
        await core.approvals.requireSecondPerson(ctx, value === 'on');
      }
      const secondPerson = await core.approvals.secondPersonRequired(ctx);
      return { json: { secondPerson }, text: secondPerson ? 'A second person must approve what a member asked for.' : 'The requester may approve their own command (from another channel).' };
    },
  },
  'device create': {
    usage: `gatehouse device create --tenant SLUG --name NAME [--type ${DEVICE_TYPES.join('|')}] [--capability NAME[:pin][:approval]]... `
      + '[--display-name TEXT] [--room TEXT] [--nickname TEXT]... [--certificate-cn CN] [--json]',
    options: {
      tenant: { type: 'string' }, name: { type: 'string' }, type: { type: 'string' }, capability: { type: 'string', multiple: true },
      'display-name': { type: 'string' }, room: { type: 'string' }, nickname: { type: 'string', multiple: true }, 'certificate-cn': { type: 'string' },
    },
    async run(core, flags) {
      const ctx = await operatorContext(core.db, required(flags, 'tenant'));
      const device = await core.devices.register(ctx, {
        name: required(flags, 'name'),
        type: flags.type as string | undefined,
        capabilities: list(flags, 'capability').map(parseCapability),
        displayName: flags['display-name'] as string | undefined,
        room: flags.room as string | undefined,
        nicknames: flags.nickname === undefined ? undefined : list(flags, 'nickname'),
        certificateCn: flags['certificate-cn'] as string | undefined,
      });
      return {
        json: { id: device.id, name: device.name, username: device.username, password: device.password },
        text: `Created device ${device.name} (${device.id}).\n  MQTT username: ${device.username}\n  MQTT password: ${device.password}\nThe password is shown only this once.`,
      };
    },
  },
  'device import': {
    usage: 'gatehouse device import --tenant SLUG --file devices.csv|devices.json [--json]',
    options: { tenant: { type: 'string' }, file: { type: 'string' } },
    async run(core, flags) {
      const ctx = await operatorContext(core.db, required(flags, 'tenant'));
      const file = required(flags, 'file');
      const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw new GatewayError('VALIDATION_FAILED', `Cannot read ${file}: ${error.code ?? error.message}.`);
      });
      // The same core service as POST /v1/devices/batch: all or none, checked together first.
      const devices = await core.devices.registerBatch(ctx, parseDevicesFile(file, text));
      return {
        json: { devices: devices.map(({ id, name, username, password }) => ({ id, name, username, password })) },
        text: `Created ${devices.length} devices. Their MQTT passwords are shown only this once:\nname,username,password\n${devices.map((d) => `${d.name},${d.username},${d.password}`).join('\n')}`,
      };
    },
  },
  'app create': {
    usage: 'gatehouse app create --tenant SLUG --name NAME [--publish F]... [--subscribe F]... [--deny-publish F]... [--deny-subscribe F]... [--json]',
    options: {
      tenant: { type: 'string' }, name: { type: 'string' },
      publish: { type: 'string', multiple: true }, subscribe: { type: 'string', multiple: true },
      'deny-publish': { type: 'string', multiple: true }, 'deny-subscribe': { type: 'string', multiple: true },
    },
    async run(core, flags) {
      const ctx = await operatorContext(core.db, required(flags, 'tenant'));
      const app = await core.auth.apps.create(ctx, {
        name: required(flags, 'name'),
        publish: list(flags, 'publish'), subscribe: list(flags, 'subscribe'),
        denyPublish: list(flags, 'deny-publish'), denySubscribe: list(flags, 'deny-subscribe'),
      });
      return {
        json: { id: app.id, username: app.username, password: app.password },
        text: `Created app ${app.name} (${app.id}).\n  username: ${app.username}\n  password: ${app.password}\n  publish: ${app.publish.join(' ')}  subscribe: ${app.subscribe.join(' ')}\nThe password is shown only this once.`,
      };
    },
  },
  'oauth-client create': {
    usage: 'gatehouse oauth-client create --platform alexa|google [--vendor-id ID | --project-id ID] [--redirect-uri URI]... [--name NAME] [--json]',
    options: { platform: { type: 'string' }, 'vendor-id': { type: 'string' }, 'project-id': { type: 'string' }, 'redirect-uri': { type: 'string', multiple: true }, name: { type: 'string' } },
    async run(core, flags) {
      const platform = required(flags, 'platform');
      if (platform !== 'alexa' && platform !== 'google') throw new GatewayError('VALIDATION_FAILED', '--platform must be alexa or google.');
      const platformId = (flags['vendor-id'] ?? flags['project-id']) as string | undefined;
      const redirectUris = [...(platformId ? platformRedirectUris(platform as VoicePlatform, platformId) : []), ...list(flags, 'redirect-uri')];
      const client = await core.auth.oauth.clients.create({ platform: platform as VoicePlatform, name: flags.name as string | undefined, redirectUris });
      return {
        json: { client_id: client.clientId, client_secret: client.clientSecret, platform: client.platform, redirect_uris: client.redirectUris },
        text: `Created ${client.name} OAuth client.\n  client_id: ${client.clientId}\n  client_secret: ${client.clientSecret}\n  redirect URIs:\n    ${client.redirectUris.join('\n    ')}\nThe secret is shown only this once.`,
      };
    },
  },
  'keys rotate': {
    usage: 'gatehouse keys rotate [--json]',
    options: {},
    async run(core) {
      const kid = await core.auth.keys.rotate();
      return { json: { kid }, text: `New signing key ${kid}; the previous keys keep verifying until their tokens expire.` };
    },
  },
  'admin create': {
    usage: 'gatehouse admin create --email E --password P [--json]',
    options: { email: { type: 'string' }, password: { type: 'string' } },
    async run(core, flags) {
      const admin = await core.auth.members.createPlatformAdmin(required(flags, 'email'), required(flags, 'password'));
      return { json: { id: admin.id, email: admin.email }, text: `${admin.email} is a platform administrator (manages tenants; sees no tenant data by that alone).` };
    },
  },
  'certs dev': {
    usage: 'gatehouse certs dev [--dir DIR] [--json]',
    options: { dir: { type: 'string' } },
    needsDatabase: false,
    async run(_core, flags) {
      const { writeDevCertificates } = await import('../broker/dev-certificates.js');
      const files = await writeDevCertificates((flags.dir as string | undefined) ?? CERTS_DIR);
      return { json: files, text: `Development CA and server certificate (localhost, 127.0.0.1, ::1) written:\n  ${Object.values(files).join('\n  ')}\nMQTT over TLS turns on at the next start.` };
    },
  },
  ...PUSH_COMMANDS,
  ...VOICE_COMMANDS,
  ...SCENE_COMMANDS,
};
