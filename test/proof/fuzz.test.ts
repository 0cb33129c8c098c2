import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataKeyring } from '../../shared/crypto';
import type { TenantId, WaId } from '../../shared/domain';
import { issueFlowToken } from '../../shared/flows';
import { encodePrincipal } from '../../shared/http';
import { change, delivery, messages, newWaId, single, status, wamid } from '../fixtures/whatsapp/payloads';
import { encryptFlowRequest, flowKeyPair, decryptFlowResponse } from '../flows/support/flowClient';
import { phoneNeedles } from '../support/piiSweep';
import { adminHeaders, operatorHeaders } from '../support/principals';
import { CLOSED_PORT_URL } from '../whatsapp/support';
import {
  almostJsonArb,
  closeFuzzAgent,
  contentTypeArb,
  encode,
  encodingArb,
  headerTextArb,
  mutate,
  mutationArb,
  percentEncode,
  rawRequest,
  signatureArb,
  signatureFor,
  WEIRD_STRINGS,
  type RawResponse,
} from './support/fuzz';
import { storeCounts, type StoreCounts } from './support/proof';
import { captureConsole, sweep, type ConsoleCapture } from './support/sweep';
import { APP_SECRET, createProofTenant, HoldableQueue, startProofWorld, type ProofTenant, type ProofWorld } from './support/world';

/**
 * fast-check against the webhook, the Flows endpoint and the admin API, over HTTP through the local
 * host: arbitrary bytes, real payloads broken in every way (wrong types, deep nesting, huge strings,
 * weird unicode), correctly signed so parsing is really exercised, in lying encodings. Never a 500, never
 * an unhandled rejection, and never a stored record for input that was rejected: every container of the
 * test database, every blob container and every queue are counted before and after each rejected case.
 * The queue's consumers are held (no worker runs), so what a request wrote is all there is to count.
 *
 * Bounded for CI: FUZZ_RUNS (default 300) cases per property; the case counts are printed.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const keys = flowKeyPair();
const queue = new HoldableQueue();

let world: ProofWorld;
let tenant: ProofTenant;
let adminTenant: ProofTenant;
let output: ConsoleCapture;
const rejections: unknown[] = [];
const onRejection = (reason: unknown) => rejections.push(reason);
const onException = (error: unknown) => rejections.push(error);
const counts: Record<string, { cases: number; byStatus: Record<number, number> }> = {};

beforeAll(async () => {
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  output = captureConsole();
  world = await startProofWorld({ queue, env: { FLOWS_PRIVATE_KEY: keys.privateKey, GRAPH_API_BASE_URL: CLOSED_PORT_URL } });
  tenant = await createProofTenant(world, { prefix: 'fz' });
  adminTenant = await createProofTenant(world, { prefix: 'fz-admin' });
  baseline = await storeCounts(world.t.services);
});
afterAll(async () => {
  process.off('unhandledRejection', onRejection);
  process.off('uncaughtException', onException);
  output?.stop();
  closeFuzzAgent();
  console.info(`FUZZ cases run: ${JSON.stringify(counts)}`);
  await world?.close();
});

let baseline: StoreCounts;

/** The checks every case must pass: no 5xx, and a rejected request left every store as it was. */
async function checked(property: string, label: () => string, response: RawResponse): Promise<void> {
  const tally = (counts[property] ??= { cases: 0, byStatus: {} });
  tally.cases += 1;
  tally.byStatus[response.status] = (tally.byStatus[response.status] ?? 0) + 1;
  const before = baseline;
  baseline = await storeCounts(world.t.services);
  expect(response.status, `${label()} answered ${response.status}: ${response.body.slice(0, 300)}`).toBeLessThan(500);
  expect(response.status).toBeGreaterThanOrEqual(200);
  if (response.status >= 400) expect(baseline, `${label()} was rejected (${response.status}) but stored something`).toEqual(before);
  expect(rejections).toEqual([]);
}

/** `FUZZ_SEED` replays the run a failure printed (fast-check's seed), e.g. `FUZZ_SEED=1989211908 npx vitest run test/proof/fuzz.test.ts`. */
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const fcOptions = { numRuns: RUNS, endOnFailure: true, ...(SEED !== undefined && Number.isInteger(SEED) ? { seed: SEED } : {}) } as const;

// ---------------------------------------------------------------- webhook

const FIXTURES: ((phoneNumberId: string) => unknown)[] = [
  (p) => { const w = newWaId(); return single(p, w, messages.text(w, 'Is the flat still available?'), 'Jo Bloggs'); },
  (p) => { const w = newWaId(); return single(p, w, messages.image(w, { id: '1234567890', sha256: 'c2hhMjU2' }, 'front door')); },
  (p) => { const w = newWaId(); return single(p, w, messages.flowCompletion(w, { flow_token: 'lead-1', screen: 'LEAD', full_name: 'Jo Bloggs', budget: 1200 })); },
  (p) => { const w = newWaId(); return single(p, w, messages.flowCompletion(w, { action: 'data_deletion_request', scope: 'all' })); },
  (p) => { const w = newWaId(); return delivery([change({ phoneNumberId: p, statuses: [status(w, 'sent'), status(w, 'read'), status(w, 'failed')] })]); },
  (p) => { const w = newWaId(); return single(p, w, messages.contacts(w)); },
  (p) => { const w = newWaId(); return single(p, w, messages.location(w)); },
  (p) => { const w = newWaId(); return single(p, w, messages.reaction(w, wamid(w))); },
  (p) => { const w = newWaId(); return single(p, w, messages.order(w, 'two please')); },
  (p) => { const w = newWaId(); return single(p, w, messages.system(w)); },
  (p) => { const w = newWaId(); return single(p, w, messages.unsupported(w)); },
  (p) => { const w = newWaId(); return single(p, w, messages.future(w)); },
  (p) => { const w = newWaId(); return single(p, w, messages.text(w, 'STOP')); },
  (p) => {
    const w = newWaId();
    return delivery(
      [change({ phoneNumberId: p, contacts: [{ waId: w, name: 'A' }], messages: [messages.text(w, 'one'), messages.buttonReply(w, 'Yes')] })],
      [change({ phoneNumberId: '999', messages: [messages.text(w, 'unknown number')] }), { field: 'account_update', value: { event: 'VERIFIED_ACCOUNT' } }],
    );
  },
];

/** A flow completion whose answers are nested `depth` deep (within the 1 MiB limit). */
function deepAnswers(phoneNumberId: string, depth: number, brackets: 'array' | 'object'): unknown {
  const w = newWaId();
  const inner = brackets === 'array' ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  const json = `{"flow_token":"lead-2","screen":"LEAD","nested":${inner}}`;
  const message = messages.flowCompletion(w, {});
  (message.interactive as { nfm_reply: { response_json: string } }).nfm_reply.response_json = json;
  return single(phoneNumberId, w, message);
}

async function postWebhookRaw(bytes: Buffer, headers: Record<string, string>): Promise<RawResponse> {
  return rawRequest(world.t.url, { method: 'POST', path: '/api/whatsapp/webhook', headers, body: bytes });
}

describe('fuzzing the webhook (POST /api/whatsapp/webhook)', () => {
  it('real payloads, mutated, correctly signed (or not), in lying encodings: never a 500, never a record for a rejected delivery', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          fixture: fc.nat({ max: FIXTURES.length - 1 }),
          mutations: fc.array(mutationArb, { maxLength: 3 }),
          encoding: encodingArb,
          signature: signatureArb,
          contentType: contentTypeArb,
          garbage: headerTextArb,
          knownNumber: fc.boolean(),
        }),
        async (c) => {
          const payload = mutate(FIXTURES[c.fixture]!(c.knownNumber ? tenant.phoneNumberId : '1065999999999'), c.mutations);
          const text = JSON.stringify(payload) ?? '';
          const { bytes, headers } = encode(text, c.encoding);
          const signature = signatureFor(APP_SECRET, bytes, c.signature, c.garbage);
          const response = await postWebhookRaw(bytes, { ...(c.contentType ? { 'content-type': c.contentType } : {}), ...headers, ...(signature !== undefined ? { 'x-hub-signature-256': signature } : {}) });
          await checked('webhook:mutated', () => `webhook ${JSON.stringify({ ...c, text: text.slice(0, 200) })}`, response);
          if (c.signature !== 'valid' && c.signature !== 'valid-uppercase') expect([401, 413]).toContain(response.status);
        },
      ),
      fcOptions,
    );
  }, 60_000);

  it('arbitrary bytes and almost-JSON, signed and unsigned: 400, 401 or 413, never a 500, nothing stored', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          body: fc.oneof(fc.uint8Array({ maxLength: 4096 }).map((b) => Buffer.from(b)), almostJsonArb.map((t) => Buffer.from(t, 'utf8'))),
          signature: signatureArb,
          contentType: contentTypeArb,
        }),
        async (c) => {
          const signature = signatureFor(APP_SECRET, c.body, c.signature);
          const response = await postWebhookRaw(c.body, { ...(c.contentType ? { 'content-type': c.contentType } : {}), ...(signature !== undefined ? { 'x-hub-signature-256': signature } : {}) });
          await checked('webhook:bytes', () => `webhook bytes ${c.body.subarray(0, 100).toString('hex')} (${c.body.length} bytes, ${c.signature})`, response);
          // Garbage is never accepted as an event: only a valid WhatsApp envelope is (almost-JSON can be one by chance: '{"object":...}' is not generated).
          if (response.status === 200) expect(c.signature === 'valid' || c.signature === 'valid-uppercase').toBe(true);
        },
      ),
      fcOptions,
    );
  }, 60_000);

  it('flow answers nested thousands deep, signed: answered without a 5xx that Meta would retry forever', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 100, max: 120_000 }), fc.constantFrom('array' as const, 'object' as const), async (depth, brackets) => {
        const bytes = Buffer.from(JSON.stringify(deepAnswers(tenant.phoneNumberId, depth, brackets)));
        const response = await postWebhookRaw(bytes, { 'content-type': 'application/json', 'x-hub-signature-256': signatureFor(APP_SECRET, bytes, 'valid')! });
        await checked('webhook:deep-answers', () => `flow answers ${depth} deep (${brackets}, ${bytes.length} bytes)`, response);
      }),
      { ...fcOptions, numRuns: Math.max(10, Math.round(RUNS / 10)) },
    );
  }, 60_000);

  it('the verification handshake with arbitrary query strings: 200 only with the right token, else 403', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            'hub.mode': fc.oneof({ weight: 3, arbitrary: fc.constant('subscribe') }, headerTextArb, fc.constantFrom(...WEIRD_STRINGS)),
            'hub.verify_token': fc.oneof({ weight: 3, arbitrary: fc.constant('test-verify-token') }, headerTextArb, fc.constantFrom(...WEIRD_STRINGS, 'test-verify-token ', 'TEST-VERIFY-TOKEN')),
            'hub.challenge': fc.oneof(headerTextArb, fc.constantFrom(...WEIRD_STRINGS)),
            x: headerTextArb,
          },
          { requiredKeys: [] },
        ),
        async (query: Record<string, string>) => {
        const qs = Object.entries(query).map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`).join('&');
        const response = await rawRequest(world.t.url, { method: 'GET', path: `/api/whatsapp/webhook?${qs}` });
        await checked('webhook:handshake', () => `handshake ?${qs}`, response);
        const ok = query['hub.mode'] === 'subscribe' && query['hub.verify_token'] === 'test-verify-token' && query['hub.challenge'] !== undefined;
        expect(response.status).toBe(ok ? 200 : 403);
        if (ok) expect(response.body).toBe(Buffer.from(query['hub.challenge']!, 'utf8').toString('utf8'));
        },
      ),
      { ...fcOptions, numRuns: Math.max(20, Math.round(RUNS / 3)) },
    );
  }, 60_000);
});

// ---------------------------------------------------------------- Flows endpoint

const SCREENS = ['MENU', 'HELD_DATA', 'DELETE_SCOPE', 'DELETE_CONFIRM', 'DELETE_DONE', 'MARKETING', 'MARKETING_DONE', 'REQUEST_STATUS', 'SUCCESS'];

/** A path segment for the tenant: the real one, arbitrary text (encoded), or raw malformed escapes. */
const tenantSegmentArb = (real: () => string) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(null).map(() => real()) },
    { weight: 2, arbitrary: fc.string({ maxLength: 80 }).map((s) => percentEncode(s)) },
    { weight: 1, arbitrary: fc.constantFrom('%', '%E0%A4%A', '%ZZ', '%00', '..', '%2e%2e', 'a'.repeat(300), 'UPPER', '-leading', '%C0%AF') },
  );

async function postFlows(segment: string, bytes: Buffer, headers: Record<string, string>): Promise<RawResponse> {
  return rawRequest(world.t.url, { method: 'POST', path: `/api/whatsapp/flows/${segment}`, headers: { 'content-type': 'application/json', ...headers }, body: bytes });
}

const FLOWS_STATUSES = [200, 400, 404, 413, 421, 427, 432];

describe('fuzzing the WhatsApp Flows endpoint (POST /api/whatsapp/flows/{tenantId})', () => {
  it('arbitrary bodies, envelopes and tenant segments, signed or not: a documented status, never a 500, nothing stored', async () => {
    const envelopeArb = fc.record(
      { encrypted_flow_data: fc.oneof(fc.base64String({ maxLength: 400 }), fc.string(), fc.jsonValue()), encrypted_aes_key: fc.oneof(fc.base64String({ maxLength: 400 }), fc.string(), fc.jsonValue()), initial_vector: fc.oneof(fc.base64String({ maxLength: 40 }), fc.string(), fc.jsonValue()) },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          body: fc.oneof(fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)), almostJsonArb.map((t) => Buffer.from(t)), envelopeArb.map((e) => Buffer.from(JSON.stringify(e)))),
          signature: signatureArb,
          segment: tenantSegmentArb(() => tenant.tenantId),
        }),
        async (c) => {
          const signature = signatureFor(APP_SECRET, c.body, c.signature);
          const response = await postFlows(c.segment, c.body, signature !== undefined ? { 'x-hub-signature-256': signature } : {});
          await checked('flows:envelope', () => `flows /${c.segment} ${c.body.subarray(0, 120).toString('utf8')} (${c.signature})`, response);
          expect(FLOWS_STATUSES).toContain(response.status);
          // Unsigned: 432 from the endpoint, or the host's 404/400 for a path that is no route or not valid percent-encoding.
          if (c.signature !== 'valid' && c.signature !== 'valid-uppercase') expect([400, 404, 432]).toContain(response.status);
          if (response.status === 400 && /^%|%[0-9A-F]{2}/.test(c.segment) && !/^[a-z0-9][a-z0-9-]*$/.test(c.segment)) expect(response.body).toMatch(/not valid percent-encoded|tenantId|JSON|is required|must/);
        },
      ),
      fcOptions,
    );
  }, 60_000);

  it('arbitrary payloads really encrypted with the tenant key (or tampered with): 400, 421 or an encrypted answer the client can decrypt', async () => {
    const payloadArb = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.record({ version: fc.oneof(fc.constant('3.0'), fc.jsonValue()), action: fc.oneof(fc.constantFrom('ping', 'INIT', 'BACK', 'data_exchange'), fc.jsonValue()), screen: fc.oneof(fc.constantFrom(...SCREENS), fc.jsonValue()), data: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.jsonValue()), flow_token: fc.oneof(fc.string(), fc.jsonValue()) }, { requiredKeys: [] }),
    );
    await fc.assert(
      fc.asyncProperty(payloadArb, fc.constantFrom('none', 'none', 'none', 'flip-data', 'flip-key', 'flip-iv', 'short-iv'), async (payload, tamper) => {
        const request = encryptFlowRequest(keys.publicKey, payload);
        const body = { ...request.body };
        const flip = (b64: string) => {
          const b = Buffer.from(b64, 'base64');
          b.writeUInt8(b.readUInt8(b.length >> 1) ^ 0x01, b.length >> 1);
          return b.toString('base64');
        };
        if (tamper === 'flip-data') body.encrypted_flow_data = flip(body.encrypted_flow_data);
        if (tamper === 'flip-key') body.encrypted_aes_key = flip(body.encrypted_aes_key);
        if (tamper === 'flip-iv') body.initial_vector = flip(body.initial_vector);
        if (tamper === 'short-iv') body.initial_vector = Buffer.from(body.initial_vector, 'base64').subarray(0, 4).toString('base64');
        const bytes = Buffer.from(JSON.stringify(body));
        const response = await postFlows(tenant.tenantId, bytes, { 'x-hub-signature-256': signatureFor(APP_SECRET, bytes, 'valid')! });
        await checked('flows:encrypted', () => `flows payload ${JSON.stringify(payload).slice(0, 200)} (${tamper})`, response);
        expect([200, 400, 421, 427]).toContain(response.status);
        if (tamper !== 'none') expect(response.status).toBe(421);
        if (response.status === 200 || response.status === 427) expect(decryptFlowResponse(response.body, request.aesKey, request.iv)).toBeTypeOf('object');
      }),
      fcOptions,
    );
  }, 60_000);

  it('with a valid flow token, arbitrary actions, screens and data through the Privacy Centre: an encrypted answer, never a 5xx', async () => {
    const tokenKeys = { subjectHashKey: world.t.services.env.SUBJECT_HASH_KEY!, dataKeyring: await dataKeyring(world.t.services.secrets) };
    const waId = '447700900917';
    const flowToken = issueFlowToken(tokenKeys, { tenantId: tenant.tenantId as TenantId, subject: { kind: 'waId', value: waId as WaId }, purpose: 'privacy-centre', now: new Date(), ttlSeconds: 3600 });
    const dataArb = fc.dictionary(
      fc.oneof(fc.constantFrom('choice', 'scope', 'confirm', 'opt_out', 'request_id', 'error', 'error_message'), fc.string({ maxLength: 20 })),
      fc.oneof(fc.constantFrom('see_data', 'delete', 'marketing', 'status', 'all', 'messages', 'media', 'flow_responses', 'marketing', true, 'true', 1, 'hack'), fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(...WEIRD_STRINGS)),
      { maxKeys: 5 },
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('INIT', 'BACK', 'data_exchange', 'data_exchange', 'ping'), fc.oneof(fc.constantFrom(...SCREENS), fc.string({ maxLength: 30 })), dataArb, fc.constantFrom('3.0', '2.1', ''), async (action, screen, data, version) => {
        const request = encryptFlowRequest(keys.publicKey, { version, action, screen, data, flow_token: flowToken });
        const bytes = Buffer.from(JSON.stringify(request.body));
        const response = await postFlows(tenant.tenantId, bytes, { 'x-hub-signature-256': signatureFor(APP_SECRET, bytes, 'valid')! });
        await checked('flows:privacy-centre', () => `privacy centre ${JSON.stringify({ action, screen, data, version })}`, response);
        expect(response.status).toBe(200);
        expect(decryptFlowResponse(response.body, request.aesKey, request.iv)).toBeTypeOf('object');
      }),
      fcOptions,
    );
    // Whatever the fuzzer did in the Privacy Centre, the subject's number went nowhere but the encrypted request reference.
    const hits = await sweep(phoneNeedles(waId), { cosmos: world.t.services.cosmos.subjects.database, queue, logs: world.t.logs, telemetry: world.t.services.telemetry, console: output.lines });
    expect(hits).toEqual([]);
  }, 60_000);
});

// ---------------------------------------------------------------- admin API

describe('fuzzing the admin API', () => {
  it('every admin route with arbitrary principals, path parameters, query strings and bodies: never a 500, nothing stored when rejected', async () => {
    const routes = world.t.host.registrations
      // The erasure drill route takes no input but its tenant id (covered by the security and outage proofs), and
      // each call with a valid one runs a whole drill (seconds): fuzzing it would spend the budget on waiting.
      .filter((r) => r.trigger.type === 'httpTrigger' && !['health', 'whatsapp/webhook', 'whatsapp/flows/{tenantId}', 'tenants/{tenantId}/drills'].includes(String(r.trigger.route)))
      .flatMap((r) => (r.trigger.methods ?? ['GET']).map((method) => ({ route: String(r.trigger.route), method })));
    expect(routes.length).toBeGreaterThanOrEqual(15);
    const principalArb = fc.oneof(
      fc.constant(adminHeaders()),
      fc.constant(operatorHeaders([adminTenant.tenantId])),
      fc.constant(operatorHeaders(['someone-else'])),
      fc.constant<Record<string, string>>({}),
      headerTextArb.map((h) => ({ 'x-ms-client-principal': h })),
      fc.jsonValue({ maxDepth: 3 }).map((v) => ({ 'x-ms-client-principal': Buffer.from(JSON.stringify(v) ?? '').toString('base64') })),
      fc.array(fc.record({ typ: fc.constantFrom('roles', 'flowkeeper_tenant', 'oid', 'x'), val: fc.oneof(fc.constantFrom('Flowkeeper.Admin', 'Flowkeeper.Operator', adminTenant.tenantId), fc.string()) }), { maxLength: 5 }).map((claims) => ({
        'x-ms-client-principal': Buffer.from(JSON.stringify({ auth_typ: 'aad', claims })).toString('base64'),
      })),
      fc.string({ maxLength: 30 }).map((oid) => ({ 'x-ms-client-principal': encodePrincipal({ objectId: oid, roles: ['Flowkeeper.Operator'], tenants: [adminTenant.tenantId] }) })),
    );
    const paramArb = fc.oneof(
      fc.constant(null).map(() => adminTenant.tenantId),
      fc.constant(null).map(() => randomUUID()),
      fc.constantFrom('erasure-tasks', 'privacy-requests', 'nope', '%E0%A4%A', '%', '..', 'a'.repeat(200)),
      fc.string({ maxLength: 40 }).map((s) => percentEncode(s)),
    );
    const queryArb = fc.dictionary(
      fc.constantFrom('tenantId', 'from', 'to', 'type', 'limit', 'max', 'status', 'overdue', 'x'),
      fc.oneof(fc.constant(null).map(() => adminTenant.tenantId), fc.constantFrom('2026-01-01T00:00:00Z', '-1', '0', '1e9', 'true', 'NaN', ''), headerTextArb, fc.constantFrom(...WEIRD_STRINGS)),
      { maxKeys: 4 },
    );
    const validBodies = [
      { name: 'Acme', phoneNumberIds: ['1065123'], messageStorage: 'none' },
      { tenantId: 'fz-admin', type: 'erasure', subject: { waId: '+447700900555' } },
      { tenantId: 'fz-admin', type: 'rectification', subject: { waId: '+447700900555' }, rectification: { profileName: 'X' } },
    ];
    const bodyArb = fc.oneof(
      fc.constant(undefined),
      fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? '')),
      almostJsonArb.map((t) => Buffer.from(t)),
      fc.record({ which: fc.nat({ max: validBodies.length - 1 }), mutations: fc.array(mutationArb, { maxLength: 2 }) }).map(({ which, mutations }) => Buffer.from(JSON.stringify(mutate({ ...validBodies[which]!, ...(which > 0 ? { tenantId: adminTenant.tenantId } : {}) }, mutations)) ?? '')),
      fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
    );
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: routes.length - 1 }), principalArb, paramArb, queryArb, bodyArb, async (which, principal, param, query, body) => {
        const { route, method } = routes[which]!;
        const path = route.replace(/\{[^}]+\}/g, param);
        const qs = Object.entries(query).map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`).join('&');
        const response = await rawRequest(world.t.url, { method, path: `/api/${path}${qs ? `?${qs}` : ''}`, headers: { 'content-type': 'application/json', ...principal }, ...(body ? { body } : {}) });
        await checked('admin', () => `${method} /api/${path}?${qs} ${body?.subarray(0, 120).toString('utf8') ?? ''}`, response);
        // Without a principal: 401 from every admin function; 404/405/400 from the host for paths that are no route;
        // 413 for a body over the limit (mutated bodies can pass 1 MiB), which is refused before it is read.
        if (!principal['x-ms-client-principal']) expect([400, 401, 404, 405, 413]).toContain(response.status);
        if (!principal['x-ms-client-principal'] && response.status === 400) expect(response.body).toMatch(/not valid percent-encoded/);
      }),
      fcOptions,
    );
  }, 60_000);

  it('the host is still healthy after all of it, with no unhandled rejection or uncaught exception, and no personal data outside the subjects\' partitions', async () => {
    const health = await rawRequest(world.t.url, { method: 'GET', path: '/api/health' });
    expect(health.status).toBe(200);
    expect(rejections).toEqual([]);
    // What the fixtures carried as personal data is in the subjects' partitions or nowhere: not in logs,
    // telemetry, audit, markers, requests or queues, whatever shape the fuzzer gave the payloads.
    const needles = ['Jo Bloggs', 'Is the flat still available', 'two please', 'front door', 'Alex Example', 'alex@example.com', '10 Downing Street', ...phoneNeedles('447700900456')];
    const hits = await sweep(needles, { cosmos: world.t.services.cosmos.subjects.database, blobs: Object.values(world.t.services.blobs), queue, logs: world.t.logs, telemetry: world.t.services.telemetry, console: output.lines }, (hit) => hit.location.startsWith('cosmos:subjects/'));
    expect(hits).toEqual([]);
    const total = Object.values(counts).reduce((n, c) => n + c.cases, 0);
    expect(total).toBeGreaterThanOrEqual(RUNS * 6);
  });
});
