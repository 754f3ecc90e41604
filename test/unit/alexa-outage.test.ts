import { generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { AccessTokens } from '../../src/auth/access-tokens.js';
import type { SigningKeys } from '../../src/auth/signing-keys.js';
import type { Core } from '../../src/core/create-core.js';
import { GatewayError } from '../../src/core/errors.js';
import type { Logger } from '../../src/logger.js';
import { handleDirective } from '../../src/voice/alexa/smart-home.js';

const discover = (token: string) => ({
  directive: { header: { namespace: 'Alexa.Discovery', name: 'Discover', payloadVersion: '3', messageId: 'm-1' }, payload: { scope: { type: 'BearerToken', token } } },
});
const quiet = { error: () => undefined, child: () => quiet } as unknown as Logger;
const failingCore = (error: unknown) => ({ auth: { requests: { authenticateVoice: () => Promise.reject(error) } } }) as unknown as Core;
const typeOf = async (core: Core) => ((await handleDirective({ core, log: quiet, waitMs: 1000 }, discover('t'))).event.payload as { type: string }).type;

describe('an outage is never a dead credential (Alexa unlinks the user on one)', () => {
  it('a token check that fails for want of Postgres answers INTERNAL_ERROR', async () => {
    expect(await typeOf(failingCore(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })))).toBe('INTERNAL_ERROR');
    expect(await typeOf(failingCore(new GatewayError('DATABASE_UNAVAILABLE')))).toBe('INTERNAL_ERROR');
    // Only the token's own faults are credential errors.
    expect(await typeOf(failingCore(new GatewayError('TOKEN_INVALID')))).toBe('INVALID_AUTHORIZATION_CREDENTIAL');
    expect(await typeOf(failingCore(new GatewayError('TOKEN_REVOKED')))).toBe('INVALID_AUTHORIZATION_CREDENTIAL');
    expect(await typeOf(failingCore(new GatewayError('TOKEN_EXPIRED')))).toBe('EXPIRED_AUTHORIZATION_CREDENTIAL');
  });

  it('AccessTokens.verify passes a key lookup\'s failure on instead of calling the token invalid', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const outage = new Error('connect ECONNREFUSED 127.0.0.1:5432');
    const keys = { signingKey: () => ({ kid: 'k1', key: privateKey }), verificationKey: () => Promise.reject(outage) } as unknown as SigningKeys;
    const tokens = new AccessTokens(keys, () => 'http://localhost');
    const { token } = await tokens.issue({ sub: 'u', tenant_id: null, tenants: [], channel: 'alexa', scopes: [], sid: 's' });
    await expect(tokens.verify(token)).rejects.toBe(outage);
    await expect(tokens.verify('not.a.token')).rejects.toMatchObject({ code: 'TOKEN_INVALID' });
  });
});
