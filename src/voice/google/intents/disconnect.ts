import type { IntentHandler } from './intent.js';

/**
 * The person unlinked Gatehouse in Google Home: forget the link and end every
 * token Google holds for them in this tenant. Google expects an empty body.
 * https://developers.home.google.com/cloud-to-cloud/intents/disconnect
 */
export const disconnect: IntentHandler = async ({ core, ctx, requestId, count }) => {
  await core.voiceAccounts.unlink(ctx, 'google', requestId);
  await core.auth.sessions.endChannel(ctx.principal.id, ctx.tenantId, 'google');
  count('DISCONNECT', 'UNLINKED');
  return null;
};
