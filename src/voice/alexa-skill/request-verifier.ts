import { verify } from 'node:crypto';
import type { RequestEnvelope } from 'ask-sdk-model';
import { checkCertUrl } from './cert-url.js';
import type { SeenOnce } from '../../fleet/seen-once.js';
import { refused } from './refusal.js';
import type { SigningChains } from './signing-chain.js';

/** Amazon's window, applied both ways: its SDK's TimestampVerifier rejects only old requests (DESIGN.md §5). */
export const WINDOW_MS = 150_000;

export type Verification = { chains: SigningChains; certHost: string; skillIds: ReadonlySet<string>; seen: SeenOnce; now: () => number };
type Headers = Record<string, string | string[] | undefined>;

const header = (headers: Headers, name: string) => (typeof headers[name] === 'string' ? headers[name] : undefined);
const skillIdOf = (envelope: RequestEnvelope) => envelope.context?.System?.application?.applicationId ?? envelope.session?.application?.applicationId;

function parse(raw: Buffer): RequestEnvelope {
  try {
    const envelope = JSON.parse(raw.toString('utf8')) as RequestEnvelope;
    if (typeof envelope?.request?.type === 'string' && typeof envelope.request.requestId === 'string' && typeof envelope.request.timestamp === 'string') return envelope;
  } catch {
    // answered below
  }
  throw refused('MALFORMED', 'The body is not an Alexa request envelope.');
}

/**
 * Everything Amazon requires of a custom skill's endpoint, in order, before a
 * field of the request is trusted: the certificate URL, the chain, RSA-SHA256
 * (Signature-256) over the raw body; then the timestamp within ±150 s, an
 * allowed skill id, and a request id not seen before. Throws SKILL_REQUEST_REFUSED.
 */
export async function verifySkillRequest(v: Verification, headers: Headers, raw: Buffer): Promise<RequestEnvelope> {
  const certUrl = header(headers, 'signaturecertchainurl');
  const signature = header(headers, 'signature-256');
  if (!certUrl) throw refused('CERT_URL_INVALID', 'The SignatureCertChainUrl header is missing.');
  const leaf = await v.chains.leafFor(checkCertUrl(certUrl, v.certHost));
  if (!signature || !verify('RSA-SHA256', raw, leaf.publicKey, Buffer.from(signature, 'base64'))) {
    throw refused('SIGNATURE_INVALID', 'The Signature-256 header does not match the body.');
  }
  const envelope = parse(raw);
  const now = v.now();
  const at = Date.parse(envelope.request.timestamp);
  if (!Number.isFinite(at) || Math.abs(now - at) > WINDOW_MS) throw refused('TIMESTAMP_OUT_OF_WINDOW', 'The request\'s timestamp is more than 150 s away from the gateway\'s clock.');
  const skillId = skillIdOf(envelope);
  if (!skillId || !v.skillIds.has(skillId)) throw refused('SKILL_NOT_ALLOWED', 'This skill is not served by this gateway.');
  if (!(await v.seen.admit(envelope.request.requestId, now, at + WINDOW_MS + 1_000))) throw refused('REQUEST_REPLAYED', 'This request was already received.');
  return envelope;
}
