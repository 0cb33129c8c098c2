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
