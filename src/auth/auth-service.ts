import { recordPlatformEvent } from '../core/audit-log.js';
import type { EventBus } from '../core/event-bus.js';
import type { AccessPolicy } from '../core/policy/access-policy.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import { AccessTokens } from './access-tokens.js';
import { alexaGrantHolders } from './alexa-grant-holders.js';
import { AppCredentials } from './app-credentials.js';
import { CredentialVerifier } from './credential-verifier.js';
import { DEFAULT_LIMITS, FailureLimiter, type FailureLimitsFactory } from './failure-limiter.js';
import { Invitations } from './invitations.js';
import { Members } from './members.js';
import { AuthorizationServer } from './oauth/authorization-server.js';
import { OAuthClients } from './oauth/clients.js';
import { PasswordLogin } from './password-login.js';
import { RequestAuthenticator } from './request-context.js';
import { Sessions } from './sessions.js';
import { SigningKeys } from './signing-keys.js';

export type AuthOptions = {
  /** The tokens' issuer, asked at each use: it may be known only once the HTTP listener is bound (PublicUrl). */
  issuer: () => string;
  /** How long a session's live state is cached (AUTH_SESSION_CACHE_MS). */
  sessionCacheMs: number;
  /** How long an invitation link stays valid (INVITATION_TTL_HOURS). */
  invitationTtlHours: number;
  /** The core's bus: role changes and revoked app credentials are announced on it. */
  events: EventBus;
  log: Logger;
  /** Where failures are counted: this process (the default) or the fleet's Redis (src/fleet/limits). */
  failureLimits?: FailureLimitsFactory;
};

/** src/auth assembled: everything that turns a credential into a TenantContext. */
export async function createAuth(db: Database, policy: AccessPolicy, options: AuthOptions) {
  // Audited off the request path: a lockout must never fail the refusal it accompanies.
  const audit = (key: string) => void db.withPlatform((tx) => recordPlatformEvent(tx, null, { type: 'LOCKOUT', details: { key } })).catch((error: unknown) =>
    options.log.error({ err: error, key }, 'could not record a lockout'),
  );
  const limiter = options.failureLimits?.(audit) ?? new FailureLimiter(DEFAULT_LIMITS, audit);
  const keys = new SigningKeys(db);
  await keys.init();
  const tokens = new AccessTokens(keys, options.issuer);
  const logins = new PasswordLogin(db, limiter);
  const sessions = new Sessions(db, tokens);
  const requests = new RequestAuthenticator(db, tokens, options.sessionCacheMs);
  const credentials = new CredentialVerifier(db, limiter);
  // A role that changed bites on this node's next request, not after the cache's few seconds.
  options.events.on('member.access.changed', ({ userId }) => requests.forgetUser(userId));
  return {
    limiter,
    keys,
    tokens,
    logins,
    sessions,
    members: new Members(db, policy, sessions, options.events),
    invitations: new Invitations(db, policy, options.invitationTtlHours),
    apps: new AppCredentials(db, policy, credentials, options.events),
    requests,
    credentials,
    /** The tenant's people whose Alexa grant (AcceptGrant) may still be used, as their Alexa contexts: for ChangeReports. */
    alexaGrantHolders: (tenantId: string) => alexaGrantHolders(db, tenantId),
    oauth: new AuthorizationServer(db, new OAuthClients(db, limiter), sessions, logins, keys, limiter, policy),
  };
}

export type Auth = Awaited<ReturnType<typeof createAuth>>;
