/** How a delivery to a provider (push, Home Graph, Alexa events) is retried: at most `maxAttempts` tries, waits growing from `baseMs` to `capMs`. */
export type RetryPolicy = { baseMs: number; capMs: number; maxAttempts: number };

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 1_000, capMs: 3_600_000, maxAttempts: 8 };

/**
 * The wait before attempt `attempt + 1`: "full jitter" (a uniform draw below
 * the exponential bound, so that a provider's outage does not end in a
 * synchronized stampede), never shorter than the provider's Retry-After.
 */
export function retryDelayMs(policy: RetryPolicy, attempt: number, retryAfterMs?: number, random: () => number = Math.random): number {
  const bound = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(Math.floor(random() * bound), retryAfterMs ?? 0);
}
