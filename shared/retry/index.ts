export { retryDelayMs, throttledDelayMs, type Backoff, type DelayInput } from './backoff';
export { retryAfterMsOf, type HeaderReader } from './retryAfter';
