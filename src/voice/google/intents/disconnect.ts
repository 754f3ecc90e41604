import type { IntentHandler } from './intent.js';

/**
 * The person unlinked Gatehouse in Google Home: forget the link and end every
 * token Google holds for them in this tenant. Google expects an empty body.
 * https://developers.home.google.com/cloud-to-cloud/intents/disconnect
 */
export const disconnect: IntentHandler = async ({ core, ctx, requestId, count }) => {
  // Tokens first: a request that slips in between finds no live session rather than a live one without a link.
  await core.auth.sessions.endChannel(ctx.principal.id, ctx.tenantId, 'google');
  await core.voiceAccounts.unlink(ctx, 'google', requestId);
  count('DISCONNECT', 'UNLINKED');
  return null;
};
