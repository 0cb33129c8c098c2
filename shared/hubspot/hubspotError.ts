/**
 * A failed HubSpot call. The message names the operation and the status (and HubSpot's enum category or
 * rate-limit policy), never a request or response body: those hold phone numbers and names.
 */
export type HubSpotErrorKind = 'rate-limited' | 'transient' | 'permanent';

export class HubSpotError extends Error {
  constructor(
    readonly kind: HubSpotErrorKind,
    message: string,
    readonly status?: number,
    /** For 'rate-limited': when to come back, in milliseconds (Retry-After, or the pacer's estimate). */
    readonly retryAfterMs?: number,
    /** For a 429: the policy HubSpot named (`TEN_SECONDLY_ROLLING`, `SECONDLY`, `DAILY`). */
    readonly policy?: string,
  ) {
    super(message);
    this.name = 'HubSpotError';
  }
}
