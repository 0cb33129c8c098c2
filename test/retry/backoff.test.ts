import { createHttpHeaders } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SYNC_RETRY } from '../../shared/hubspot/hubspotSync';
import { DEFAULT_RETRY_POLICY } from '../../shared/privacy';
import { retryAfterMsOf, retryDelayMs, throttledDelayMs, type Backoff } from '../../shared/retry';
import { MEDIA_BACKOFF } from '../../shared/whatsapp';

const policy: Backoff = { baseMs: 1000, capMs: 8000, jitter: 0.5, throttledMs: 10_000, minRetryAfterMs: 500 };
const low = () => 0;
const high = () => 1;

describe('the one backoff formula', () => {
  it('doubles the wait with each failed attempt from baseMs, and stops doubling at capMs', () => {
    expect([1, 2, 3, 4, 5, 6].map((failures) => retryDelayMs(policy, { failures, random: low }))).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it('jitter only lengthens a wait, by up to its fraction, so retries that failed together spread out', () => {
    expect(retryDelayMs(policy, { failures: 2, random: high })).toBe(3000);
    const spread = new Set(Array.from({ length: 100 }, () => retryDelayMs(policy, { failures: 3 })));
    expect(spread.size).toBeGreaterThan(20);
    for (const wait of spread) {
      expect(wait).toBeGreaterThanOrEqual(4000);
      expect(wait).toBeLessThanOrEqual(6000);
    }
  });

  it('a Retry-After longer than the step is a floor: never earlier than the service asked', () => {
    expect(retryDelayMs(policy, { failures: 1, retryAfterMs: 7000, random: low })).toBe(7000);
    expect(retryDelayMs(policy, { failures: 1, retryAfterMs: 7000, random: high })).toBe(10_500);
    // A shorter one does not shorten the backoff.
    expect(retryDelayMs(policy, { failures: 4, retryAfterMs: 1000, random: low })).toBe(8000);
  });

  it('"come back now" is raised to minRetryAfterMs; a Retry-After that is not a number is ignored', () => {
    expect(retryDelayMs(policy, { failures: 0, retryAfterMs: 0, random: low })).toBe(500);
    expect(retryDelayMs(policy, { failures: 1, retryAfterMs: Number.NaN, random: low })).toBe(1000);
  });

  it('a throttled answer is not a failed attempt: its Retry-After (or throttledMs) without the exponential step', () => {
    expect(throttledDelayMs(policy, 3000, low)).toBe(3000);
    expect(throttledDelayMs(policy, undefined, low)).toBe(10_000);
    expect(throttledDelayMs(policy, 100, low)).toBe(500);
    expect(throttledDelayMs(policy, 3000, high)).toBe(4500);
  });
});

describe('each use keeps the bounds it had before the formula was shared', () => {
  it('privacy tasks: 1.6-2 s after the first failure, 4-5 min at most; 429: Retry-After plus up to a quarter', () => {
    expect([retryDelayMs(DEFAULT_RETRY_POLICY, { failures: 1, random: low }), retryDelayMs(DEFAULT_RETRY_POLICY, { failures: 1, random: high })]).toEqual([1600, 2000]);
    expect(retryDelayMs(DEFAULT_RETRY_POLICY, { failures: 30, random: high })).toBe(300_000);
    expect(throttledDelayMs(DEFAULT_RETRY_POLICY, 4000, high)).toBe(5000);
  });

  it('HubSpot sync: 2 s after the first failure (up to a tenth more), the Retry-After exactly at the low end', () => {
    expect(retryDelayMs(DEFAULT_SYNC_RETRY, { failures: 1, random: low })).toBe(2000);
    expect(retryDelayMs(DEFAULT_SYNC_RETRY, { failures: 1, random: high })).toBe(2200);
    expect(throttledDelayMs(DEFAULT_SYNC_RETRY, 7000, low)).toBe(7000);
    expect(throttledDelayMs(DEFAULT_SYNC_RETRY, undefined, low)).toBe(10_000);
  });

  it('media downloads: 2 s doubling up to an hour, a 429 counts as an attempt with its Retry-After as the floor', () => {
    expect(retryDelayMs(MEDIA_BACKOFF, { failures: 1, random: low })).toBe(2000);
    expect(retryDelayMs(MEDIA_BACKOFF, { failures: 40, random: low })).toBe(3_600_000);
    expect(retryDelayMs(MEDIA_BACKOFF, { failures: 1, retryAfterMs: 30_000, random: low })).toBe(30_000);
  });
});

describe('reading Retry-After', () => {
  const headers = (values: Record<string, string>) => createHttpHeaders(values);
  const now = Date.parse('2026-03-02T10:00:00Z');

  it('seconds, an HTTP date, or the millisecond headers Azure services send (which win)', () => {
    expect(retryAfterMsOf(headers({ 'retry-after': '7' }), now)).toBe(7000);
    expect(retryAfterMsOf(headers({ 'retry-after': 'Mon, 02 Mar 2026 10:00:20 GMT' }), now)).toBe(20_000);
    expect(retryAfterMsOf(headers({ 'x-ms-retry-after-ms': '1500', 'retry-after': '2' }), now)).toBe(1500);
    expect(retryAfterMsOf(headers({ 'retry-after-ms': '250' }), now)).toBe(250);
    expect(retryAfterMsOf(new Headers({ 'Retry-After': '3' }), now)).toBe(3000);
  });

  it('absent, unreadable or in the past: undefined or 0, never negative', () => {
    expect(retryAfterMsOf(undefined)).toBeUndefined();
    expect(retryAfterMsOf(headers({}), now)).toBeUndefined();
    expect(retryAfterMsOf(headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryAfterMsOf(headers({ 'retry-after': 'Mon, 02 Mar 2026 09:00:00 GMT' }), now)).toBe(0);
  });
});
