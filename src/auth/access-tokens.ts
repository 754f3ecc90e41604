import { randomUUID } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify, type JWTHeaderParameters } from 'jose';
import { GatewayError } from '../core/errors.js';
import type { Channel, Role } from './context.js';
import { TOKEN_ALGORITHM, type SigningKeys } from './signing-keys.js';

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
const AUDIENCE = 'gatehouse';
const CLOCK_TOLERANCE_SECONDS = 5;

export type Membership = { id: string; slug: string; role: Role };

/** What an access token says; `tenant_id` is the tenant it acts in unless X-Active-Tenant picks another of `tenants`. */
export type AccessClaims = {
  sub: string;
  tenant_id: string | null;
  tenants: Membership[];
  channel: Channel;
  scopes: string[];
  /** The session (refresh-token family): revoking it cuts off its access tokens too. */
  sid: string;
  jti: string;
  iat: number;
  exp: number;
  /** Platform administrator: may manage tenants, sees no tenant data by that alone. */
  padm?: boolean;
};

export type AccessTokenInput = Omit<AccessClaims, 'jti' | 'iat' | 'exp'>;

/**
 * ES256 access tokens. Verification pins the algorithm, the issuer and the
 * audience, and resolves the key by `kid` from our own key set only: `alg: none`,
 * HS256 keyed with the public key, an unknown kid or a token of another issuer
 * never verify. The issuer is asked for at each use: without PUBLIC_URL it is
 * the address the HTTP listener was bound to, known only after boot.
 */
export class AccessTokens {
  constructor(private readonly keys: SigningKeys, private readonly issuer: () => string) {}

  async issue(input: AccessTokenInput): Promise<{ token: string; claims: AccessClaims }> {
    const { kid, key } = this.keys.signingKey();
    const jti = randomUUID();
    const iat = Math.floor(Date.now() / 1000);
    const claims: AccessClaims = { ...input, jti, iat, exp: iat + ACCESS_TOKEN_TTL_SECONDS };
    const { sub, jti: _jti, iat: _iat, exp: _exp, ...custom } = claims;
    const token = await new SignJWT(custom)
      .setProtectedHeader({ alg: TOKEN_ALGORITHM, kid, typ: 'at+jwt' })
      .setIssuer(this.issuer())
      .setAudience(AUDIENCE)
      .setSubject(sub)
      .setJti(jti)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(claims.exp)
      .sign(key);
    return { token, claims };
  }

  async verify(token: string): Promise<AccessClaims> {
    try {
      const { payload } = await jwtVerify(
        token,
        async (header: JWTHeaderParameters) => {
          if (header.alg !== TOKEN_ALGORITHM) throw new GatewayError('TOKEN_INVALID', `Tokens are signed with ${TOKEN_ALGORITHM}, not ${String(header.alg)}.`);
          const key = header.kid ? await this.keys.verificationKey(header.kid) : undefined;
          if (!key) throw new GatewayError('TOKEN_INVALID', 'The token was signed with a key this gateway does not know.');
          return key;
        },
        { algorithms: [TOKEN_ALGORITHM], issuer: this.issuer(), audience: AUDIENCE, clockTolerance: CLOCK_TOLERANCE_SECONDS, requiredClaims: ['sub', 'jti', 'exp', 'iat'] },
      );
      if (typeof payload.sid !== 'string' || !Array.isArray(payload.scopes) || typeof payload.channel !== 'string') {
        throw new GatewayError('TOKEN_INVALID', 'The token lacks the claims of a Gatehouse access token.');
      }
      return payload as unknown as AccessClaims;
    } catch (error) {
      throw toTokenError(error);
    }
  }
}

function toTokenError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof joseErrors.JWTExpired) return new GatewayError('TOKEN_EXPIRED', 'The token has expired.');
  if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'nbf') {
    return new GatewayError('TOKEN_EXPIRED', 'The token is not valid yet.');
  }
  if (error instanceof joseErrors.JOSEError) return new GatewayError('TOKEN_INVALID', `The token is not valid: ${error.message}`);
  // Anything else (Postgres unreachable while the key was looked up) is our failure, not the token's:
  // a voice platform unlinks its user on an invalid token, so an outage must never read as one.
  throw error;
}
