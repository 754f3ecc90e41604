import { forkFake, type FakeProcess } from './fake-process.js';

/** An answer other than 200 for every request to a topic (an app whose provider throttles it). */
export type ScriptedApnsAnswer = { status: number; reason: string; retryAfter?: string };

/** What the fake process is given on stdin: its TLS identity, the provider keys it accepts, scripted answers per topic. */
export type FakeApnsSpec = {
  cert: string; key: string; teamId: string; keys: Record<string, string>;
  answers?: Record<string, ScriptedApnsAnswer>;
  /** Tell the parent of each request as it is answered (ApnsArrival), in the order they arrived. */
  notify?: boolean;
};

/** One request as the fake answered it. */
export type ApnsArrival = { topic: string; token: string; status: number; receivedAt: number; kind: string | undefined };

/** Starts the APNs fake (fake-apns-server.ts) in its own process; `onRequest` hears of each request if `spec.notify`. */
export function startFakeApns(spec: FakeApnsSpec, onRequest?: (arrival: ApnsArrival) => void): Promise<FakeProcess> {
  return forkFake('fake-apns-server', spec, onRequest);
}
