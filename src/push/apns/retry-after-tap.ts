import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import type apn from '@parse/node-apn';

type Client = { connect(): Promise<void>; session?: ClientHttp2Session };

/**
 * Hands every `retry-after` APNs answers to `record`, with the request's
 * apns-id. @parse/node-apn 8 reads `headers['Retry-After']` (HTTP/2 header
 * names are lower case, so it is never found) and deletes it from what it
 * returns anyway (lib/client.js); the sender needs it as a floor for the
 * caller's backoff. Each new HTTP/2 session node-apn opens gets its
 * `request` wrapped. Throws at construction if node-apn's shape changed.
 */
export function tapRetryAfter(provider: apn.Provider, record: (apnsId: string, retryAfter: string) => void): void {
  const client = (provider as unknown as { client?: Client }).client;
  if (typeof client?.connect !== 'function') throw new Error('@parse/node-apn no longer has provider.client.connect, where Gatehouse reads Retry-After');
  const connect = client.connect.bind(client);
  const tapped = new WeakSet<ClientHttp2Session>();
  client.connect = async () => {
    await connect();
    const session = client.session;
    if (!session || tapped.has(session)) return;
    tapped.add(session);
    const request = session.request.bind(session);
    session.request = ((headers: OutgoingHttpHeaders, options?: unknown) => {
      const stream: ClientHttp2Stream = request(headers, options as never);
      const apnsId = headers['apns-id'];
      if (typeof apnsId === 'string') {
        stream.once('response', (answer: IncomingHttpHeaders) => {
          const retryAfter = answer['retry-after'];
          if (retryAfter !== undefined) record(apnsId, String(retryAfter));
        });
      }
      return stream;
    }) as ClientHttp2Session['request'];
  };
}
