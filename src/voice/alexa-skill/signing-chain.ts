import { X509Certificate } from 'node:crypto';
import { get } from 'node:https';
import { rootCertificates } from 'node:tls';
import { refused } from './refusal.js';

/** https://developer.amazon.com/en-US/docs/alexa/custom-skills/host-a-custom-skill-as-a-web-service.html#cert-verify-signature-certificate */
export const ECHO_API_SAN = 'echo-api.amazon.com';
const MAX_CHAIN_BYTES = 64 * 1024;
const MAX_CACHED = 16;

/**
 * The default trust: Node's bundled public roots, as Amazon's own SDK verifier
 * uses (its CA has changed over the years: Symantec, DigiCert). What pins the
 * chain to Amazon is the SAN echo-api.amazon.com and the s3.amazonaws.com URL.
 */
export function publicRoots(): X509Certificate[] {
  return rootCertificates.map((pem) => new X509Certificate(pem));
}

export function parsePems(text: string): X509Certificate[] {
  return (text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((pem) => new X509Certificate(pem));
}

const validAt = (cert: X509Certificate, now: number) => Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);
const signedBy = (cert: X509Certificate, issuer: X509Certificate) => issuer.ca && cert.checkIssued(issuer) && cert.verify(issuer.publicKey);

/**
 * The leaf of a chain Amazon signs with, once it holds: every certificate
 * valid now, the leaf for echo-api.amazon.com, each signed by the next, the
 * last one a trusted root or signed by one. Throws CERT_CHAIN_INVALID.
 */
export function checkChain(chain: readonly X509Certificate[], roots: readonly X509Certificate[], now: number): X509Certificate {
  const leaf = chain[0];
  if (!leaf) throw refused('CERT_CHAIN_INVALID', 'The signing certificate chain is empty.');
  if (!chain.every((cert) => validAt(cert, now))) throw refused('CERT_CHAIN_INVALID', 'A certificate of the signing chain is expired or not yet valid.');
  const names = (leaf.subjectAltName ?? '').split(/,\s*/);
  if (!names.includes(`DNS:${ECHO_API_SAN}`)) throw refused('CERT_CHAIN_INVALID', `The signing certificate is not for ${ECHO_API_SAN}.`);
  if (leaf.publicKey.asymmetricKeyType !== 'rsa') throw refused('CERT_CHAIN_INVALID', 'The signing certificate\'s key is not RSA.');
  for (let i = 0; i + 1 < chain.length; i += 1) {
    if (!signedBy(chain[i]!, chain[i + 1]!)) throw refused('CERT_CHAIN_INVALID', 'The signing certificate chain is broken.');
  }
  const last = chain[chain.length - 1]!;
  const trusted = roots.some((root) => root.fingerprint256 === last.fingerprint256 || (validAt(root, now) && signedBy(last, root)));
  if (!trusted) throw refused('CERT_CHAIN_INVALID', 'The signing certificate chain does not lead to a trusted root.');
  return leaf;
}

type Cached = { chain: X509Certificate[]; leaf: X509Certificate };
export type ChainSource = { roots: readonly X509Certificate[]; fetchCa?: string; now: () => number };

/**
 * Signing chains by URL: fetched once, checked, kept while they stay valid
 * (each use checks the validity again; an expired one is fetched anew, and
 * fails then). At most MAX_CACHED URLs: Amazon uses one at a time.
 */
export class SigningChains {
  private readonly cache = new Map<string, Promise<Cached>>();
  constructor(private readonly source: ChainSource) {}

  async leafFor(url: URL): Promise<X509Certificate> {
    const key = url.href;
    let entry = this.cache.get(key);
    if (!entry) {
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
      entry = this.load(url);
      this.cache.set(key, entry);
      // A chain that failed is not remembered: the next request tries again.
      entry.catch(() => this.cache.delete(key));
    }
    const { chain, leaf } = await entry;
    if (chain.every((cert) => validAt(cert, this.source.now()))) return leaf;
    this.cache.delete(key);
    return this.leafFor(url);
  }

  private async load(url: URL): Promise<Cached> {
    const chain = parsePems(await download(url, this.source.fetchCa));
    return { chain, leaf: checkChain(chain, this.source.roots, this.source.now()) };
  }
}

function download(url: URL, ca: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const failed = (why: string) => reject(refused('CERT_CHAIN_INVALID', `The signing certificate chain could not be fetched: ${why}.`));
    const request = get(url, { ca, timeout: 5_000 }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        return failed(`HTTP ${response.statusCode}`);
      }
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
        if (text.length > MAX_CHAIN_BYTES) request.destroy(new Error('too large'));
      });
      response.on('end', () => resolve(text));
      response.on('error', (error) => failed(error.message));
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', (error) => failed(error.message));
  });
}
