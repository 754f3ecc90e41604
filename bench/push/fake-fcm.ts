import { forkFake, type FakeProcess } from './fake-process.js';

/** What the fake process is given on stdin: its TLS identity and the one service account whose assertions it accepts. */
export type FakeFcmSpec = { cert: string; key: string; projectId: string; clientEmail: string; publicKey: string; tokenPath: string; tokenUri: string };

/** Starts the FCM fake (fake-fcm-server.ts), token endpoint included, in its own process. */
export function startFakeFcm(spec: FakeFcmSpec): Promise<FakeProcess> {
  return forkFake('fake-fcm-server', spec);
}
