import { readFile } from 'node:fs/promises';
import { findTenantBySlug } from '../core/tenants.js';
import { GatewayError } from '../core/errors.js';
import type { CredentialInput } from '../core/push/push-credentials.js';
import type { Core } from '../core/create-core.js';
import type { Flags, OneOffCommand } from './commands.js';

/** Whose credential a command names: one tenant (--tenant SLUG, its id) or the platform-wide default (--platform, null). */
export async function credentialOwner(core: Core, flags: Flags): Promise<{ owner: string | null; whose: string }> {
  const slug = typeof flags.tenant === 'string' ? flags.tenant : undefined;
  if (Boolean(slug) === Boolean(flags.platform)) throw new GatewayError('VALIDATION_FAILED', 'Name one tenant (--tenant SLUG) or the platform-wide default (--platform).');
  const tenant = slug ? await findTenantBySlug(core.db, slug) : undefined;
  if (slug && !tenant) throw new GatewayError('TENANT_NOT_FOUND', `No tenant "${slug}".`);
  return { owner: tenant?.id ?? null, whose: tenant ? `tenant ${tenant.slug}` : 'the platform' };
}

/** Reads a file a flag names, as a CLI error when it cannot. */
export function readFlagFile(flags: Flags, flag: string): Promise<string> {
  return readFile(String(flags[flag]), 'utf8').catch(() => {
    throw new GatewayError('VALIDATION_FAILED', `--${flag}: cannot read ${String(flags[flag])}.`);
  });
}

/** `gatehouse push credentials set|list`: the operator's side of the push providers. */
export const PUSH_COMMANDS: Record<string, OneOffCommand> = {
  'push credentials': {
    usage: 'gatehouse push credentials set (--tenant SLUG | --platform) (--apns-key AuthKey.p8 --key-id K --team-id T --topic BUNDLE_ID | --fcm-service-account sa.json) | list (--tenant SLUG | --platform) [--json]',
    options: {
      tenant: { type: 'string' }, platform: { type: 'boolean' }, 'apns-key': { type: 'string' }, 'key-id': { type: 'string' },
      'team-id': { type: 'string' }, topic: { type: 'string' }, sandbox: { type: 'boolean' }, 'fcm-service-account': { type: 'string' },
    },
    async run(core, flags, args) {
      const { owner, whose } = await credentialOwner(core, flags);
      if (args[0] === 'list') {
        const credentials = await core.pushCredentials.list(owner);
        return { json: { credentials }, text: credentials.map((c) => `${c.provider} ${c.fingerprint} ${JSON.stringify(c.settings)}`).join('\n') || `No push credentials for ${whose}.` };
      }
      if (args[0] !== 'set') throw new GatewayError('VALIDATION_FAILED', 'gatehouse push credentials set … or list …');
      const read = (flag: string) => readFlagFile(flags, flag);
      let input: CredentialInput;
      if (typeof flags['apns-key'] === 'string') {
        // Token-based APNs keys work in both environments: each token's own environment decides (--sandbox is accepted for familiarity).
        input = { provider: 'apns', signingKey: await read('apns-key'), keyId: String(flags['key-id'] ?? ''), teamId: String(flags['team-id'] ?? ''), topic: String(flags.topic ?? '') };
      } else if (typeof flags['fcm-service-account'] === 'string') {
        let account: unknown;
        try {
          account = JSON.parse(await read('fcm-service-account'));
        } catch (error) {
          if (error instanceof GatewayError) throw error;
          throw new GatewayError('VALIDATION_FAILED', '--fcm-service-account: not a JSON file.');
        }
        input = { provider: 'fcm', serviceAccount: account as Extract<CredentialInput, { provider: 'fcm' }>['serviceAccount'] };
      } else {
        throw new GatewayError('VALIDATION_FAILED', 'Give --apns-key (with --key-id, --team-id, --topic) or --fcm-service-account.');
      }
      const saved = await core.pushCredentials.set(owner, input);
      return { json: { id: saved.id, provider: saved.provider, fingerprint: saved.fingerprint, settings: saved.settings }, text: `Stored the ${saved.provider} credential of ${whose} (fingerprint ${saved.fingerprint}); the secret is sealed and shown nowhere.` };
    },
  },
};
