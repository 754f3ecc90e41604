import formbody from '@fastify/formbody';
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import type { AuthenticatedUser } from '../../auth/password-login.js';
import { RedirectableError, type AuthorizationParams, type AuthorizationRequest } from '../../auth/oauth/authorization-server.js';
import { PLATFORM_NAMES } from '../../auth/oauth/clients.js';
import { isDataException } from '../../db/pg-errors.js';
import type { Core } from '../../core/create-core.js';
import { GatewayError, isGatewayError, type ErrorCode } from '../../core/errors.js';
import { renderAuthorizePage, renderErrorPage } from '../oauth/authorize-page.js';

const REQUEST_PARAMS = ['response_type', 'client_id', 'redirect_uri', 'state', 'scope', 'code_challenge', 'code_challenge_method'] as const;

function requestParams(source: Record<string, unknown>): AuthorizationParams {
  const params: AuthorizationParams = {};
  for (const name of REQUEST_PARAMS) if (typeof source[name] === 'string') params[name] = source[name] as string;
  return params;
}

function redirectWith(reply: FastifyReply, redirectUri: string, values: Record<string, string | undefined>) {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(values)) if (value !== undefined) url.searchParams.set(name, value);
  return reply.redirect(url.toString(), 302);
}

function page(reply: FastifyReply, status: number, html: string, redirectUri?: string) {
  // The form posts here and is then redirected to the platform: form-action must allow both (CSP 3 applies it to redirects).
  const formAction = redirectUri ? `'self' ${new URL(redirectUri).origin}` : `'self'`;
  return reply
    .status(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('x-frame-options', 'DENY')
    .header('content-security-policy', `default-src 'none'; style-src 'unsafe-inline'; form-action ${formAction}; frame-ancestors 'none'`)
    .send(html);
}

const OAuthError = Type.Object({ error: Type.String(), error_description: Type.Optional(Type.String()) });

/** RFC 6749 §5.2 error names for the token endpoint. */
const TOKEN_ERRORS: Partial<Record<ErrorCode, [number, string]>> = {
  OAUTH_CLIENT_INVALID: [401, 'invalid_client'],
  OAUTH_GRANT_INVALID: [400, 'invalid_grant'],
  OAUTH_REQUEST_INVALID: [400, 'invalid_request'],
  VALIDATION_FAILED: [400, 'invalid_request'],
  BAD_REQUEST: [400, 'invalid_request'],
  RATE_LIMITED: [429, 'slow_down'],
};

function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const match = header ? /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header) : null;
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
  return { id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')), secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')) };
}

/**
 * The account-linking surface: the login and consent page and the token
 * endpoint. The protocol is here; every decision is the AuthorizationServer's.
 */
export const oauthRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  const server = core.auth.oauth;
  await app.register(formbody);

  /** Client and redirect first; then either a redirect with an error, or the page. */
  async function begin(reply: FastifyReply, params: AuthorizationParams): Promise<AuthorizationRequest | undefined> {
    let resolved;
    try {
      resolved = await server.resolveClient(params);
    } catch (error) {
      if (isGatewayError(error)) {
        await page(reply, 400, renderErrorPage(`${error.message} Nothing was sent back to the application.`));
        return undefined;
      }
      throw error;
    }
    try {
      return server.parseRequest(resolved, params);
    } catch (error) {
      if (error instanceof RedirectableError) {
        await redirectWith(reply, resolved.redirectUri, { error: error.oauthError, error_description: error.message, state: params.state });
        return undefined;
      }
      throw error;
    }
  }

  function paramsOf(request: AuthorizationRequest): Record<string, string> {
    const params: Record<string, string> = {
      response_type: 'code', client_id: request.client.clientId, redirect_uri: request.redirectUri,
      code_challenge: request.codeChallenge, code_challenge_method: 'S256', scope: request.scopes.join(' '),
    };
    if (request.state !== undefined) params.state = request.state;
    return params;
  }

  app.get('/oauth/authorize', { schema: { tags: ['oauth'], summary: 'Account-linking login and consent page (authorization code + PKCE).', hide: false } }, async (request, reply) => {
    const authorization = await begin(reply, requestParams(request.query as Record<string, unknown>));
    if (!authorization) return reply;
    return page(reply, 200, renderAuthorizePage({ platformName: PLATFORM_NAMES[authorization.client.platform], params: paramsOf(authorization) }), authorization.redirectUri);
  });

  app.post('/oauth/authorize', {
    schema: { tags: ['oauth'], summary: 'The page\'s form: allow (with credentials or a sign-in ticket) or cancel.', consumes: ['application/x-www-form-urlencoded'] },
  }, async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, string | undefined>;
    const authorization = await begin(reply, requestParams(body));
    if (!authorization) return reply;
    const platformName = PLATFORM_NAMES[authorization.client.platform];
    if (body.action !== 'allow') return redirectWith(reply, authorization.redirectUri, { error: 'access_denied', state: authorization.state });

    let user: AuthenticatedUser;
    try {
      user = body.ticket ? await server.userFromTicket(body.ticket) : await server.login(body.email ?? '', body.password ?? '', request.ip, authorization);
      if (!body.ticket && user.memberships.length > 1) {
        const choice = { ticket: await server.ticketFor(user), tenants: user.memberships };
        return page(reply, 200, renderAuthorizePage({ platformName, params: paramsOf(authorization), choice }), authorization.redirectUri);
      }
      const code = await server.issueCode(authorization, user, body.tenant);
      return redirectWith(reply, authorization.redirectUri, { code, state: authorization.state });
    } catch (error) {
      if (!isGatewayError(error)) throw error;
      const status = error.code === 'RATE_LIMITED' ? 429 : error.code === 'TENANT_FORBIDDEN' || error.code === 'TENANT_REQUIRED' || error.code === 'POLICY_DENIED' ? 403 : 401;
      return page(reply, status, renderAuthorizePage({ platformName, params: paramsOf(authorization), error: error.message, email: body.email }), authorization.redirectUri);
    }
  });

  app.post('/oauth/token', {
    schema: {
      tags: ['oauth'], summary: 'Token endpoint: authorization_code (with PKCE) and refresh_token grants.',
      consumes: ['application/x-www-form-urlencoded', 'application/json'],
      body: Type.Object({
        grant_type: Type.String({ maxLength: 64 }), code: Type.Optional(Type.String({ maxLength: 512 })), redirect_uri: Type.Optional(Type.String({ maxLength: 2048 })),
        // RFC 7636 §4.1: a code verifier is 43 to 128 characters.
        code_verifier: Type.Optional(Type.String({ maxLength: 128 })), refresh_token: Type.Optional(Type.String({ maxLength: 512 })),
        client_id: Type.Optional(Type.String({ maxLength: 256 })), client_secret: Type.Optional(Type.String({ maxLength: 512 })),
      }),
      response: { 200: { $ref: 'TokenPair#' }, '4xx': OAuthError, 500: OAuthError },
    },
    errorHandler: (error, _request, reply) => {
      const [status, mapped] = (isGatewayError(error) && TOKEN_ERRORS[error.code])
        || ((error as { validation?: unknown }).validation || isDataException(error) ? [400, 'invalid_request'] : [500, 'server_error']);
      const name = (isGatewayError(error) && typeof error.details.oauthError === 'string' && error.details.oauthError) || mapped;
      if (status === 500) reply.log.error({ err: error }, 'token endpoint failed');
      if (name === 'invalid_client') reply.header('www-authenticate', 'Basic realm="gatehouse"');
      return reply.status(status).header('cache-control', 'no-store').send({ error: name, error_description: status === 500 ? 'Internal error.' : error.message });
    },
  }, async (request, reply) => {
    const body = request.body;
    const basic = basicCredentials(request.headers.authorization);
    const clientId = basic?.id ?? body.client_id;
    const clientSecret = basic?.secret ?? body.client_secret;
    if (!clientId || !clientSecret) throw new GatewayError('OAUTH_CLIENT_INVALID', 'Client authentication is required (HTTP Basic or client_id and client_secret).');
    const client = await server.clients.authenticate(clientId, clientSecret, request.ip);
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    if (body.grant_type === 'authorization_code') {
      return server.exchangeCode(client, { code: body.code, redirectUri: body.redirect_uri, codeVerifier: body.code_verifier }, request.ip);
    }
    if (body.grant_type === 'refresh_token') return server.exchangeRefresh(client, body.refresh_token);
    throw new GatewayError('OAUTH_REQUEST_INVALID', `grant_type ${body.grant_type} is not supported.`, { oauthError: 'unsupported_grant_type' });
  });
};
