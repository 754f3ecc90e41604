import type { Messaging } from 'firebase-admin/messaging';

type RetryingClient = { retry?: unknown };

/**
 * firebase-admin 13 retries a 503 up to four times inside `send()`, sleeping
 * up to 60 s on Retry-After (utils/api-request.js, defaultRetryConfig), which
 * would hold a worker and the tenant's lane; and it offers no option to turn
 * that off. The caller owns backoff, so the HTTP client's retry config goes.
 * If a release moves it, this throws at startup rather than sleeping silently.
 */
export function turnOffInternalRetries(messaging: Messaging): void {
  const handler = (messaging as unknown as { messagingRequestHandler?: { httpClient?: RetryingClient; http2Client?: RetryingClient } }).messagingRequestHandler;
  const clients = [handler?.httpClient, handler?.http2Client];
  if (clients.some((client) => !client || !('retry' in client))) {
    throw new Error('firebase-admin no longer keeps its retry config where Gatehouse turns it off (messagingRequestHandler.httpClient.retry)');
  }
  for (const client of clients) client!.retry = undefined;
}
