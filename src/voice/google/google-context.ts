import type { TenantContext } from '../../auth/context.js';
import type { Core } from '../../core/create-core.js';
import { GatewayError } from '../../core/errors.js';

/** Refusals that mean "this token is no good": Google answers 401 by refreshing it (and, if that fails, by asking to link again). */
export const DEAD_TOKEN = new Set(['UNAUTHENTICATED', 'TOKEN_INVALID', 'TOKEN_EXPIRED', 'TOKEN_REVOKED', 'TENANT_FORBIDDEN', 'TENANT_REQUIRED']);

/**
 * The person behind a Google account-linking access token (the fulfillment's
 * bearer, the conversation's user.params.bearerToken). A token of any other
 * channel, a web one too, is refused as dead; an outage is not (it must not
 * make Google unlink).
 */
export async function googleContext(core: Core, token: string): Promise<TenantContext> {
  if (!token) throw new GatewayError('UNAUTHENTICATED', 'A Google account-linking access token is required.');
  const { claims, ctx } = await core.auth.requests.authenticate(token);
  if (claims.channel !== 'google' || !ctx) throw new GatewayError('UNAUTHENTICATED', 'This token was not issued to Google.');
  return ctx;
}
