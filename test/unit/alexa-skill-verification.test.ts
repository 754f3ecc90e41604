import { sign, X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkCertUrl } from '../../src/voice/alexa-skill/cert-url.js';
import { reasonOf } from '../../src/voice/alexa-skill/refusal.js';
import { MemorySeenOnce } from '../../src/fleet/seen-once.js';
import { verifySkillRequest } from '../../src/voice/alexa-skill/request-verifier.js';
import { checkChain, parsePems, publicRoots, type SigningChains } from '../../src/voice/alexa-skill/signing-chain.js';
import { createSigningChains } from '../fakes/alexa/skill-signer.js';

const reason = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return reasonOf(error);
  }
  return 'accepted';
};

describe('SignatureCertChainUrl rules (Amazon\'s examples)', () => {
  const host = 's3.amazonaws.com';
  it.each([
    'https://s3.amazonaws.com/echo.api/echo-api-cert.pem',
    'https://s3.amazonaws.com:443/echo.api/echo-api-cert.pem',
    'https://S3.AMAZONAWS.COM/echo.api/echo-api-cert.pem',
    'https://s3.amazonaws.com/echo.api/../echo.api/echo-api-cert.pem',
  ])('accepts %s', (url) => expect(reason(() => checkCertUrl(url, host))).toBe('accepted'));
  it.each([
    'http://s3.amazonaws.com/echo.api/echo-api-cert.pem',
    'https://notamazon.com/echo.api/echo-api-cert.pem',
    'https://s3.amazonaws.com/EcHo.aPi/echo-api-cert.pem',
    'https://s3.amazonaws.com/invalid.path/echo-api-cert.pem',
    'https://s3.amazonaws.com:563/echo.api/echo-api-cert.pem',
    'not a url',
  ])('refuses %s', (url) => expect(reason(() => checkCertUrl(url, host))).toBe('CERT_URL_INVALID'));
  it('a configured host:port (a test\'s server) must be named exactly', () => {
    expect(reason(() => checkCertUrl('https://127.0.0.1:8443/echo.api/x.pem', '127.0.0.1:8443'))).toBe('accepted');
    expect(reason(() => checkCertUrl('https://127.0.0.1/echo.api/x.pem', '127.0.0.1:8443'))).toBe('CERT_URL_INVALID');
  });
});

describe('the signing chain', () => {
  let chains: Awaited<ReturnType<typeof createSigningChains>>;
  let roots: X509Certificate[];
  beforeAll(async () => {
    chains = await createSigningChains();
    roots = parsePems(chains.rootPem);
  });
  const DAY = 24 * 3600 * 1000;

  it('holds when it leads to the trusted root with echo-api.amazon.com, within its validity', () => {
    expect(checkChain(parsePems(chains.chains.good), roots, Date.now()).subjectAltName).toBe('DNS:echo-api.amazon.com');
  });
  it('is refused without the SAN, under another root, or outside its validity (the clock is the caller\'s)', () => {
    expect(reason(() => checkChain(parsePems(chains.chains.noSan), roots, Date.now()))).toBe('CERT_CHAIN_INVALID');
    expect(reason(() => checkChain(parsePems(chains.chains.rogue), roots, Date.now()))).toBe('CERT_CHAIN_INVALID');
    expect(reason(() => checkChain(parsePems(chains.chains.good), roots, Date.now() + 40 * DAY))).toBe('CERT_CHAIN_INVALID');
    expect(reason(() => checkChain(parsePems(chains.chains.good), roots, Date.now() - 2 * DAY))).toBe('CERT_CHAIN_INVALID');
    expect(reason(() => checkChain([], roots, Date.now()))).toBe('CERT_CHAIN_INVALID');
  });
  it('by default trusts Node\'s public roots, as Amazon\'s SDK does (Amazon\'s included), not a test\'s', () => {
    const subjects = publicRoots().map((c) => c.subject);
    expect(subjects.some((s) => s.includes('CN=Amazon Root CA 1'))).toBe(true);
    expect(reason(() => checkChain(parsePems(chains.chains.good), publicRoots(), Date.now()))).toBe('CERT_CHAIN_INVALID');
  });
});

describe('verifySkillRequest with its own clock', () => {
  let chains: Awaited<ReturnType<typeof createSigningChains>>;
  beforeAll(async () => {
    chains = await createSigningChains();
  });
  const at = Date.parse('2026-01-01T12:00:00Z');
  const body = (requestId: string, skillId = 'amzn1.ask.skill.a') => Buffer.from(JSON.stringify({
    version: '1.0', context: { System: { application: { applicationId: skillId } } },
    request: { type: 'LaunchRequest', requestId, timestamp: '2026-01-01T12:00:00Z', locale: 'en-US' },
  }));
  const verifyAt = async (now: number, raw: Buffer, seen = new MemorySeenOnce()) => {
    const leaf = parsePems(chains.chains.good)[0]!;
    // The chain's download and checks are SigningChains' (above and in the integration test); here only what follows.
    const v = { chains: { leafFor: async () => leaf } as unknown as SigningChains, certHost: 's3.amazonaws.com', skillIds: new Set(['amzn1.ask.skill.a']), seen, now: () => now };
    const headers = { signaturecertchainurl: 'https://s3.amazonaws.com/echo.api/echo-api-cert.pem', 'signature-256': sign('RSA-SHA256', raw, chains.leaves.good.key).toString('base64') };
    return verifySkillRequest(v, headers, raw).then(() => 'accepted', (error: unknown) => reasonOf(error));
  };

  it('takes a request within 150 s either way and refuses one beyond, older or newer', async () => {
    expect(await verifyAt(at + 150_000, body('r1'))).toBe('accepted');
    expect(await verifyAt(at - 150_000, body('r2'))).toBe('accepted');
    expect(await verifyAt(at + 151_000, body('r3'))).toBe('TIMESTAMP_OUT_OF_WINDOW');
    expect(await verifyAt(at - 151_000, body('r4'))).toBe('TIMESTAMP_OUT_OF_WINDOW');
  });
  it('refuses a request id seen before, a skill not allowed, and a body that is not an envelope', async () => {
    const seen = new MemorySeenOnce();
    expect(await verifyAt(at, body('same'), seen)).toBe('accepted');
    expect(await verifyAt(at + 1_000, body('same'), seen)).toBe('REQUEST_REPLAYED');
    expect(await verifyAt(at, body('other', 'amzn1.ask.skill.b'))).toBe('SKILL_NOT_ALLOWED');
    expect(await verifyAt(at, Buffer.from('{"request":{}}'))).toBe('MALFORMED');
  });
});
