import { ErrorResponse, RestError, TimeoutError as CosmosTimeoutError } from '@azure/cosmos';
import { createHttpHeaders, createPipelineRequest } from '@azure/core-rest-pipeline';
import { ServiceBusError } from '@azure/service-bus';
import { describe, expect, it } from 'vitest';
import { DecryptionError } from '../../shared/crypto/dataEncryption';
import { classifyFailure, classifyStatus, isOutage, type FailureClass } from '../../shared/failures';
import { HubSpotError } from '../../shared/hubspot/hubspotClient';
import { describeFailure, StoreError, step } from '../../shared/privacy';
import { MissingSecretError } from '../../shared/secrets/secretProvider';

/** What an SDK message may quote. The classification never reads it and never repeats it. */
const SECRET_TEXT = 'SELECT * FROM c WHERE c.waId = "447700900123"';

function cosmos(status: number, options: { substatus?: number; retryAfterInMs?: number } = {}): ErrorResponse {
  const error = new ErrorResponse(SECRET_TEXT);
  error.code = status;
  if (options.substatus !== undefined) error.substatus = options.substatus;
  if (options.retryAfterInMs !== undefined) error.retryAfterInMs = options.retryAfterInMs;
  return error;
}

function rest(url: string, options: { statusCode?: number; code?: string; headers?: Record<string, string> }): RestError {
  const request = createPipelineRequest({ url });
  return new RestError(SECRET_TEXT, {
    ...(options.statusCode !== undefined ? { statusCode: options.statusCode, response: { request, status: options.statusCode, headers: createHttpHeaders(options.headers ?? {}) } } : {}),
    ...(options.code !== undefined ? { code: options.code } : {}),
    request,
  });
}

const COSMOS = 'https://cosmos-fk.documents.azure.com/dbs/flowkeeper/colls/subjects/docs';
const BLOB = 'https://stflowkeeper.blob.core.windows.net/media/t-1/abc/wamid.1';
const KEY_VAULT = 'https://kv-flowkeeper.vault.azure.net/secrets/HUBSPOT-TOKEN-T-1';
const SERVICE_BUS = 'https://sb-flowkeeper.servicebus.windows.net/erasure-tasks';
const socket = (code: string) => Object.assign(new Error(`connect ${code} 10.1.2.3:443`), { code });

type Case = [what: string, error: unknown, expected: { class: FailureClass; store?: string; status?: number; retryAfterMs?: number }, outage: boolean];

const cases: Case[] = [
  // Cosmos DB (@azure/cosmos ErrorResponse, after the SDK's own retries)
  ['Cosmos 503', cosmos(503), { class: 'transient', store: 'cosmos', status: 503 }, true],
  ['Cosmos 429 with x-ms-retry-after-ms', cosmos(429, { retryAfterInMs: 1500 }), { class: 'throttled', store: 'cosmos', retryAfterMs: 1500 }, true],
  ['Cosmos 449 retry-with', cosmos(449), { class: 'transient', store: 'cosmos' }, true],
  ['Cosmos 410 gone (a partition moved)', cosmos(410), { class: 'transient', store: 'cosmos' }, true],
  ['Cosmos 404/1002 (session not yet readable)', cosmos(404, { substatus: 1002 }), { class: 'transient', store: 'cosmos' }, true],
  ['Cosmos 404', cosmos(404), { class: 'not-found', store: 'cosmos' }, false],
  ['Cosmos 409 (an id already taken)', cosmos(409), { class: 'transient', store: 'cosmos' }, false],
  ['Cosmos 412 (a concurrent write won)', cosmos(412), { class: 'transient', store: 'cosmos' }, false],
  ['Cosmos 400 (a bad query)', cosmos(400), { class: 'permanent', store: 'cosmos' }, false],
  ['Cosmos 403 (a missing role)', cosmos(403), { class: 'permanent', store: 'cosmos' }, false],
  ['Cosmos 413 (a document too large)', cosmos(413), { class: 'permanent', store: 'cosmos' }, false],
  ['a Cosmos request timeout', new CosmosTimeoutError(SECRET_TEXT), { class: 'transient', store: 'cosmos' }, true],
  ['a dropped Cosmos connection', rest(COSMOS, { code: 'ECONNRESET' }), { class: 'transient', store: 'cosmos' }, true],
  // Blob Storage (@azure/storage-blob RestError)
  ['Blob 503 ServerBusy with Retry-After', rest(BLOB, { statusCode: 503, code: 'ServerBusy', headers: { 'retry-after': '7' } }), { class: 'transient', store: 'blob', retryAfterMs: 7000 }, true],
  ['Blob 404 BlobNotFound', rest(BLOB, { statusCode: 404, code: 'BlobNotFound' }), { class: 'not-found', store: 'blob' }, false],
  ['Blob 409 LeaseAlreadyPresent', rest(BLOB, { statusCode: 409, code: 'LeaseAlreadyPresent' }), { class: 'transient', store: 'blob' }, false],
  ['Blob 412 ConditionNotMet', rest(BLOB, { statusCode: 412, code: 'ConditionNotMet' }), { class: 'transient', store: 'blob' }, false],
  ['Blob 403 AuthorizationPermissionMismatch', rest(BLOB, { statusCode: 403, code: 'AuthorizationPermissionMismatch' }), { class: 'permanent', store: 'blob' }, false],
  ['Azurite unreachable', rest('http://127.0.0.1:10000/devstoreaccount1/media/x', { code: 'ECONNREFUSED' }), { class: 'transient', store: 'blob' }, true],
  // Key Vault (@azure/keyvault-secrets RestError)
  ['Key Vault 429 with x-ms-retry-after-ms', rest(KEY_VAULT, { statusCode: 429, headers: { 'x-ms-retry-after-ms': '2500' } }), { class: 'throttled', store: 'key-vault', retryAfterMs: 2500 }, true],
  ['Key Vault 401', rest(KEY_VAULT, { statusCode: 401 }), { class: 'permanent', store: 'key-vault' }, false],
  ['Key Vault 404 SecretNotFound', rest(KEY_VAULT, { statusCode: 404, code: 'SecretNotFound' }), { class: 'not-found', store: 'key-vault' }, false],
  // Service Bus (@azure/service-bus ServiceBusError; the administration client's RestError)
  ['Service Bus busy', new ServiceBusError(SECRET_TEXT, 'ServiceBusy'), { class: 'throttled', store: 'service-bus', retryAfterMs: 10_000 }, true],
  ['Service Bus unreachable', new ServiceBusError(SECRET_TEXT, 'ServiceCommunicationProblem'), { class: 'transient', store: 'service-bus' }, true],
  ['Service Bus timeout', new ServiceBusError(SECRET_TEXT, 'ServiceTimeout'), { class: 'transient', store: 'service-bus' }, true],
  ['a Service Bus queue that does not exist', new ServiceBusError(SECRET_TEXT, 'MessagingEntityNotFound'), { class: 'not-found', store: 'service-bus' }, false],
  ['Service Bus refusing the identity', new ServiceBusError(SECRET_TEXT, 'UnauthorizedAccess'), { class: 'permanent', store: 'service-bus' }, false],
  ['a general Service Bus error the SDK calls retryable', Object.assign(new ServiceBusError(SECRET_TEXT, 'GeneralError'), { retryable: true }), { class: 'transient', store: 'service-bus' }, true],
  ['the Service Bus administration client answering 503', rest(SERVICE_BUS, { statusCode: 503 }), { class: 'transient', store: 'service-bus' }, true],
  // HubSpot (shared/hubspot/hubspotClient HubSpotError)
  ['HubSpot 502', new HubSpotError('transient', 'HubSpot answered 502 on contact search', 502), { class: 'transient', store: 'hubspot' }, true],
  ['HubSpot 429 TEN_SECONDLY_ROLLING', new HubSpotError('rate-limited', 'HubSpot answered 429', 429, 10_000, 'TEN_SECONDLY_ROLLING'), { class: 'throttled', store: 'hubspot', retryAfterMs: 10_000 }, true],
  ['HubSpot 401 (a revoked token)', new HubSpotError('permanent', 'HubSpot answered 401', 401), { class: 'permanent', store: 'hubspot' }, false],
  ['HubSpot 404', new HubSpotError('permanent', 'HubSpot answered 404', 404), { class: 'not-found', store: 'hubspot' }, false],
  // The Graph API and anything else over fetch: the socket error is the cause
  ["fetch's TypeError with a refused connection as its cause", new TypeError('fetch failed', { cause: socket('ECONNREFUSED') }), { class: 'transient' }, true],
  ['an undici headers timeout', socket('UND_ERR_HEADERS_TIMEOUT'), { class: 'transient' }, true],
  ['AbortSignal.timeout', new DOMException(SECRET_TEXT, 'TimeoutError'), { class: 'transient' }, true],
  ['a DNS failure', socket('EAI_AGAIN'), { class: 'transient' }, true],
  // Another library's error with an HTTP status, the way the Azure SDKs carry one
  ['an error with statusCode 503', Object.assign(new Error(SECRET_TEXT), { statusCode: 503 }), { class: 'transient', status: 503 }, true],
  ['an error with code 400', Object.assign(new Error(SECRET_TEXT), { code: 400 }), { class: 'permanent', status: 400 }, false],
  ['an error with code 422 (an unknown 4xx)', Object.assign(new Error(SECRET_TEXT), { code: 422 }), { class: 'permanent', status: 422 }, false],
  // Flowkeeper's own
  ['a missing secret', new MissingSecretError('WHATSAPP_ACCESS_TOKEN'), { class: 'permanent' }, false],
  ['a key that cannot decrypt', new DecryptionError('unknown key id'), { class: 'permanent' }, false],
  // An outage wrapped by a caller is still the outage
  ['a wrapped Cosmos 503', new Error('tenant lookup failed', { cause: cosmos(503) }), { class: 'transient', store: 'cosmos' }, true],
];

describe('one classifier for every store', () => {
  it.each(cases)('%s', (_what, error, expected, outage) => {
    const failure = classifyFailure(error);
    expect(failure).toMatchObject(expected);
    expect(failure.recognised).toBe(true);
    expect(isOutage(failure)).toBe(outage);
    expect(JSON.stringify(failure)).not.toContain('447700900123');
  });

  it('an error it cannot read (a bug, a thrown string) is transient for a bounded retry, but never an outage', () => {
    for (const error of [new TypeError(`Cannot read properties of undefined ${SECRET_TEXT}`), new Error(SECRET_TEXT), SECRET_TEXT, undefined, socket('UND_ERR_INVALID_ARG')]) {
      const failure = classifyFailure(error);
      expect(failure).toMatchObject({ class: 'transient', recognised: false });
      expect(isOutage(failure)).toBe(false);
      expect(failure.detail).not.toContain('447700900123');
    }
  });

  it('names what it read, never the message: class and status or code', () => {
    expect(classifyFailure(cosmos(503)).detail).toBe('ErrorResponse 503');
    expect(classifyFailure(rest(COSMOS, { code: 'ECONNRESET' })).detail).toBe('RestError ECONNRESET');
    expect(classifyFailure(new ServiceBusError(SECRET_TEXT, 'ServiceBusy')).detail).toBe('ServiceBusError ServiceBusy');
  });
});

describe('the status table', () => {
  it('an unknown 4xx is permanent; 408, 409, 412, 429 and the 5xx a retry can clear are not', () => {
    const table = Object.fromEntries([400, 401, 403, 404, 405, 408, 409, 410, 412, 413, 415, 422, 423, 429, 449, 500, 501, 502, 503, 504, 505].map((s) => [s, classifyStatus(s)]));
    expect(table).toEqual({
      400: 'permanent', 401: 'permanent', 403: 'permanent', 404: 'not-found', 405: 'permanent', 408: 'transient', 409: 'transient', 410: 'not-found',
      412: 'transient', 413: 'permanent', 415: 'permanent', 422: 'permanent', 423: 'permanent', 429: 'throttled', 449: 'permanent',
      500: 'transient', 501: 'permanent', 502: 'transient', 503: 'transient', 504: 'transient', 505: 'permanent',
    });
  });

  it("Cosmos' documented retriable answers: 449 retry-with, 410 gone, 404 with substatus 1002", () => {
    expect([classifyStatus(449, 'cosmos'), classifyStatus(410, 'cosmos'), classifyStatus(404, 'cosmos', 1002), classifyStatus(404, 'cosmos')]).toEqual(['transient', 'transient', 'transient', 'not-found']);
  });
});

describe('the privacy tasks read failures through it', () => {
  it('a refused request (an unknown 4xx) fails the task at once instead of spending its attempts', () => {
    expect(describeFailure(Object.assign(new Error(SECRET_TEXT), { statusCode: 400 }), 'hubspot', 'erasure')).toMatchObject({ kind: 'permanent', reason: 'hubspot answered 400 on erasure' });
    expect(describeFailure(cosmos(404), 'Flowkeeper', 'verification')).toMatchObject({ kind: 'permanent', reason: 'Cosmos DB answered 404 on verification', store: 'cosmos' });
  });

  it('a 429 is throttled with its Retry-After; a 503 and an unreadable error are transient', () => {
    expect(describeFailure(cosmos(429, { retryAfterInMs: 800 }))).toMatchObject({ kind: 'throttled', retryAfterMs: 800, store: 'cosmos' });
    expect(describeFailure(rest(BLOB, { statusCode: 503 }), 'Flowkeeper', 'export upload')).toMatchObject({ kind: 'transient', reason: 'Blob Storage answered 503 on export upload', store: 'blob' });
    expect(describeFailure(new Error(SECRET_TEXT), 'Flowkeeper', 'access')).toEqual({ kind: 'transient', reason: 'Flowkeeper failed on access (Error)' });
  });

  it('a step names the store it ran against, so a failed request says which one', async () => {
    const failed = await step('Blob Storage', 'media listing', async () => {
      throw socket('ECONNREFUSED');
    }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(StoreError);
    expect(failed).toMatchObject({ kind: 'transient', store: 'blob', message: 'Blob Storage failed on media listing (ECONNREFUSED)' });
  });
});
