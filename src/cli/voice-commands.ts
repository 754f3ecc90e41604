import { GatewayError } from '../core/errors.js';
import type { ServiceAccount } from '../core/push/push-credentials.js';
import type { OneOffCommand } from './commands.js';
import { credentialOwner, readFlagFile } from './push-commands.js';

/** `gatehouse voice google credentials set|list`: the service account Gatehouse reports state to Home Graph with. */
export const VOICE_COMMANDS: Record<string, OneOffCommand> = {
  'voice google': {
    usage: 'gatehouse voice google credentials set (--tenant SLUG | --platform) --service-account sa.json | credentials list (--tenant SLUG | --platform) [--json]',
    options: { tenant: { type: 'string' }, platform: { type: 'boolean' }, 'service-account': { type: 'string' } },
    async run(core, flags, args) {
      const { owner, whose } = await credentialOwner(core, flags);
      if (args[0] === 'credentials' && args[1] === 'list') {
        const credentials = await core.voiceCredentials.list(owner);
        return { json: { credentials }, text: credentials.map((c) => `${c.provider} ${c.fingerprint} ${JSON.stringify(c.settings)}`).join('\n') || `No Home Graph service account for ${whose}.` };
      }
      if (args[0] !== 'credentials' || args[1] !== 'set') throw new GatewayError('VALIDATION_FAILED', 'gatehouse voice google credentials set … or credentials list …');
      if (typeof flags['service-account'] !== 'string') throw new GatewayError('VALIDATION_FAILED', '--service-account is required: the JSON key file of the Home Graph service account.');
      let account: ServiceAccount;
      try {
        account = JSON.parse(await readFlagFile(flags, 'service-account')) as ServiceAccount;
      } catch (error) {
        if (error instanceof GatewayError) throw error;
        throw new GatewayError('VALIDATION_FAILED', '--service-account: not a JSON file.');
      }
      const saved = await core.voiceCredentials.set(owner, account);
      return { json: { id: saved.id, provider: saved.provider, fingerprint: saved.fingerprint, settings: saved.settings }, text: `Stored the Home Graph service account of ${whose} (fingerprint ${saved.fingerprint}); the key is sealed and shown nowhere.` };
    },
  },
};
