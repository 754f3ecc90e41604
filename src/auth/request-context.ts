import { GatewayError } from '../core/errors.js';
import type { Database } from '../db/database.js';
import type { AccessClaims, AccessTokens } from './access-tokens.js';
import type { Role, TenantContext } from './context.js';
import { issueContext } from './issue-context.js';

type LiveState = { revoked: boolean; suspended: boolean; role: Role | null; platformAdmin: boolean };

const MAX_CACHED = 50_000;

export type Caller = {
  claims: AccessClaims;
  /** Undefined for a platform administrator acting outside any tenant. */
  ctx: TenantContext | undefined;
  /** Read live, like the role: taking the right away bites within seconds. */
  platformAdmin: boolean;
};

/** Refusals that mean the token itself is no good (a voice platform relinks on them); an outage is never one. */
const DEAD_TOKEN = new Set(['UNAUTHENTICATED', 'TOKEN_INVALID', 'TOKEN_EXPIRED', 'TOKEN_REVOKED', 'TENANT_FORBIDDEN', 'TENANT_REQUIRED', 'ACCOUNT_SUSPENDED']);
export const isDeadToken = (error: unknown): error is GatewayError => error instanceof GatewayError && DEAD_TOKEN.has(error.code);

/**
 * Access token (+ X-Active-Tenant) → TenantContext, for every request.
 * The signature proves who; the live state (session revoked? user suspended?
 * role in that tenant now?) is read from Postgres and cached for `cacheMs`
 * (AUTH_SESSION_CACHE_MS, two seconds by default: seed 002 §24), so
 * revocations do not wait for the token to expire and the role in the context
 * is the current one, not the one at login.
 */
export class RequestAuthenticator {
  private readonly cache = new Map<string, { state: LiveState; until: number; userId: string }>();

  /** `cacheMs`: how stale a revocation may be seen; removing a member or suspending a user bites within this long. */
  constructor(private readonly db: Database, private readonly tokens: AccessTokens, private readonly cacheMs: number) {}

  async authenticate(token: string, activeTenant?: string): Promise<Caller> {
    const claims = await this.tokens.verify(token);
    let tenantId = claims.tenant_id;
    if (activeTenant) {
      const membership = claims.tenants.find((m) => m.id === activeTenant || m.slug === activeTenant);
      if (!membership) throw new GatewayError('TENANT_FORBIDDEN', 'X-Active-Tenant names a tenant this token is not a member of.');
      tenantId = membership.id;
    }
    const state = await this.liveState(claims, tenantId);
    if (state.revoked) throw new GatewayError('TOKEN_REVOKED', 'This session was revoked.');
    if (state.suspended) throw new GatewayError('TOKEN_REVOKED', 'This account is suspended.');
    const platformAdmin = state.platformAdmin && claims.padm === true;
    if (tenantId === null) return { claims, ctx: undefined, platformAdmin };
    if (state.role === null) throw new GatewayError('TOKEN_REVOKED', 'You are no longer a member of this tenant.');
    const voice = claims.channel === 'alexa' || claims.channel === 'google';
    const ctx = issueContext({
      tenantId,
      principal: { kind: voice ? 'voice' : 'user', id: claims.sub },
      channel: claims.channel,
      roles: [state.role],
      scopes: claims.scopes,
    });
    return { claims, ctx, platformAdmin };
  }

  /**
   * A voice platform's linked-account token: only a live token issued to that platform, in a tenant;
   * any other (a web token too) is UNAUTHENTICATED, so the platform refreshes or relinks.
   */
  async authenticateVoice(token: string | undefined, platform: 'alexa' | 'google'): Promise<{ ctx: TenantContext; sessionId: string }> {
    if (!token) throw new GatewayError('UNAUTHENTICATED', `A ${platform} account-linking access token is required.`);
    const { claims, ctx } = await this.authenticate(token);
    if (claims.channel !== platform || !ctx) throw new GatewayError('UNAUTHENTICATED', `This token was not issued to ${platform}.`);
    return { ctx, sessionId: claims.sid };
  }

  private async liveState(claims: AccessClaims, tenantId: string | null): Promise<LiveState> {
    const key = `${claims.sid}|${tenantId ?? ''}`;
    const now = Date.now();
    const cached = this.cache.get(key);
    if (cached && cached.until > now) return cached.state;
    const [state = { revoked: true, suspended: true, role: null, platformAdmin: false }] = await this.db.platformQuery<LiveState>(
      `SELECT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = $1 AND r.revoked_at IS NOT NULL) AS revoked,
              u.status <> 'active' AS suspended, u.is_platform_admin AS "platformAdmin",
              (SELECT m.role FROM memberships m JOIN tenants t ON t.id = m.tenant_id
                WHERE m.user_id = u.id AND m.tenant_id = $3 AND t.status = 'active') AS role
         FROM users u WHERE u.id = $2`,
      [claims.sid, claims.sub, tenantId],
    );
    if (this.cacheMs === 0) return state;
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(key, { state, until: now + this.cacheMs, userId: claims.sub });
    return state;
  }

  /**
   * Forgets what was cached for a user's sessions (a role changed, a
   * membership ended): on this node their next request reads the new state.
   * Other nodes see it when their entry expires, within `cacheMs`.
   */
  forgetUser(userId: string): void {
    for (const [key, entry] of this.cache) if (entry.userId === userId) this.cache.delete(key);
  }
}
