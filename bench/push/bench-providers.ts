import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createDevCa, issueCertificate } from '../../src/broker/dev-certificates.js';
import type { CredentialInput } from '../../src/core/push/push-credentials.js';
import type { Platform } from '../../src/push/push-message.js';
import { startFakeApns } from './fake-apns.js';
import { startFakeFcm } from './fake-fcm.js';
import type { FakeProcess } from './fake-process.js';

/** One provider's fake as a scenario drives it: the tokens it takes, and the credential a tenant registers for it. */
export type BenchProvider = FakeProcess & { provider: 'apns' | 'fcm'; platform: Platform; credential: CredentialInput };

export type BenchProviders = {
  apns: BenchProvider;
  fcm: BenchProvider;
  /** The gateway's PUSH_* settings that point its senders at the fakes. */
  env: Record<string, string>;
  close(): Promise<void>;
};

const TEAM_ID = 'BENCHTEAM1';
const KEY_ID = 'BENCHKEY01';
const PROJECT_ID = 'gatehouse-bench';
// The senders reach Google's hosts through PUSH_FCM_ENDPOINT; the names stay Google's, so the certificate carries them.
const TOKEN_URI = 'https://oauth2.googleapis.com/token';

/** Both fakes, each in its own process, under one throwaway CA (PUSH_PROVIDER_CA is one file). */
export async function startBenchProviders(): Promise<BenchProviders> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-bench-push-'));
  const ca = await createDevCa();
  const tls = await issueCertificate(ca, { server: ['localhost', '127.0.0.1', 'fcm.googleapis.com', 'oauth2.googleapis.com'] });
  await writeFile(path.join(dir, 'ca.pem'), ca.cert);
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = (key: typeof ec.privateKey) => key.export({ type: 'pkcs8', format: 'pem' }).toString();
  const spki = (key: typeof ec.publicKey) => key.export({ type: 'spki', format: 'pem' }).toString();
  const clientEmail = `push@${PROJECT_ID}.iam.gserviceaccount.com`;

  const started: FakeProcess[] = [];
  const close = async () => {
    await Promise.all(started.map((fake) => fake.close()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const apns = await startFakeApns({ ...tls, teamId: TEAM_ID, keys: { [KEY_ID]: spki(ec.publicKey) } });
    started.push(apns);
    const fcm = await startFakeFcm({ ...tls, projectId: PROJECT_ID, clientEmail, publicKey: spki(rsa.publicKey), tokenPath: new URL(TOKEN_URI).pathname, tokenUri: TOKEN_URI });
    started.push(fcm);
    return {
      apns: { ...apns, provider: 'apns', platform: 'ios', credential: { provider: 'apns', signingKey: pem(ec.privateKey), keyId: KEY_ID, teamId: TEAM_ID, topic: 'com.bench.app' } },
      fcm: {
        ...fcm, provider: 'fcm', platform: 'android',
        credential: { provider: 'fcm', serviceAccount: { project_id: PROJECT_ID, client_email: clientEmail, private_key: pem(rsa.privateKey), private_key_id: 'bench-1', token_uri: TOKEN_URI } },
      },
      env: { PUSH_APNS_ENDPOINT: `127.0.0.1:${apns.port}`, PUSH_FCM_ENDPOINT: `127.0.0.1:${fcm.port}`, PUSH_PROVIDER_CA: path.join(dir, 'ca.pem') },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
