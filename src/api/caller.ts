import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TenantContext } from '../auth/context.js';
import type { Caller, RequestAuthenticator } from '../auth/request-context.js';
import { GatewayError } from '../core/errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}

function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match) throw new GatewayError('UNAUTHENTICATED', 'An access token is required: Authorization: Bearer <token>.');
  return match[1]!;
}

/** A preHandler that authenticates the request and attaches the caller; it decides nothing else. */
export function authenticateWith(requests: RequestAuthenticator) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    try {
      const active = request.headers['x-active-tenant'];
      request.caller = await requests.authenticate(bearerToken(request), typeof active === 'string' ? active : undefined);
    } catch (error) {
      // RFC 6750 §3: say how to authenticate.
      reply.header('www-authenticate', 'Bearer realm="gatehouse"');
      throw error;
    }
  };
}

export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw new GatewayError('UNAUTHENTICATED', 'An access token is required.');
  return request.caller;
}

/** The request's TenantContext: fail closed when the caller acts in no tenant. */
export function contextOf(request: FastifyRequest): TenantContext {
  const { ctx } = callerOf(request);
  if (!ctx) throw new GatewayError('TENANT_REQUIRED', 'This request needs a tenant: you act in none (send X-Active-Tenant).');
  return ctx;
}
