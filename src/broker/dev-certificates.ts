// @peculiar/x509 resolves its parsers through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

type CryptoKeyPair = webcrypto.CryptoKeyPair;
type CryptoKey = webcrypto.CryptoKey;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY = 24 * 3600 * 1000;

export type Pem = { cert: string; key: string };

async function keyPair() {
  return webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

async function privatePem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(12))).toString('hex').replace(/^[89a-f]/, '1');
}

/** A development certificate authority (P-256, 10 years). */
export async function createDevCa(): Promise<Pem & { keys: CryptoKeyPair; certificate: x509.X509Certificate }> {
  const keys = await keyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(), name: 'CN=Gatehouse Development CA', notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 3650 * DAY),
    keys, signingAlgorithm: ALGORITHM,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  return { keys, certificate, cert: certificate.toString('pem'), key: await privatePem(keys.privateKey) };
}

/** A leaf certificate signed by the CA: a server's (localhost and loopback) or a device's (CN = its MQTT username). */
export async function issueCertificate(ca: { keys: CryptoKeyPair; certificate: x509.X509Certificate }, use: { server: string[] } | { client: string }): Promise<Pem> {
  const keys = await keyPair();
  const server = 'server' in use;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([server ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
  ];
  if (server) {
    extensions.push(new x509.SubjectAlternativeNameExtension(use.server.map((name) => (/^[\d.:]+$/.test(name) ? { type: 'ip' as const, value: name } : { type: 'dns' as const, value: name }))));
  }
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial(), subject: `CN=${server ? use.server[0] : use.client}`, issuer: ca.certificate.subject,
    notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 825 * DAY),
    signingKey: ca.keys.privateKey, publicKey: keys.publicKey, signingAlgorithm: ALGORITHM, extensions,
  });
  return { cert: certificate.toString('pem'), key: await privatePem(keys.privateKey) };
}

/** `gatehouse certs dev`: a CA and a server certificate for localhost in `dir`. */
export async function writeDevCertificates(dir: string, hostnames: string[] = ['localhost', '127.0.0.1', '::1']): Promise<Record<string, string>> {
  const ca = await createDevCa();
  const server = await issueCertificate(ca, { server: hostnames });
  await mkdir(dir, { recursive: true });
  const files = { caCert: path.join(dir, 'ca.crt'), caKey: path.join(dir, 'ca.key'), serverCert: path.join(dir, 'server.crt'), serverKey: path.join(dir, 'server.key') };
  await writeFile(files.caCert, ca.cert);
  await writeFile(files.caKey, ca.key, { mode: 0o600 });
  await writeFile(files.serverCert, server.cert);
  await writeFile(files.serverKey, server.key, { mode: 0o600 });
  return files;
}
