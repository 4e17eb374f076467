/** How a machine retries a failed vendor intent; carried in context so it is part of the record. */
export interface RetryPolicy {
  /** Attempts of an issue or a validity change before it fails. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * Attempts of a revoke before it counts as stalled (it is retried all the same, slowly): three times
   * `maxAttempts` unless set. A live PIN after check-out is worse than a late one.
   */
  revokeAttempts?: number;
}

export const defaultRetryPolicy: RetryPolicy = { maxAttempts: 8, baseDelayMs: 1000, maxDelayMs: 60_000 };

/**
 * When the next attempt is due: exponential from `at`, capped, never sooner than the vendor's hint.
 * Pure: no jitter here (machines have no randomness); the timer dispatcher spreads load.
 */
export function nextAttemptAt(
  at: string,
  attempt: number,
  policy: RetryPolicy,
  retryAfterMs?: number,
): string {
  const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const delay = Math.max(backoff, retryAfterMs ?? 0);
  return new Date(Date.parse(at) + delay).toISOString();
}
