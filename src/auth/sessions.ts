import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { recordPlatformEvent } from '../core/audit-log.js';
import { GatewayError } from '../core/errors.js';
import { scopesForChannel } from '../core/policy/capability-matrix.js';
import type { Database, Tx } from '../db/database.js';
import { ACCESS_TOKEN_TTL_SECONDS, type AccessClaims, type AccessTokens, type Membership } from './access-tokens.js';
import type { Channel } from './context.js';
import type { AuthenticatedUser } from './password-login.js';
import { findUserById, membershipsOf } from './user-directory.js';

export const REFRESH_TOKEN_TTL_DAYS = 60;

export type TokenPair = { access_token: string; refresh_token: string; token_type: 'Bearer'; expires_in: number };

/** What a new session is for. `clientId` binds an OAuth session to the client that may refresh it. */
export type SessionGrant = { user: Pick<AuthenticatedUser, 'id' | 'isPlatformAdmin' | 'memberships'>; tenantId: string | null; channel: Channel; scopes?: string[]; clientId?: string };

type RefreshRow = {
  id: string; tenant_id: string | null; user_id: string; family_id: string; channel: Channel; client_id: string | null;
  scopes: string[]; expires_at: Date; used_at: Date | null; revoked_at: Date | null;
};

/** Refresh tokens are 256 random bits, so a fast hash is enough to store them (no dictionary to guard against). */
export function hashOpaqueToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Picks the tenant a session acts in: the requested one (slug or id) among the memberships, else the first. */
export function chooseTenant(user: Pick<AuthenticatedUser, 'memberships' | 'isPlatformAdmin'>, requested?: string): string | null {
  if (requested) {
    const found = user.memberships.find((m) => m.id === requested || m.slug === requested);
    if (!found) throw new GatewayError('TENANT_FORBIDDEN', 'You are not a member of that tenant.');
    return found.id;
  }
  const first = user.memberships[0];
  if (first) return first.id;
  if (user.isPlatformAdmin) return null;
  throw new GatewayError('TENANT_REQUIRED', 'This account belongs to no tenant.');
}

/**
 * Sessions: a refresh-token family (opaque, hashed, rotated on every use; a
 * reused token revokes its whole family) and the short-lived access tokens
 * minted from it. Every access token names its family (`sid`), so revoking a
 * session cuts off its access tokens within seconds (SessionState).
 */
export class Sessions {
  constructor(private readonly db: Database, private readonly tokens: AccessTokens) {}

  async start(grant: SessionGrant): Promise<TokenPair & { familyId: string }> {
    const familyId = randomUUID();
    const scopes = grant.scopes ?? scopesForChannel(grant.channel);
    const refresh = await this.db.withPlatform((tx) =>
      insertRefreshToken(tx, { tenantId: grant.tenantId, userId: grant.user.id, familyId, channel: grant.channel, clientId: grant.clientId ?? null, scopes }),
    );
    return { ...(await this.pair(grant.user, grant.tenantId, grant.channel, scopes, familyId, refresh)), familyId };
  }

  /**
   * Rotates a refresh token. `clientId`: the OAuth client presenting it, which
   * must be the one it was issued to (undefined for first-party sessions).
   */
  async refresh(refreshToken: string, clientId?: string): Promise<TokenPair & { familyId: string }> {
    const outcome = await this.db.withPlatform(async (tx) => {
      const { rows } = await tx.query<RefreshRow>('SELECT * FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE', [hashOpaqueToken(refreshToken)]);
      const row = rows[0];
      if (!row || (row.client_id ?? undefined) !== clientId) return { error: new GatewayError('TOKEN_INVALID', 'Unknown refresh token.') };
      if (row.revoked_at) return { error: new GatewayError('TOKEN_REVOKED', 'This session was revoked.') };
      if (row.used_at) {
        // A used token presented again: it was stolen, or the client is replaying. Either way the family is burned.
        await revokeFamilies(tx, 'family_id = $1', [row.family_id]);
        await recordPlatformEvent(tx, row.tenant_id, { type: 'REFRESH_TOKEN_REUSE', userId: row.user_id, channel: row.channel, details: { familyId: row.family_id } });
        return { error: new GatewayError('TOKEN_REVOKED', 'This refresh token was already used; the session is revoked.') };
      }
      if (row.expires_at.getTime() <= Date.now()) return { error: new GatewayError('TOKEN_EXPIRED', 'The refresh token has expired.') };
      const user = await findUserById(tx, row.user_id);
      const memberships = user ? await membershipsOf(tx, row.user_id) : [];
      if (!user || user.status !== 'active' || (row.tenant_id && !memberships.some((m) => m.id === row.tenant_id))) {
        await revokeFamilies(tx, 'family_id = $1', [row.family_id]);
        return { error: new GatewayError('TOKEN_REVOKED', 'This session is no longer valid.') };
      }
      await tx.query('UPDATE refresh_tokens SET used_at = now() WHERE id = $1', [row.id]);
      const refresh = await insertRefreshToken(tx, {
        tenantId: row.tenant_id, userId: row.user_id, familyId: row.family_id, channel: row.channel, clientId: row.client_id, scopes: row.scopes,
      });
      return { row, refresh, user: { id: user.id, isPlatformAdmin: user.isPlatformAdmin, memberships } };
    });
    // Thrown after the transaction commits, so that a reuse's revocation and its audit event persist.
    if ('error' in outcome) throw outcome.error;
    const { row, refresh, user } = outcome;
    return { ...(await this.pair(user, row.tenant_id, row.channel, row.scopes, row.family_id, refresh)), familyId: row.family_id };
  }

  /** Ends the session the access token belongs to. */
  async end(claims: Pick<AccessClaims, 'sid'>): Promise<void> {
    await this.db.withPlatform((tx) => revokeFamilies(tx, 'family_id = $1', [claims.sid]));
  }

  /** Ends every session of a user (suspension, password change), or of a user in one tenant (membership removed). */
  async endAllFor(userId: string, tenantId?: string): Promise<void> {
    await this.db.withPlatform((tx) =>
      tenantId ? revokeFamilies(tx, 'user_id = $1 AND tenant_id = $2', [userId, tenantId]) : revokeFamilies(tx, 'user_id = $1', [userId]),
    );
  }

  /** Ends a user's sessions of one channel in one tenant: a voice platform's unlink (Google DISCONNECT) ends every token it holds. */
  async endChannel(userId: string, tenantId: string, channel: Channel): Promise<void> {
    await this.db.withPlatform((tx) => revokeFamilies(tx, 'user_id = $1 AND tenant_id = $2 AND channel = $3', [userId, tenantId, channel]));
  }

  private async pair(
    user: { id: string; isPlatformAdmin: boolean; memberships: Membership[] },
    tenantId: string | null,
    channel: Channel,
    scopes: string[],
    familyId: string,
    refreshToken: string,
  ): Promise<TokenPair> {
    const { token } = await this.tokens.issue({
      sub: user.id, tenant_id: tenantId, tenants: user.memberships, channel, scopes, sid: familyId,
      ...(user.isPlatformAdmin ? { padm: true } : {}),
    });
    return { access_token: token, refresh_token: refreshToken, token_type: 'Bearer', expires_in: ACCESS_TOKEN_TTL_SECONDS };
  }
}

async function insertRefreshToken(
  tx: Tx,
  row: { tenantId: string | null; userId: string; familyId: string; channel: Channel; clientId: string | null; scopes: string[] },
): Promise<string> {
  const token = `grt_${randomBytes(32).toString('base64url')}`;
  await tx.query(
    `INSERT INTO refresh_tokens (tenant_id, user_id, family_id, token_hash, channel, client_id, scopes, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(days => $8))`,
    [row.tenantId, row.userId, row.familyId, hashOpaqueToken(token), row.channel, row.clientId, row.scopes, REFRESH_TOKEN_TTL_DAYS],
  );
  return token;
}

function revokeFamilies(tx: Tx, where: string, params: unknown[]): Promise<unknown> {
  return tx.query(`UPDATE refresh_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND ${where}`, params);
}
