import { ErrorResponse, TimeoutError as CosmosTimeoutError } from '@azure/cosmos';
import { DecryptionError } from '../crypto/dataEncryption';
import { HubSpotError } from '../hubspot/hubspotClient';
import { retryAfterMsOf, type HeaderReader } from '../retry/retryAfter';
import { MissingSecretError } from '../secrets/secretProvider';

/**
 * Flowkeeper's one reading of a failure, for every outside system it calls (Cosmos DB, Blob Storage,
 * Key Vault, Service Bus, HubSpot, the Graph API): the webhook's 503, the admin routes' 503 and the
 * privacy tasks' retries all decide from this.
 *
 * - `transient`: a later attempt can succeed (5xx, 408, timeouts, dropped or refused connections, and
 *   the conflicts below);
 * - `throttled`: the service asked us to slow down (429, Cosmos' 429 after the SDK's own retries,
 *   Service Bus' ServiceBusy), with its Retry-After when it named one;
 * - `permanent`: the same call fails the same way until someone changes something (400, 401, 403, 413,
 *   every other 4xx, a missing secret, a key that cannot decrypt);
 * - `not-found`: the thing is not there (404; 410 outside Cosmos).
 *
 * An unknown 4xx is permanent: retrying a request the service refused spends the attempts and hides the
 * cause. The 4xx that are retried are the ones whose service documents a later attempt as the remedy:
 * 408 (timeout), 409 and 412 (a concurrent change won: the next attempt re-reads and sees it), 429, and
 * Cosmos' 449 (retry with), 410 (partition moved) and 404 with substatus 1002 (session not yet readable).
 *
 * The classification reads the error's class, status and code, never its message: an SDK message may
 * quote the query or the document it was given, and `detail` is what logs, reasons and telemetry may hold.
 */
export type FailureClass = 'transient' | 'throttled' | 'permanent' | 'not-found';

export type Store = 'cosmos' | 'blob' | 'key-vault' | 'service-bus' | 'hubspot' | 'graph';

/** How an operator reads each store's name (the admin routes' 503 message, failure reasons). */
export const STORE_NAMES = {
  cosmos: 'Cosmos DB',
  blob: 'Blob Storage',
  'key-vault': 'Key Vault',
  'service-bus': 'Service Bus',
  hubspot: 'HubSpot',
  graph: 'Graph API',
} as const satisfies Record<Store, string>;

/** The store an operator-facing name stands for (`Cosmos DB` → `cosmos`). */
export function storeNamed(name: string): Store | undefined {
  return (Object.keys(STORE_NAMES) as Store[]).find((store) => STORE_NAMES[store] === name);
}

export interface Failure {
  class: FailureClass;
  /** The system that failed, when the error says which (its class, or the URL of the failed request). */
  store?: Store;
  /** The error's class and its status or code (`ErrorResponse 503`, `RestError ECONNRESET`): never its message. */
  detail: string;
  /** The HTTP status the service answered with, when it answered. */
  status?: number;
  /** A system or SDK error code (`ECONNREFUSED`, `ServiceBusy`), when there is one. */
  code?: string;
  /** When the service asked to be called again, in milliseconds from now. */
  retryAfterMs?: number;
  /** The request never got an answer: the connection failed or timed out. */
  unanswered?: 'network' | 'timeout';
  /**
   * The error's own message when Flowkeeper wrote it and it holds no personal data (the HubSpot client's
   * `HubSpot answered 401 on contact search`, a missing secret's name): what a failure reason may quote.
   * Absent for SDK errors, whose messages may quote a query or a document.
   */
  reason?: string;
  /**
   * False for an error whose shape says nothing (a plain Error, a TypeError from a bug). It is classed
   * `transient`, so a background task retries it a bounded number of times before failing loudly, but an
   * admin route never calls it an outage: it stays a 500, a bug to report.
   */
  recognised: boolean;
}

/** The class of an HTTP status, as the table above says; `store` adds that service's documented exceptions. */
export function classifyStatus(status: number, store?: Store, substatus?: number): FailureClass {
  if (status === 429) return 'throttled';
  if (status >= 500) return status === 501 || status === 505 ? 'permanent' : 'transient';
  if (status === 408 || status === 409 || status === 412) return 'transient';
  if (store === 'cosmos' && (status === 449 || status === 410 || (status === 404 && substatus === 1002))) return 'transient';
  if (status === 404 || status === 410) return 'not-found';
  return 'permanent';
}

/**
 * Whether a failure is a backing service being down or overloaded (what an admin route answers 503 for),
 * rather than a bug or a refusal. A conflict (409, 412) is transient for a task that re-reads, but in an
 * admin route it means a race the handler did not expect: that stays a 500.
 */
export function isOutage(failure: Failure): boolean {
  return failure.recognised && (failure.class === 'transient' || failure.class === 'throttled') && failure.status !== 409 && failure.status !== 412;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  // @azure/core-rest-pipeline's code for a request that could not be sent when the socket error had none.
  'REQUEST_SEND_ERROR',
]);
/** undici codes that mean the caller passed something wrong: a bug, not an outage. */
const UNDICI_MISUSE = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_INVALID_RETURN_VALUE', 'UND_ERR_NOT_SUPPORTED']);
const TIMEOUT_NAMES = new Set(['TimeoutError', 'AbortError']);

/** Service Bus codes (@azure/service-bus ServiceBusError.code) by class; any other follows the SDK's `retryable`. */
const SERVICE_BUS_CODES: Record<string, FailureClass> = {
  ServiceBusy: 'throttled',
  ServiceTimeout: 'transient',
  ServiceCommunicationProblem: 'transient',
  MessageLockLost: 'transient',
  SessionLockLost: 'transient',
  SessionCannotBeLocked: 'transient',
  MessagingEntityNotFound: 'not-found',
  MessageNotFound: 'not-found',
  MessageSizeExceeded: 'permanent',
  MessagingEntityDisabled: 'permanent',
  MessagingEntityAlreadyExists: 'permanent',
  UnauthorizedAccess: 'permanent',
  QuotaExceeded: 'permanent',
};
/** Service Bus asks a client turned away as busy to wait 10 s (its documented ServerBusy back-off). */
const SERVICE_BUS_BUSY_MS = 10_000;

/** Classifies anything thrown, looking through `cause` (fetch's "fetch failed" carries the socket error there). */
export function classifyFailure(error: unknown): Failure {
  return recognise(error, 0) ?? unrecognised(error);
}

function recognise(error: unknown, depth: number): Failure | undefined {
  if (!(error instanceof Error) || depth > 3) return undefined;
  if (error instanceof HubSpotError) {
    const kind: FailureClass = error.kind === 'rate-limited' ? 'throttled' : error.kind === 'transient' ? 'transient' : error.status === 404 ? 'not-found' : 'permanent';
    return failure(kind, 'hubspot', `HubSpotError ${error.status ?? error.kind}`, { status: error.status, retryAfterMs: error.retryAfterMs, unanswered: error.kind === 'transient' && error.status === undefined ? 'network' : undefined, reason: error.message });
  }
  if (error instanceof ErrorResponse) {
    if (typeof error.code === 'number') {
      return failure(classifyStatus(error.code, 'cosmos', typeof error.substatus === 'number' ? error.substatus : undefined), 'cosmos', `ErrorResponse ${error.code}`, { status: error.code, retryAfterMs: error.retryAfterInMs });
    }
    if (typeof error.code === 'string' && isNetworkCode(error.code)) return failure('transient', 'cosmos', `ErrorResponse ${error.code}`, { code: error.code, unanswered: 'network' });
  }
  if (error instanceof CosmosTimeoutError) return failure('transient', 'cosmos', 'TimeoutError', { unanswered: 'timeout' });
  if (error.name === 'RestError') {
    const rest = error as Error & { statusCode?: unknown; code?: unknown; request?: { url?: string }; response?: { headers?: HeaderReader } };
    const store = storeAt(rest.request?.url);
    if (typeof rest.statusCode === 'number') {
      return failure(classifyStatus(rest.statusCode, store), store, `RestError ${rest.statusCode}`, { status: rest.statusCode, code: typeof rest.code === 'string' ? rest.code : undefined, retryAfterMs: retryAfterMsOf(rest.response?.headers) });
    }
    if (typeof rest.code === 'string' && isNetworkCode(rest.code)) return failure('transient', store, `RestError ${rest.code}`, { code: rest.code, unanswered: 'network' });
  }
  const { code, retryable, statusCode } = error as { code?: unknown; retryable?: unknown; statusCode?: unknown };
  if (error.name === 'ServiceBusError' || error.name === 'MessagingError') {
    const known = typeof code === 'string' ? SERVICE_BUS_CODES[code] : undefined;
    const kind = known ?? (retryable === true ? 'transient' : 'permanent');
    return failure(kind, 'service-bus', `${error.name} ${String(code)}`, { code: typeof code === 'string' ? code : undefined, retryAfterMs: kind === 'throttled' ? SERVICE_BUS_BUSY_MS : undefined });
  }
  if (error instanceof MissingSecretError) return failure('permanent', undefined, error.name, { reason: error.message });
  if (error instanceof DecryptionError) return failure('permanent', undefined, error.name, {});
  // An error of another library that carries an HTTP status, the way the Azure SDKs do.
  const status = typeof statusCode === 'number' ? statusCode : typeof code === 'number' ? code : undefined;
  if (status !== undefined && status >= 100 && status < 600) return failure(classifyStatus(status), undefined, `${error.name} ${status}`, { status });
  if (typeof code === 'string' && isNetworkCode(code)) return failure('transient', undefined, `${error.name} ${code}`, { code, unanswered: 'network' });
  if (TIMEOUT_NAMES.has(error.name)) return failure('transient', undefined, error.name, { unanswered: 'timeout' });
  return recognise(error.cause, depth + 1);
}

function unrecognised(error: unknown): Failure {
  const name = error instanceof Error ? error.name : typeof error;
  const code = (error as { code?: unknown } | null)?.code;
  return { class: 'transient', detail: typeof code === 'string' ? `${name} ${code}` : name, ...(typeof code === 'string' ? { code } : {}), recognised: false };
}

function failure(
  kind: FailureClass,
  store: Store | undefined,
  detail: string,
  extra: { status?: number | undefined; code?: string | undefined; retryAfterMs?: number | undefined; unanswered?: 'network' | 'timeout' | undefined; reason?: string | undefined },
): Failure {
  const retryAfterMs = extra.retryAfterMs !== undefined && Number.isFinite(extra.retryAfterMs) && extra.retryAfterMs >= 0 ? extra.retryAfterMs : undefined;
  return {
    class: kind,
    ...(store ? { store } : {}),
    detail,
    ...(extra.status !== undefined ? { status: extra.status } : {}),
    ...(extra.code !== undefined ? { code: extra.code } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    ...(extra.unanswered ? { unanswered: extra.unanswered } : {}),
    ...(extra.reason !== undefined ? { reason: extra.reason } : {}),
    recognised: true,
  };
}

function isNetworkCode(code: string): boolean {
  return NETWORK_CODES.has(code) || (code.startsWith('UND_ERR_') && !UNDICI_MISUSE.has(code));
}

/** Which service a failed SDK request went to, from its URL (Azure host names, or the emulators' paths). */
function storeAt(url: string | undefined): Store | undefined {
  if (!url) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const { hostname, pathname } = parsed;
  if (hostname.includes('.documents.azure.') || /^\/dbs(\/|$)/.test(pathname)) return 'cosmos';
  if (hostname.includes('.blob.core.') || pathname.startsWith('/devstoreaccount1')) return 'blob';
  if (hostname.includes('.vault.') || pathname.startsWith('/secrets/')) return 'key-vault';
  if (hostname.includes('.servicebus.')) return 'service-bus';
  return undefined;
}
