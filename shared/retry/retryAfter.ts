/** What a response's headers say about when to come back, for any service Flowkeeper calls. */
export interface HeaderReader {
  get(name: string): string | null | undefined;
}

/**
 * Milliseconds until the service wants to be called again: `retry-after-ms` / `x-ms-retry-after-ms`
 * (Azure services), else `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3); undefined when
 * none is given or readable. Never negative.
 */
export function retryAfterMsOf(headers: HeaderReader | undefined, now: number = Date.now()): number | undefined {
  if (!headers) return undefined;
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const value = headers.get(name);
    if (value !== null && value !== undefined && value.trim() !== '' && Number.isFinite(Number(value))) return Math.max(0, Number(value));
  }
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
