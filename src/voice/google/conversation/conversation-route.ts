import { conversation } from '@assistant/conversation';
import { UnauthorizedError } from '@assistant/conversation/dist/conversation/conversation.js';
import type { FastifyInstance } from 'fastify';
import type { Core } from '../../../core/create-core.js';
import type { IntentCounter } from '../intents/intent.js';
import { isDeadToken } from '../../../auth/request-context.js';
import { googleContext } from '../google-context.js';
import { HANDLERS, type Turn } from './handlers.js';
import { signatureVerifier, type SignatureOptions } from './signature.js';

export type ConversationOptions = SignatureOptions & { core: Core; waitMs: number; count: IntentCounter };

/**
 * POST /voice/google/conversation, the Conversational Actions webhook
 * (turned down by Google on 2023-06-13; kept small): the signature first
 * (403), then the account-linking token in user.params.bearerToken (401 makes
 * Google refresh it), then one handler per webhook handler name.
 */
export function conversationRoute({ core, waitMs, count, ...signature }: ConversationOptions) {
  const verified = signatureVerifier(signature);
  const app = conversation();
  for (const [name, handler] of Object.entries(HANDLERS)) {
    app.handle(name, async (conv) => {
      let ctx;
      try {
        ctx = await googleContext(core, String(conv.user.params?.bearerToken ?? ''));
      } catch (error) {
        if (isDeadToken(error)) throw new UnauthorizedError(error.message);
        throw error;
      }
      const intent = name.toUpperCase();
      const records: Parameters<Core['voiceAccounts']['recordIntents']>[1][number][] = [];
      const turn: Turn = {
        core, ctx, conv, waitMs,
        outcome: (outcome, device, command, pinUsed) => void records.push({ intent, requestId: conv.session.id ?? '', outcome, ...(device ? { device } : {}), ...(command ? { command, pinUsed: Boolean(pinUsed) } : {}) }),
      };
      await handler(turn);
      await core.voiceAccounts.recordIntents(ctx, records);
      for (const record of records) count(intent, record.outcome);
    });
  }
  return async function routes(http: FastifyInstance): Promise<void> {
    http.post('/voice/google/conversation', { schema: { hide: true } }, async (request, reply) => {
      if (!(await verified(request.headers['google-assistant-signature']))) {
        count('CONVERSATION', 'forbidden');
        return reply.code(403).send({ error: { code: 'REQUEST_SIGNATURE_INVALID', message: 'The google-assistant-signature is missing, forged, expired or not for this project.' } });
      }
      const answer = await app.handler(request.body as object, request.headers as Record<string, string>);
      if (answer.status === 401) count('CONVERSATION', 'unauthorized');
      return reply.code(answer.status).headers(answer.headers ?? {}).send(answer.body);
    });
  };
}
