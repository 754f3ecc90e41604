import { createDevCa, issueCertificate } from '../../../src/broker/dev-certificates.js';

/** The hosts a push fake answers for: loopback, and Google's names for FCM routed to it. */
export const FAKE_HOSTS = ['localhost', '127.0.0.1', 'fcm.googleapis.com', 'oauth2.googleapis.com'];

/** A throwaway CA and a server certificate for the fakes, made in the test. */
export async function fakeTls(): Promise<{ ca: string; cert: string; key: string }> {
  const ca = await createDevCa();
  const server = await issueCertificate(ca, { server: FAKE_HOSTS });
  return { ca: ca.cert, cert: server.cert, key: server.key };
}
