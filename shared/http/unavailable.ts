import { ErrorResponse, RestError, TimeoutError as CosmosTimeoutError } from '@azure/cosmos';
import type { HttpHandler, HttpResponseInit } from '@azure/functions';
import { HubSpotError } from '../hubspot/hubspotClient';
import { errorResponse } from './responses';

/**
 * A backing service that is down, throttling or timing out is the caller's "try again in a bit", not a
 * bug: an admin route answers 503 with `retry-after` and names the service, instead of letting the
 * error escape to the host (a 500 with no hint). Anything else is rethrown and stays a 500.
 */
export type Dependency = 'Cosmos DB' | 'Blob Storage' | 'Key Vault' | 'HubSpot' | 'Service Bus';

export interface Outage {
  /** The service that failed, when the error says which; undefined when it cannot be told. */
  dependency?: Dependency;
  /** For the log: the error's class and status or code, never its message (an SDK message may quote data). */
  kind: string;
  retryAfterSeconds: number;
}

export const DEFAULT_RETRY_AFTER_SECONDS = 30;
const MAX_RETRY_AFTER_SECONDS = 3600;
/** Timeout, throttled, retry-with (Cosmos), and the server-side failures a later attempt can clear. */
const OUTAGE_STATUSES = new Set([408, 429, 449, 500, 502, 503, 504]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  // @azure/core-rest-pipeline's code for a request that could not be sent when the socket error had none.
  'REQUEST_SEND_ERROR',
]);
/** undici codes that mean the caller passed something wrong: a bug, not an outage. */
const UNDICI_MISUSE = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_INVALID_RETURN_VALUE', 'UND_ERR_NOT_SUPPORTED']);
const TIMEOUT_NAMES = new Set(['TimeoutError', 'AbortError']);

/**
 * Wraps an HTTP handler: a dependency outage thrown from it becomes 503 + `retry-after` with
 * `{error:{message:"<dependency> is unavailable, retry later"}}`; any other error is rethrown.
 */
export function answer503OnOutage(handler: HttpHandler): HttpHandler {
  return async (request, context) => {
    try {
      return await handler(request, context);
    } catch (error) {
      const outage = outageOf(error);
      if (!outage) throw error;
      context.warn(`${unavailableSubject(outage)} unavailable (${outage.kind}): answered 503, retry after ${outage.retryAfterSeconds} s`);
      return unavailableResponse(outage);
    }
  };
}

export function unavailableResponse(outage: Outage): HttpResponseInit {
  return {
    ...errorResponse(503, `${unavailableSubject(outage)} is unavailable, retry later`),
    headers: { 'retry-after': String(outage.retryAfterSeconds) },
  };
}

/**
 * The outage an error reports, by its class and status or code (never its message), looking through
 * `cause` (fetch's "fetch failed" TypeError carries the socket error there); undefined for anything else.
 */
export function outageOf(error: unknown, depth = 0): Outage | undefined {
  if (!(error instanceof Error) || depth > 3) return undefined;
  if (error instanceof HubSpotError) {
    return error.kind === 'permanent' ? undefined : outage('HubSpot', `HubSpotError ${error.status ?? error.kind}`, error.retryAfterMs);
  }
  if (error instanceof ErrorResponse) {
    const status = typeof error.code === 'number' ? error.code : undefined;
    return status !== undefined && OUTAGE_STATUSES.has(status) ? outage('Cosmos DB', `ErrorResponse ${status}`, error.retryAfterInMs) : undefined;
  }
  if (error instanceof CosmosTimeoutError) return outage('Cosmos DB', 'TimeoutError');
  if (error instanceof RestError || error.name === 'RestError') {
    const rest = error as RestError;
    const dependency = dependencyAt(rest.request?.url);
    if (typeof rest.statusCode === 'number') {
      return OUTAGE_STATUSES.has(rest.statusCode) ? outage(dependency, `RestError ${rest.statusCode}`, retryAfterMsOf(rest)) : undefined;
    }
    if (typeof rest.code === 'string' && isNetworkCode(rest.code)) return outage(dependency, `RestError ${rest.code}`);
  }
  const { code, retryable } = error as { code?: unknown; retryable?: unknown };
  if (error.name === 'ServiceBusError') return retryable === true ? outage('Service Bus', `ServiceBusError ${String(code)}`) : undefined;
  if (typeof code === 'string' && isNetworkCode(code)) return outage(undefined, `${error.name} ${code}`);
  if (TIMEOUT_NAMES.has(error.name)) return outage(undefined, error.name);
  return outageOf(error.cause, depth + 1);
}

function outage(dependency: Dependency | undefined, kind: string, retryAfterMs?: number): Outage {
  const seconds = retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0
    ? Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, Math.ceil(retryAfterMs / 1000)))
    : DEFAULT_RETRY_AFTER_SECONDS;
  return { ...(dependency ? { dependency } : {}), kind, retryAfterSeconds: seconds };
}

function unavailableSubject(outage: Outage): string {
  return outage.dependency ?? 'a backing service';
}

function isNetworkCode(code: string): boolean {
  return NETWORK_CODES.has(code) || (code.startsWith('UND_ERR_') && !UNDICI_MISUSE.has(code));
}

/** Which service a failed SDK request went to, from its URL (Azure host names, or the emulators' paths). */
function dependencyAt(url: string | undefined): Dependency | undefined {
  if (!url) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const { hostname, pathname } = parsed;
  if (hostname.includes('.documents.azure.') || /^\/dbs(\/|$)/.test(pathname)) return 'Cosmos DB';
  if (hostname.includes('.blob.core.') || pathname.startsWith('/devstoreaccount1')) return 'Blob Storage';
  if (hostname.includes('.vault.') || pathname.startsWith('/secrets/')) return 'Key Vault';
  return undefined;
}

/** Retry-After (seconds or an HTTP date), or the millisecond variants Azure services send. */
function retryAfterMsOf(error: RestError): number | undefined {
  const headers = error.response?.headers;
  if (!headers) return undefined;
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const ms = Number(headers.get(name));
    if (headers.get(name) && Number.isFinite(ms)) return ms;
  }
  const value = headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
