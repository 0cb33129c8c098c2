import type { RetryPolicy } from './deps';

/**
 * The delay before attempt `attempt + 1` after `attempt` failed: exponential (base, 2x base, 4x base...)
 * capped at `capMs`, with "equal jitter" (half fixed, half random) so retries of many tasks that failed
 * together do not hit the store together again.
 */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const exponential = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential / 2 + (exponential / 2) * random());
}

/** When a store that rate-limited us named no time to come back. */
export const RATE_LIMITED_DELAY_MS = 10_000;

/**
 * The wait after a 429 or Flowkeeper's own pacing: at least what the store asked for (and never less
 * than the policy's minimum), plus up to a
 * quarter more at random, so the many messages turned away in one burst do not all come back in the
 * same instant (and most of them get turned away again).
 */
export function rateLimitedDelayMs(policy: Pick<RetryPolicy, 'minRateLimitedMs'>, retryAfterMs: number | undefined, random: () => number = Math.random): number {
  const asked = Math.max(policy.minRateLimitedMs, retryAfterMs ?? RATE_LIMITED_DELAY_MS);
  return Math.round(asked + (asked / 4) * random());
}
