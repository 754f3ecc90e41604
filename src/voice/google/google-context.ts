import type { TenantContext } from '../../auth/context.js';
import type { Core } from '../../core/create-core.js';

/**
 * The person behind a Google account-linking access token (the fulfillment's
 * bearer, the conversation's user.params.bearerToken); auth decides which
 * tokens are Google's and which refusals mean "dead" (isDeadToken).
 */
export async function googleContext(core: Core, token: string): Promise<TenantContext> {
  return (await core.auth.requests.authenticateVoice(token, 'google')).ctx;
}
