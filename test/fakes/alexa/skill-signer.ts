// @peculiar/x509 resolves its parsers through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { sign, webcrypto } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createDevCa, issueCertificate } from '../../../src/broker/dev-certificates.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type Keys = webcrypto.CryptoKeyPair;
const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
const DAY = 24 * 3600 * 1000;
let serials = 0;

const rsaKeys = () => webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify']) as Promise<Keys>;
const privatePem = async (keys: Keys) => x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');

async function authority(name: string, issuer?: { keys: Keys; cert: x509.X509Certificate }) {
  const keys = await rsaKeys();
  const extensions = [new x509.BasicConstraintsExtension(true, 1, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)];
  const validity = { serialNumber: `0${++serials}`, notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 365 * DAY) };
  const cert = issuer
    ? await x509.X509CertificateGenerator.create({ ...validity, subject: `CN=${name}`, issuer: issuer.cert.subject, signingKey: issuer.keys.privateKey, publicKey: keys.publicKey, signingAlgorithm: RSA, extensions })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...validity, name: `CN=${name}`, keys, signingAlgorithm: RSA, extensions });
  return { keys, cert };
}

async function signingLeaf(issuer: { keys: Keys; cert: x509.X509Certificate }, san: string, notAfter = new Date(Date.now() + 30 * DAY)) {
  const keys = await rsaKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: `0${++serials}`, subject: `CN=${san}`, issuer: issuer.cert.subject, notBefore: new Date(Date.now() - DAY), notAfter,
    signingKey: issuer.keys.privateKey, publicKey: keys.publicKey, signingAlgorithm: RSA,
    extensions: [new x509.BasicConstraintsExtension(false), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: san }])],
  });
  return { key: await privatePem(keys), pem: cert.toString('pem') };
}

export type SkillSigner = {
  /** The trusted root (what ALEXA_SKILL_ROOT_CA names) and the CA of the HTTPS server that serves the chains (ALEXA_SKILL_CERT_FETCH_CA). */
  rootPem: string; fetchCaPem: string;
  /** host:port of the chain server (ALEXA_SKILL_CERT_HOST). */
  host: string;
  /** SignatureCertChainUrl of a chain: `good` leads to the root; `noSan` lacks echo-api.amazon.com; `rogue` leads to another root. */
  urls: Record<'good' | 'noSan' | 'rogue', string>;
  /** The Signature-256 of `body` with a chain's leaf key (Amazon signs the raw body, RSA-SHA256, base64). */
  sign(body: string, chain?: 'good' | 'noSan' | 'rogue'): string;
  /** How often a chain was downloaded. */
  downloads(chain: 'good' | 'noSan' | 'rogue'): number;
  close(): Promise<void>;
};

/** A root, an intermediate and three leaves: for echo-api.amazon.com, for another name, and one under another root (no sockets: unit tests use it). */
export async function createSigningChains() {
  const root = await authority('Test Amazon Root');
  const intermediate = await authority('Test Amazon Intermediate', root);
  const rogueRoot = await authority('Someone Else');
  const leaves = {
    good: await signingLeaf(intermediate, 'echo-api.amazon.com'),
    noSan: await signingLeaf(intermediate, 'echo-api.example.com'),
    rogue: await signingLeaf(rogueRoot, 'echo-api.amazon.com'),
  };
  const chains = {
    good: leaves.good.pem + intermediate.cert.toString('pem'),
    noSan: leaves.noSan.pem + intermediate.cert.toString('pem'),
    rogue: leaves.rogue.pem + rogueRoot.cert.toString('pem'),
  };
  return { rootPem: root.cert.toString('pem'), chains, leaves };
}

const PATHS = { good: '/echo.api/echo-api-cert.pem', noSan: '/echo.api/no-san.pem', rogue: '/echo.api/rogue.pem' } as const;

/**
 * Amazon's side of custom-skill signing, locally: the chains served as PEM
 * over HTTPS under /echo.api/ as Amazon serves them from s3.amazonaws.com,
 * each download counted.
 */
export async function startSkillSigner(): Promise<SkillSigner> {
  const { rootPem, chains, leaves } = await createSigningChains();
  const byPath = new Map(Object.entries(PATHS).map(([chain, path]) => [path as string, chains[chain as keyof typeof PATHS]]));
  const tlsCa = await createDevCa();
  const tls = await issueCertificate(tlsCa, { server: ['127.0.0.1'] });
  const downloads = new Map<string, number>();
  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (request, response) => {
    const chain = byPath.get(request.url ?? '');
    downloads.set(request.url ?? '', (downloads.get(request.url ?? '') ?? 0) + 1);
    response.writeHead(chain ? 200 : 404, { 'content-type': 'application/x-pem-file' }).end(chain ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const url = (chain: keyof typeof PATHS) => `https://${host}${PATHS[chain]}`;
  return {
    rootPem, fetchCaPem: tlsCa.cert, host,
    urls: { good: url('good'), noSan: url('noSan'), rogue: url('rogue') },
    downloads: (chain) => downloads.get(PATHS[chain]) ?? 0,
    sign: (body, chain = 'good') => sign('RSA-SHA256', Buffer.from(body), leaves[chain].key).toString('base64'),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
