import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { recordPlatformEvent } from '../../core/audit-log.js';
import { GatewayError, isGatewayError } from '../../core/errors.js';
import { recordVoiceLink } from '../../core/voice-accounts.js';
import { scopesForChannel } from '../../core/policy/capability-matrix.js';
import type { AccessPolicy } from '../../core/policy/access-policy.js';
import type { Database } from '../../db/database.js';
import type { FailureLimits } from '../failure-limiter.js';
import { issueContext } from '../issue-context.js';
import type { AuthenticatedUser, PasswordLogin } from '../password-login.js';
import { chooseTenant, hashOpaqueToken, type Sessions, type TokenPair } from '../sessions.js';
import { TOKEN_ALGORITHM, type SigningKeys } from '../signing-keys.js';
import { findUserById, membershipsOf } from '../user-directory.js';
import type { OAuthClient, OAuthClients } from './clients.js';

export const CODE_TTL_SECONDS = 60;
const TICKET_TTL_SECONDS = 300;
const TICKET_AUDIENCE = 'gatehouse:oauth-consent';
const PKCE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
const PKCE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export type AuthorizationParams = Partial<Record<'response_type' | 'client_id' | 'redirect_uri' | 'state' | 'scope' | 'code_challenge' | 'code_challenge_method', string>>;

export type AuthorizationRequest = {
  client: OAuthClient;
  redirectUri: string;
  state: string | undefined;
  codeChallenge: string;
  scopes: string[];
};

/** An error that may be reported to the client by redirecting (RFC 6749 §4.1.2.1), with its OAuth name. */
export class RedirectableError extends GatewayError {
  constructor(readonly oauthError: 'invalid_request' | 'unsupported_response_type' | 'access_denied', message: string) {
    super('OAUTH_REQUEST_INVALID', message);
  }
}

function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/**
 * The OAuth 2.0 authorization server that links a voice platform account to a
 * Gatehouse user: authorization code with PKCE (S256), single-use codes valid
 * 60 s, redirect URIs matched exactly, tokens bound to user, tenant and the
 * platform's channel (and so only that channel's scopes).
 */
export class AuthorizationServer {
  constructor(
    private readonly db: Database,
    readonly clients: OAuthClients,
    private readonly sessions: Sessions,
    private readonly logins: PasswordLogin,
    private readonly keys: SigningKeys,
    private readonly limiter: FailureLimits,
    private readonly policy: AccessPolicy,
  ) {}

  /**
   * Client and redirect URI first: until both are known good, nothing may be
   * redirected anywhere (an open redirector otherwise), so these errors are shown, not sent.
   */
  async resolveClient(params: AuthorizationParams): Promise<{ client: OAuthClient; redirectUri: string }> {
    const client = params.client_id ? await this.clients.find(params.client_id) : undefined;
    if (!client) throw new GatewayError('OAUTH_CLIENT_INVALID', 'Unknown client_id.');
    if (!params.redirect_uri || !client.redirectUris.includes(params.redirect_uri)) {
      throw new GatewayError('REDIRECT_URI_INVALID', 'The redirect_uri is not registered for this client.');
    }
    return { client, redirectUri: params.redirect_uri };
  }

  /** The rest of the request; its errors go back to the client by redirect. */
  parseRequest(resolved: { client: OAuthClient; redirectUri: string }, params: AuthorizationParams): AuthorizationRequest {
    if (params.response_type !== 'code') throw new RedirectableError('unsupported_response_type', 'Only response_type=code is supported.');
    if (!params.code_challenge || !PKCE_CHALLENGE.test(params.code_challenge)) {
      throw new RedirectableError('invalid_request', 'PKCE is required: code_challenge (43 base64url characters).');
    }
    if (params.code_challenge_method !== 'S256') throw new RedirectableError('invalid_request', 'code_challenge_method must be S256.');
    const channelScopes = scopesForChannel(resolved.client.platform);
    const asked = (params.scope ?? '').split(' ').filter((scope) => channelScopes.includes(scope as never));
    return { ...resolved, state: params.state, codeChallenge: params.code_challenge, scopes: asked.length > 0 ? asked : channelScopes };
  }

  login(email: string, password: string, ip: string | undefined, request: AuthorizationRequest): Promise<AuthenticatedUser> {
    return this.logins.verify(email, password, { ip, channel: request.client.platform });
  }

  /** Issues a code for the user in the chosen tenant (one of their memberships). */
  async issueCode(request: AuthorizationRequest, user: AuthenticatedUser, tenant?: string): Promise<string> {
    const tenantId = chooseTenant({ ...user, isPlatformAdmin: false }, tenant);
    if (tenantId === null) throw new GatewayError('TENANT_REQUIRED', 'This account belongs to no tenant.');
    // Linking is the matrix's voice.link, asked as the platform's channel with the role held in that tenant.
    const role = user.memberships.find((membership) => membership.id === tenantId)?.role;
    const platform = request.client.platform;
    this.policy.check(issueContext({ tenantId, principal: { kind: 'user', id: user.id }, channel: platform, roles: role ? [role] : [], scopes: scopesForChannel(platform) }), 'voice.link');
    const code = randomBytes(32).toString('base64url');
    await this.db.withPlatform((tx) =>
      tx.query(
        `INSERT INTO oauth_codes (code_hash, client_id, tenant_id, user_id, redirect_uri, code_challenge, scopes, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))`,
        [hashOpaqueToken(code), request.client.clientId, tenantId, user.id, request.redirectUri, request.codeChallenge, request.scopes, CODE_TTL_SECONDS],
      ),
    );
    return code;
  }

  /** authorization_code grant. */
  async exchangeCode(client: OAuthClient, input: { code?: string; redirectUri?: string; codeVerifier?: string }, ip?: string): Promise<TokenPair> {
    if (!input.code || !input.redirectUri || !input.codeVerifier) {
      throw new GatewayError('OAUTH_REQUEST_INVALID', 'code, redirect_uri and code_verifier are required.');
    }
    if (!PKCE_VERIFIER.test(input.codeVerifier)) throw new GatewayError('OAUTH_REQUEST_INVALID', 'code_verifier must be 43-128 unreserved characters (RFC 7636 §4.1).');
    const keys = [`client:${client.clientId}`, ...(ip ? [`ip:${ip}`] : [])];
    await this.limiter.assertAllowed(keys);
    const outcome = await this.db.withPlatform(async (tx) => {
      const { rows } = await tx.query<{ tenant_id: string; user_id: string; client_id: string; redirect_uri: string; code_challenge: string; scopes: string[]; expires_at: Date; used_at: Date | null; family_id: string | null }>(
        'SELECT * FROM oauth_codes WHERE code_hash = $1 FOR UPDATE',
        [hashOpaqueToken(input.code!)],
      );
      const row = rows[0];
      if (!row || row.client_id !== client.clientId) return { error: 'Unknown authorization code.' };
      if (row.used_at) {
        if (row.family_id) await tx.query('UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL', [row.family_id]);
        await recordPlatformEvent(tx, row.tenant_id, { type: 'REFRESH_TOKEN_REUSE', userId: row.user_id, channel: client.platform, details: { authorizationCodeReused: true, familyId: row.family_id } });
        return { error: 'This authorization code was already used; the tokens issued for it are revoked.' };
      }
      if (row.expires_at.getTime() <= Date.now()) return { error: 'The authorization code has expired.' };
      if (row.redirect_uri !== input.redirectUri) return { error: 'redirect_uri does not match the one the code was issued for.' };
      if (s256(input.codeVerifier!) !== row.code_challenge) return { error: 'The PKCE code_verifier does not match the code_challenge.' };
      await tx.query('UPDATE oauth_codes SET used_at = now() WHERE code_hash = $1', [hashOpaqueToken(input.code!)]);
      return { row };
    });
    if ('error' in outcome) {
      await this.limiter.recordFailure(keys);
      throw new GatewayError('OAUTH_GRANT_INVALID', outcome.error!);
    }
    const { row } = outcome;
    const memberships = await this.db.withPlatform((tx) => membershipsOf(tx, row.user_id));
    const pair = await this.sessions.start({
      // Voice sessions never carry platform-admin rights, whoever the user is.
      user: { id: row.user_id, isPlatformAdmin: false, memberships },
      tenantId: row.tenant_id,
      channel: client.platform,
      scopes: row.scopes,
      clientId: client.clientId,
    });
    await this.db.withPlatform(async (tx) => {
      await tx.query('UPDATE oauth_codes SET family_id = $2 WHERE code_hash = $1', [hashOpaqueToken(input.code!), pair.familyId]);
      // The link is made here, when the platform holds tokens (seed 003 voice_accounts). Google's agentUserId is ours
      // to choose; Alexa's userId arrives only with its directives, so the Alexa adapter records its own.
      if (client.platform === 'google') await recordVoiceLink(tx, { platform: 'google', tenantId: row.tenant_id, userId: row.user_id });
    });
    const { familyId: _familyId, ...tokens } = pair;
    return tokens;
  }

  /** refresh_token grant: a dead refresh token is invalid_grant, whatever killed it. */
  async exchangeRefresh(client: OAuthClient, refreshToken: string | undefined): Promise<TokenPair> {
    if (!refreshToken) throw new GatewayError('OAUTH_REQUEST_INVALID', 'refresh_token is required.');
    try {
      const { familyId: _familyId, ...tokens } = await this.sessions.refresh(refreshToken, client.clientId);
      return tokens;
    } catch (error) {
      if (isGatewayError(error) && error.code.startsWith('TOKEN_')) throw new GatewayError('OAUTH_GRANT_INVALID', error.message);
      throw error;
    }
  }

  /** A signed note that this user logged in on the page, so the tenant choice needs no second password. */
  async ticketFor(user: AuthenticatedUser): Promise<string> {
    const { kid, key } = this.keys.signingKey();
    return new SignJWT({}).setProtectedHeader({ alg: TOKEN_ALGORITHM, kid }).setSubject(user.id).setAudience(TICKET_AUDIENCE)
      .setIssuedAt().setExpirationTime(`${TICKET_TTL_SECONDS}s`).sign(key);
  }

  async userFromTicket(ticket: string): Promise<AuthenticatedUser> {
    try {
      const { payload } = await jwtVerify(ticket, async (header) => {
        const key = await this.keys.verificationKey(header.kid ?? '');
        if (!key) throw new Error('unknown key');
        return key;
      }, {
        algorithms: [TOKEN_ALGORITHM], audience: TICKET_AUDIENCE,
      });
      const userId = payload.sub!;
      return await this.db.withPlatform(async (tx) => {
        const user = await findUserById(tx, userId);
        if (!user || user.status !== 'active') throw new Error('inactive');
        return { id: user.id, email: user.email, isPlatformAdmin: user.isPlatformAdmin, memberships: await membershipsOf(tx, user.id) };
      });
    } catch {
      throw new GatewayError('UNAUTHENTICATED', 'The sign-in expired; please sign in again.');
    }
  }
}
