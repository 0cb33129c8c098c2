import { ErrorResponse, RestError, TimeoutError as CosmosTimeoutError } from '@azure/cosmos';
import { createHttpHeaders, createPipelineRequest } from '@azure/core-rest-pipeline';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registration } from '../../local/functionsCore';
import { HubSpotError } from '../../shared/hubspot/hubspotClient';
import { answer503OnOutage, outageOf } from '../../shared/http';
import { cli } from '../cli/support';
import { adminHeaders } from '../support/principals';
import { eventually } from '../support/testServices';
import { createProofTenant, startProofWorld, type ProofTenant, type ProofWorld } from './support/world';

/**
 * A backing store that is down is "try again in a bit" for an operator's script, not a bug: every admin
 * route answers 503 with `retry-after` and names the store (never 500, never the SDK's own message),
 * and a real bug still escapes to the host as a 500.
 */

/** What an SDK message may quote: a phone number, a query, a document. None of it may reach the answer. */
const SECRET_TEXT = 'upsert of {"waId":"+447700900123","name":"Ada"} failed: SELECT * FROM c WHERE c.waId = "447700900123"';

function cosmosError(status: number, retryAfterInMs?: number): ErrorResponse {
  const error = new ErrorResponse(SECRET_TEXT);
  error.code = status;
  if (retryAfterInMs !== undefined) error.retryAfterInMs = retryAfterInMs;
  return error;
}

function restError(url: string, options: { statusCode?: number; code?: string; headers?: Record<string, string> }): RestError {
  const request = createPipelineRequest({ url });
  return new RestError(SECRET_TEXT, {
    ...(options.statusCode !== undefined ? { statusCode: options.statusCode } : {}),
    ...(options.code !== undefined ? { code: options.code } : {}),
    request,
    ...(options.statusCode !== undefined ? { response: { request, status: options.statusCode, headers: createHttpHeaders(options.headers ?? {}) } } : {}),
  });
}

const systemError = (code: string) => Object.assign(new Error(`connect ${code} 10.1.2.3:443 ${SECRET_TEXT}`), { code });
const COSMOS_DOCS = 'http://127.0.0.1:8081/dbs/flowkeeper/colls/subjects/docs';
const BLOB = 'https://stflowkeeper.blob.core.windows.net/media/t-1/abc/wamid.1';
const KEY_VAULT = 'https://kv-flowkeeper.vault.azure.net/secrets/HUBSPOT-TOKEN-T-1';

/** Runs a handler that throws `error` through the wrapper, as the host would, capturing the log. */
async function throughWrapper(error: unknown): Promise<{ response?: HttpResponseInit; thrown?: unknown; logs: string[] }> {
  const logs: string[] = [];
  const context = new InvocationContext({ functionName: 'getTenant', logHandler: (level, ...args) => logs.push(`${level} ${args.map(String).join(' ')}`) });
  const handler = answer503OnOutage(async () => {
    throw error;
  });
  try {
    const response = (await handler(new HttpRequest({ url: 'http://localhost/api/tenants/t-1', method: 'GET' }), context)) as HttpResponseInit;
    return { response, logs };
  } catch (thrown) {
    return { thrown, logs };
  }
}

describe('the outage classifier (shared/http/unavailable.ts)', () => {
  const outages: [string, unknown, string, number][] = [
    ['Cosmos 503', cosmosError(503), 'Cosmos DB', 30],
    ['Cosmos 429 after the SDK retries (x-ms-retry-after-ms 1500)', cosmosError(429, 1500), 'Cosmos DB', 2],
    ['Cosmos 449 retry-with', cosmosError(449), 'Cosmos DB', 30],
    ['Cosmos 408, 500, 502, 504', cosmosError(504), 'Cosmos DB', 30],
    ['a Cosmos request timeout', new CosmosTimeoutError(SECRET_TEXT), 'Cosmos DB', 30],
    ['a dropped Cosmos connection (ECONNRESET)', restError(COSMOS_DOCS, { code: 'ECONNRESET' }), 'Cosmos DB', 30],
    ['Cosmos refusing connections', restError(COSMOS_DOCS, { code: 'ECONNREFUSED' }), 'Cosmos DB', 30],
    ['Blob 503 ServerBusy with Retry-After: 7', restError(BLOB, { statusCode: 503, code: 'ServerBusy', headers: { 'retry-after': '7' } }), 'Blob Storage', 7],
    ['Blob 500 InternalError', restError(BLOB, { statusCode: 500, code: 'InternalError' }), 'Blob Storage', 30],
    ['Azurite unreachable', restError('http://127.0.0.1:10000/devstoreaccount1/media/x', { code: 'ETIMEDOUT' }), 'Blob Storage', 30],
    ['Key Vault throttling (429, x-ms-retry-after-ms 2500)', restError(KEY_VAULT, { statusCode: 429, headers: { 'x-ms-retry-after-ms': '2500' } }), 'Key Vault', 3],
    ['HubSpot 502', new HubSpotError('transient', 'HubSpot answered 502 on contact search', 502), 'HubSpot', 30],
    ['HubSpot 429 with Retry-After', new HubSpotError('rate-limited', 'HubSpot answered 429', 429, 10_000, 'TEN_SECONDLY_ROLLING'), 'HubSpot', 10],
    ['a Service Bus outage the SDK calls retryable', Object.assign(new Error(SECRET_TEXT), { name: 'ServiceBusError', code: 'ServiceCommunicationProblem', retryable: true }), 'Service Bus', 30],
  ];
  it.each(outages)('%s: 503, retry-after, the store named, none of the error text', async (_what, error, dependency, retryAfter) => {
    const { response, thrown, logs } = await throughWrapper(error);
    expect(thrown).toBeUndefined();
    expect(response).toEqual({ status: 503, headers: { 'retry-after': String(retryAfter) }, jsonBody: { error: { message: `${dependency} is unavailable, retry later` } } });
    const everything = JSON.stringify(response) + logs.join('\n');
    for (const needle of ['447700900123', 'Ada', 'SELECT', 'waId']) expect(everything).not.toContain(needle);
    expect(logs.join('\n')).toContain(`${dependency} unavailable`);
  });

  const unnamed: [string, unknown][] = [
    ['a socket error (ECONNREFUSED, EPIPE, ENOTFOUND, EAI_AGAIN)', systemError('EAI_AGAIN')],
    ["fetch's TypeError with the socket error as its cause", new TypeError('fetch failed', { cause: systemError('ECONNREFUSED') })],
    ['an undici timeout (UND_ERR_HEADERS_TIMEOUT)', systemError('UND_ERR_HEADERS_TIMEOUT')],
    ['a timeout (AbortSignal.timeout)', new DOMException(SECRET_TEXT, 'TimeoutError')],
    ['an abort', new DOMException(SECRET_TEXT, 'AbortError')],
  ];
  it.each(unnamed)('%s: 503 that says a backing service is down, without guessing which', async (_what, error) => {
    const { response } = await throughWrapper(error);
    expect(response).toEqual({ status: 503, headers: { 'retry-after': '30' }, jsonBody: { error: { message: 'a backing service is unavailable, retry later' } } });
  });

  const bugs: [string, unknown][] = [
    ['a TypeError (a bug)', new TypeError(`Cannot read properties of undefined (reading 'id') ${SECRET_TEXT}`)],
    ['a plain Error', new Error(SECRET_TEXT)],
    ['Cosmos 404 (a missing container is not an outage)', cosmosError(404)],
    ['Cosmos 409 conflict', cosmosError(409)],
    ['Cosmos 400 bad query', cosmosError(400)],
    ['Blob 403 (a role assignment missing)', restError(BLOB, { statusCode: 403, code: 'AuthorizationPermissionMismatch' })],
    ['Key Vault 401', restError(KEY_VAULT, { statusCode: 401 })],
    ['HubSpot permanent (401)', new HubSpotError('permanent', 'HubSpot answered 401', 401)],
    ['a Service Bus error that is not retryable', Object.assign(new Error(SECRET_TEXT), { name: 'ServiceBusError', code: 'MessagingEntityNotFound', retryable: false })],
    ['undici misuse (UND_ERR_INVALID_ARG)', systemError('UND_ERR_INVALID_ARG')],
    ['a thrown string', SECRET_TEXT],
  ];
  it.each(bugs)('%s: rethrown as it is, so the host answers 500', async (_what, error) => {
    const { response, thrown } = await throughWrapper(error);
    expect(response).toBeUndefined();
    expect(thrown).toBe(error);
    expect(outageOf(error)).toBeUndefined();
  });

  it('an outage wrapped in another error (its cause) is still an outage; a retry-after is kept within [1 s, 1 h]', () => {
    expect(outageOf(new Error('tenant lookup failed', { cause: cosmosError(503) }))).toMatchObject({ dependency: 'Cosmos DB', retryAfterSeconds: 30 });
    expect(outageOf(cosmosError(429, 0))?.retryAfterSeconds).toBe(1);
    expect(outageOf(cosmosError(429, 86_400_000))?.retryAfterSeconds).toBe(3600);
    const at = new Date(Date.now() + 20_000).toUTCString();
    expect(outageOf(restError(BLOB, { statusCode: 503, headers: { 'retry-after': at } }))?.retryAfterSeconds).toBeGreaterThanOrEqual(19);
  });
});

/**
 * Against the local host, Cosmos DB behind the fault proxy. Routes are read from the host's
 * registrations (as the admin security proof does), so a new admin route cannot go unchecked.
 */
const PUBLIC_ROUTES = new Set(['health', 'whatsapp/webhook', 'whatsapp/flows/{tenantId}']);
const ADMIN = '0d0d0d0d-0000-4000-8000-0000000000e1';

interface Call {
  method: string;
  path: string;
  body?: unknown;
}

/**
 * Per admin route: a valid call, whether it needs Cosmos DB (the dead-letter reads only need the queue,
 * so they keep answering in a Cosmos outage), and what it answers once Cosmos is back.
 */
interface RouteCase {
  call: () => Call;
  needsCosmos: boolean;
  succeeds: number[];
}

let world: ProofWorld;
let a: ProofTenant;
let b: ProofTenant;
let c: ProofTenant;
const ids = { failed: '', access: '' };
let adminRoutes: Registration[];

const CASES: Record<string, RouteCase> = {
  putTenant: { call: () => ({ method: 'PUT', path: `tenants/${a.tenantId}`, body: { name: 'Acme Lettings', phoneNumberIds: [a.phoneNumberId], messageStorage: 'encrypted', hubspot: { enabled: true } } }), needsCosmos: true, succeeds: [200] },
  getTenant: { call: () => ({ method: 'GET', path: `tenants/${a.tenantId}` }), needsCosmos: true, succeeds: [200] },
  listTenants: { call: () => ({ method: 'GET', path: 'tenants' }), needsCosmos: true, succeeds: [200] },
  postPrivacyRequest: { call: () => ({ method: 'POST', path: 'privacy-requests', body: { tenantId: b.tenantId, type: 'objection', subject: { waId: '+447700900177' } } }), needsCosmos: true, succeeds: [202, 200] },
  listPrivacyRequests: { call: () => ({ method: 'GET', path: `privacy-requests?tenantId=${a.tenantId}` }), needsCosmos: true, succeeds: [200] },
  getPrivacyRequest: { call: () => ({ method: 'GET', path: `privacy-requests/${ids.failed}` }), needsCosmos: true, succeeds: [200] },
  getPrivacyRequestExport: { call: () => ({ method: 'GET', path: `privacy-requests/${ids.access}/export` }), needsCosmos: true, succeeds: [200] },
  retryPrivacyRequest: { call: () => ({ method: 'POST', path: `privacy-requests/${ids.failed}/retry` }), needsCosmos: true, succeeds: [202] },
  // Cancel before reading the cancellation: the "after the outage" calls run in this order.
  cancelTenant: { call: () => ({ method: 'POST', path: `tenants/${c.tenantId}/cancel` }), needsCosmos: true, succeeds: [202] },
  getTenantCancellation: { call: () => ({ method: 'GET', path: `tenants/${c.tenantId}/cancellation` }), needsCosmos: true, succeeds: [200] },
  getSubjectMessages: { call: () => ({ method: 'GET', path: `tenants/${a.tenantId}/subjects/%2B447700900101/messages` }), needsCosmos: true, succeeds: [200] },
  migrateIdentity: { call: () => ({ method: 'POST', path: `tenants/${a.tenantId}/identity/migrate` }), needsCosmos: true, succeeds: [200] },
  getAudit: { call: () => ({ method: 'GET', path: `audit?tenantId=${a.tenantId}` }), needsCosmos: true, succeeds: [200] },
  getPrivacyMetrics: { call: () => ({ method: 'GET', path: `privacy-metrics?tenantId=${a.tenantId}` }), needsCosmos: true, succeeds: [200] },
  getDeadLetterCounts: { call: () => ({ method: 'GET', path: 'dead-letters' }), needsCosmos: false, succeeds: [200] },
  getDeadLetters: { call: () => ({ method: 'GET', path: 'dead-letters/media-downloads' }), needsCosmos: false, succeeds: [200] },
  // An empty queue: nothing is replayed, but the replay is audited (in Cosmos DB).
  replayDeadLetters: { call: () => ({ method: 'POST', path: 'dead-letters/media-downloads/replay' }), needsCosmos: true, succeeds: [200] },
  // A drill answers 200 with its outcome, whatever it is; during the outage the tenant cannot be read: 503.
  runErasureDrill: { call: () => ({ method: 'POST', path: `tenants/${a.tenantId}/drills` }), needsCosmos: true, succeeds: [200] },
  getTombstones: { call: () => ({ method: 'GET', path: `tenants/${a.tenantId}/tombstones` }), needsCosmos: true, succeeds: [200] },
  reapplyTombstones: {
    call: () => ({ method: 'POST', path: `tenants/${a.tenantId}/tombstones/reapply`, body: { format: 'flowkeeper-tombstones/1', tenantId: a.tenantId, exportedAt: new Date().toISOString(), tombstones: [] } }),
    needsCosmos: true,
    succeeds: [200],
  },
};

function send(call: Call): Promise<Response> {
  return fetch(`${world.t.url}/api/${call.path}`, {
    method: call.method,
    headers: adminHeaders(ADMIN),
    ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
  });
}

async function statusOf(id: string): Promise<string> {
  return ((await (await send({ method: 'GET', path: `privacy-requests/${id}` })).json()) as { status: string }).status;
}

async function post(tenantId: string, type: string, waId: string): Promise<string> {
  const response = await send({ method: 'POST', path: 'privacy-requests', body: { tenantId, type, subject: { waId } } });
  if (response.status !== 202) throw new Error(`privacy request setup failed: ${response.status}`);
  return ((await response.json()) as { id: string }).id;
}

beforeAll(async () => {
  world = await startProofWorld({ cosmosProxy: true });
  [a, b, c] = await Promise.all([
    createProofTenant(world, { hubspot: true, prefix: 'unav-a' }),
    createProofTenant(world, { prefix: 'unav-b' }),
    createProofTenant(world, { prefix: 'unav-c' }),
  ]);
  // A failed request to retry (HubSpot refuses A's token) and a completed access export to download.
  world.hubspot.revokeToken(a.hubspotToken);
  ids.failed = await post(a.tenantId, 'erasure', '+447700900104');
  ids.access = await post(b.tenantId, 'access', '+447700900105');
  await eventually(async () => ((await statusOf(ids.failed)) === 'failed' ? true : undefined), 20_000, 'the erasure to fail');
  await eventually(async () => ((await statusOf(ids.access)) === 'completed' ? true : undefined), 20_000, 'the access request to complete');
  adminRoutes = world.t.host.registrations.filter((r) => r.trigger.type === 'httpTrigger' && !PUBLIC_ROUTES.has(String(r.trigger.route)));
}, 60_000);
afterAll(async () => {
  await world?.close();
});

const proxy = () => world.cosmosProxy!;

/** Every admin route at once (the SDK's own retries make each call slow in an outage), each with its answer. */
async function everyRoute(): Promise<{ name: string; status: number; retryAfter: string | null; body: string }[]> {
  return Promise.all(
    adminRoutes.map(async (fn) => {
      const response = await send(CASES[fn.name]!.call());
      return { name: fn.name, status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.text() };
    }),
  );
}

function expectCosmosUnavailable(answers: Awaited<ReturnType<typeof everyRoute>>): void {
  for (const answer of answers) {
    if (!CASES[answer.name]!.needsCosmos) {
      expect(answer.status, `${answer.name} does not need Cosmos DB`).toBe(200);
      continue;
    }
    expect(answer.status, `${answer.name} in a Cosmos outage`).toBe(503);
    expect(answer.retryAfter, `${answer.name} retry-after`).toBe('30');
    expect(JSON.parse(answer.body), answer.name).toEqual({ error: { message: 'Cosmos DB is unavailable, retry later' } });
  }
}

describe('admin routes while Cosmos DB is down (fault proxy in front of the emulator)', () => {
  it('every admin route has a case here, and the webhook, Flows endpoint and health are left as they are', () => {
    expect(adminRoutes.length).toBeGreaterThanOrEqual(16);
    expect(adminRoutes.map((fn) => fn.name).filter((name) => !(name in CASES)), 'admin routes without a case: add one to CASES').toEqual([]);
  });

  it('Cosmos DB answering 503: every admin route that reads or writes it answers 503 with retry-after 30 and names Cosmos DB, never 500', async () => {
    proxy().failUntilCleared({ kind: 'status', status: 503 });
    try {
      expectCosmosUnavailable(await everyRoute());
      expect(proxy().injected()['status:503']).toBeGreaterThan(0);
    } finally {
      proxy().clear();
    }
    expect(world.t.logs.filter((line) => line.includes('unhandled'))).toEqual([]);
    expect(world.t.logs.some((line) => line.includes('Cosmos DB unavailable (ErrorResponse 503)'))).toBe(true);
  });

  it('Cosmos DB dropping every connection: the same 503s once the SDK has spent its own retries', async () => {
    proxy().failUntilCleared({ kind: 'drop' });
    try {
      expectCosmosUnavailable(await everyRoute());
      expect(proxy().injected().drop).toBeGreaterThan(0);
    } finally {
      proxy().clear();
    }
    expect(world.t.logs.filter((line) => line.includes('unhandled'))).toEqual([]);
  }, 60_000);

  it('Cosmos DB throttling past the SDK retry budget: 503 with the retry-after Cosmos asked for (x-ms-retry-after-ms 1500 → 2 s)', async () => {
    proxy().failUntilCleared({ kind: 'status', status: 429, retryAfterMs: 1500 });
    let response: Response;
    try {
      response = await send(CASES.getTenant!.call());
    } finally {
      proxy().clear();
    }
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('2');
    expect(await response.json()).toEqual({ error: { message: 'Cosmos DB is unavailable, retry later' } });
  }, 60_000);

  it('the CLI reports the 503 as it is: the store, "retry later", exit code 1 (the API refused), and the status with --json', async () => {
    proxy().failUntilCleared({ kind: 'status', status: 503 });
    try {
      const plain = await cli(world.t.url, ['tenants', 'show', a.tenantId]);
      expect(plain.code).toBe(1);
      expect(plain.stderr.trim()).toBe('error: Cosmos DB is unavailable, retry later');
      const json = await cli(world.t.url, ['tenants', 'show', a.tenantId, '--json']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stderr)).toEqual({ error: { message: 'Cosmos DB is unavailable, retry later', status: 503, exitCode: 1 } });
    } finally {
      proxy().clear();
    }
  });

  it('after the outage the same calls succeed, route by route', async () => {
    for (const fn of adminRoutes.slice().sort((x, y) => Object.keys(CASES).indexOf(x.name) - Object.keys(CASES).indexOf(y.name))) {
      const scenario = CASES[fn.name]!;
      const response = await send(scenario.call());
      expect(scenario.succeeds, `${fn.name} after the outage: ${response.status} ${response.status >= 400 ? await response.text() : ''}`).toContain(response.status);
    }
  }, 60_000);
});
