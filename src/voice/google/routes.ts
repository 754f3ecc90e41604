import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TenantContext } from '../../auth/context.js';
import type { Core } from '../../core/create-core.js';
import { GatewayError, isGatewayError } from '../../core/errors.js';
import { fulfill, intentName, type GoogleRequest } from './fulfillment.js';
import type { IntentCounter } from './intents/intent.js';

export type GoogleOptions = { core: Core; executeWaitMs: number; count?: IntentCounter };

const BODY = {
  type: 'object',
  required: ['requestId', 'inputs'],
  properties: {
    requestId: { type: 'string', minLength: 1, maxLength: 200 },
    inputs: { type: 'array', minItems: 1, maxItems: 1, items: { type: 'object', required: ['intent'], properties: { intent: { type: 'string' }, payload: { type: 'object' } } } },
  },
} as const;

/** Refusals that mean "this token is no good": Google answers 401 by refreshing it (and, if that fails, by asking to link again). */
const DEAD_TOKEN = new Set(['UNAUTHENTICATED', 'TOKEN_INVALID', 'TOKEN_EXPIRED', 'TOKEN_REVOKED', 'TENANT_FORBIDDEN', 'TENANT_REQUIRED']);

/**
 * The bearer token is the only proof Google sends (DESIGN.md §5): a Gatehouse
 * access token of channel google, from account linking. Anything else, a web
 * token too, is 401; an outage is not (it must not make Google unlink).
 */
async function contextOf(core: Core, request: FastifyRequest): Promise<TenantContext> {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  if (!match) throw new GatewayError('UNAUTHENTICATED', 'A Google account-linking access token is required.');
  const { claims, ctx } = await core.auth.requests.authenticate(match[1]!);
  if (claims.channel !== 'google' || !ctx) throw new GatewayError('UNAUTHENTICATED', 'This token was not issued to Google.');
  return ctx;
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
export function googleRoutes({ core, executeWaitMs, count = () => undefined }: GoogleOptions) {
  return async function routes(app: FastifyInstance): Promise<void> {
    app.post<{ Body: GoogleRequest }>('/voice/google', { schema: { hide: true, body: BODY } }, async (request, reply) => {
      let ctx: TenantContext;
      try {
        ctx = await contextOf(core, request);
      } catch (error) {
        if (isGatewayError(error) && DEAD_TOKEN.has(error.code)) {
          count(intentName(request.body), 'unauthorized');
          return unauthorized(reply, error);
        }
        throw error;
      }
      try {
        return await fulfill({ core, ctx, executeWaitMs, count }, request.body);
      } catch (error) {
        // The link was removed (DISCONNECT) while Google still held a live access token.
        if (isGatewayError(error) && DEAD_TOKEN.has(error.code)) return unauthorized(reply, error);
        throw error;
      }
    });
  };
}
