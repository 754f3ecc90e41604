import { recordPlatformEvent } from '../core/audit-log.js';
import { GatewayError } from '../core/errors.js';
import type { Database } from '../db/database.js';
import type { Membership } from './access-tokens.js';
import type { FailureLimits } from './failure-limiter.js';
import { verifyAgainstNothing, verifySecret } from './secrets.js';
import { findUserByEmail, membershipsOf } from './user-directory.js';

export type AuthenticatedUser = { id: string; email: string; isPlatformAdmin: boolean; memberships: Membership[] };
export type Source = { ip?: string; channel: string };

/**
 * Email + password → user, for the API login and the OAuth login page alike.
 * Failures look the same whether or not the account exists (same message, same
 * argon2 work, same lockout); each is audited, and a lockout too.
 */
export class PasswordLogin {
  constructor(private readonly db: Database, private readonly limiter: FailureLimits) {}

  async verify(email: string, password: string, source: Source): Promise<AuthenticatedUser> {
    const keys = [`account:${email.trim().toLowerCase()}`, ...(source.ip ? [`ip:${source.ip}`] : [])];
    await this.limiter.assertAllowed(keys);
    const user = await this.db.withPlatform((tx) => findUserByEmail(tx, email.trim()));
    const ok = user ? await verifySecret(user.passwordHash, password) : await verifyAgainstNothing(password);
    if (!user || !ok) {
      await this.limiter.recordFailure(keys);
      await this.db.withPlatform((tx) =>
        recordPlatformEvent(tx, null, { type: 'LOGIN_FAILED', userId: user?.id, sourceIp: source.ip, channel: source.channel, details: { email } }),
      );
      throw new GatewayError('INVALID_CREDENTIALS', 'The email or password is wrong.');
    }
    await this.limiter.recordSuccess(keys[0]!);
    if (user.status !== 'active') throw new GatewayError('ACCOUNT_SUSPENDED', 'This account is suspended.');
    const memberships = await this.db.withPlatform((tx) => membershipsOf(tx, user.id));
    return { id: user.id, email: user.email, isPlatformAdmin: user.isPlatformAdmin, memberships };
  }
}
