/**
 * Flowkeeper's one retry policy. Every worker that backs off (privacy requests and erasure tasks,
 * HubSpot sync, media downloads) waits
 *
 *     max(Retry-After floor, min(capMs, baseMs · 2^(failures − 1))) · (1 + jitter · random)
 *
 * and does so by completing its queue message and scheduling a new one, never by sleeping in a handler
 * (Service Bus triggers in Node have no host retry policy: README, "Queues").
 *
 * - The exponential step is the shortest wait; jitter only lengthens it, so the many messages that failed
 *   together (one store outage) come back spread out instead of hitting the store together again.
 * - A service that names a time to come back (Retry-After, x-ms-retry-after-ms) is a floor: never earlier.
 * - A throttled answer (429, or Flowkeeper's own pacing) is not a failed attempt: it waits for its
 *   Retry-After (or `throttledMs` when none was named) without growing the exponential step.
 *
 * Each use has its own numbers (the constants beside its worker); the formula is this one.
 */
export interface Backoff {
  /** The wait after the first failed attempt, before jitter; each further failed attempt doubles it. */
  baseMs: number;
  /** The longest exponential step, before jitter: the longest wait is `capMs · (1 + jitter)`. */
  capMs: number;
  /** Up to this fraction of the wait is added at random: 0.25 makes a wait up to a quarter longer. */
  jitter: number;
  /** How long a throttled answer that named no time to come back waits. */
  throttledMs: number;
  /** The shortest wait a Retry-After is honoured with: "come back now" would spend a rate-limit budget at once. */
  minRetryAfterMs: number;
}

export interface DelayInput {
  /** Failed attempts so far (1 after the first failure); 0 for a wait that is not after a failure. */
  failures: number;
  /** What the service asked for (Retry-After), in milliseconds, if it said. */
  retryAfterMs?: number;
  /** [0, 1): the jitter's randomness (a parameter so tests can pin it). */
  random?: () => number;
}

/** The wait before the next attempt, in whole milliseconds. */
export function retryDelayMs(backoff: Backoff, input: DelayInput): number {
  const step = input.failures > 0 ? Math.min(backoff.capMs, backoff.baseMs * 2 ** (input.failures - 1)) : 0;
  const floor = input.retryAfterMs === undefined || !Number.isFinite(input.retryAfterMs) ? 0 : Math.max(backoff.minRetryAfterMs, input.retryAfterMs);
  const random = input.random ?? Math.random;
  return Math.round(Math.max(step, floor) * (1 + backoff.jitter * random()));
}

/**
 * The wait after a throttled answer, which is not a failed attempt: what the service asked for (or
 * `throttledMs`), never less than `minRetryAfterMs`, plus the jitter.
 */
export function throttledDelayMs(backoff: Backoff, retryAfterMs: number | undefined, random?: () => number): number {
  return retryDelayMs(backoff, { failures: 0, retryAfterMs: retryAfterMs ?? backoff.throttledMs, ...(random ? { random } : {}) });
}
