import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TenantContext } from '../../auth/context.js';
import type { Core } from '../../core/create-core.js';
import type { GatewayError } from '../../core/errors.js';
import { conversationRoute, type ConversationOptions } from './conversation/conversation-route.js';
import { isDeadToken } from '../../auth/request-context.js';
import { googleContext } from './google-context.js';
import { fulfill, intentName, type GoogleRequest } from './fulfillment.js';
import type { IntentCounter } from './intents/intent.js';

export type GoogleOptions = { core: Core; executeWaitMs: number; count?: IntentCounter; conversation: Omit<ConversationOptions, 'core' | 'waitMs' | 'count'> };

const BODY = {
  type: 'object',
  required: ['requestId', 'inputs'],
  properties: {
    requestId: { type: 'string', minLength: 1, maxLength: 200 },
    inputs: { type: 'array', minItems: 1, maxItems: 1, items: { type: 'object', required: ['intent'], properties: { intent: { type: 'string' }, payload: { type: 'object' } } } },
  },
} as const;

/** The bearer token is the only proof Google sends (DESIGN.md §5). */
function contextOf(core: Core, request: FastifyRequest): Promise<TenantContext> {
  return googleContext(core, /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? '');
}

function unauthorized(reply: FastifyReply, error: GatewayError): FastifyReply {
  return reply.code(401).header('www-authenticate', 'Bearer realm="gatehouse", error="invalid_token"')
    .send({ error: { code: error.code, message: error.message } });
}

/**
 * POST /voice/google, the smart-home fulfillment URL. The composition root
 * registers it on the HTTP server (src/api knows no adapter's routes).
 * https://developers.home.google.com/cloud-to-cloud/primer/fulfillment
 */
export function googleRoutes({ core, executeWaitMs, count = () => undefined, conversation }: GoogleOptions) {
  const conversationRoutes = conversationRoute({ core, waitMs: executeWaitMs, count, ...conversation });
  return async function routes(app: FastifyInstance): Promise<void> {
    await conversationRoutes(app);
    app.post<{ Body: GoogleRequest }>('/voice/google', { schema: { hide: true, body: BODY } }, async (request, reply) => {
      let ctx: TenantContext;
      try {
        ctx = await contextOf(core, request);
      } catch (error) {
        if (isDeadToken(error)) {
          count(intentName(request.body), 'unauthorized');
          return unauthorized(reply, error);
        }
        throw error;
      }
      try {
        return await fulfill({ core, ctx, executeWaitMs, count }, request.body);
      } catch (error) {
        // The link was removed (DISCONNECT) while Google still held a live access token.
        if (isDeadToken(error)) return unauthorized(reply, error);
        throw error;
      }
    });
  };
}
