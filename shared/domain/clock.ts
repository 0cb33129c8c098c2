/** Time as a port, so retention, deadlines and backoff can be tested with a controllable clock. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * Waiting, as a port too: a use case that must pause briefly (a message lease held by another delivery)
 * waits through it, so a test can pass one that does not wait.
 */
export type Sleep = (ms: number) => Promise<void>;

export const timerSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
