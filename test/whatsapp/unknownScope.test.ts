import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantId } from '../../shared/domain';
import { ERASURE_SCOPES, getPrivacyRequest } from '../../shared/privacy';
import { parseFlowCompletion } from '../../shared/whatsapp';
import { change, delivery, messages, newWaId } from '../fixtures/whatsapp/payloads';
import { startTestHost, type TestHost } from '../support/testHost';
import { eventually } from '../support/testServices';
import { CLOSED_PORT_URL, createTenant, json, postWebhook, RecordingInProcessQueue, subjectDocuments, subjectHashOf, telemetryText, type TestTenant } from './support';
import { rootOf } from '../../shared/runtime';
import { CosmosAuditLog } from '../../shared/cosmos';

/**
 * An erasure asked for in a WhatsApp Flow with a `scope` we do not know is not guessed as `all` (that
 * erases more than the person asked): the completion is ignored and counted like any other malformed
 * answer (`webhook.flow.unreadable`, reason and field named, never the value), and Meta gets its 200.
 * A flow with no `scope` field keeps the documented default, `all`.
 */

const PROFILE_NAME = 'Ada Lovelace-Byron';
const MESSAGE_TEXT = 'Is flat 3B on Marchmont Street still free for Tuesday?';
const FLOW_ANSWER = 'two-bed near Russell Square';

let t: TestHost;
const queue = new RecordingInProcessQueue();
beforeAll(async () => {
  t = await startTestHost({ GRAPH_API_BASE_URL: CLOSED_PORT_URL }, { queue });
});
afterAll(async () => {
  await t?.close();
});

type Received = { received: { messages: number; privacyRequests: number; privacyRequestIds: string[]; ignored: number; duplicates: number } };

function post(tenant: TestTenant, waId: string, message: Record<string, unknown>): Promise<Response> {
  return postWebhook(t.url, delivery([change({ phoneNumberId: tenant.phoneNumberId, contacts: [{ waId, name: PROFILE_NAME }], messages: [message] })]));
}

async function requestsOf(tenantId: TenantId): Promise<{ id: string; type: string; scope: string }[]> {
  const { resources } = await t.services.cosmos.privacyRequests.items
    .query<{ id: string; type: string; scope: string }>({ query: "SELECT c.id, c.type, c.scope FROM c WHERE c.tenantId = @t AND c.docType = 'request'", parameters: [{ name: '@t', value: tenantId }] })
    .fetchAll();
  return resources;
}

/** A subject with something in every store the webhook writes: contact, stored message, a flow response. */
async function subjectWithData(tenant: TestTenant): Promise<{ waId: string; types: string[] }> {
  const waId = newWaId();
  expect((await post(tenant, waId, messages.text(waId, MESSAGE_TEXT))).status).toBe(200);
  expect((await post(tenant, waId, messages.flowCompletion(waId, { flow_token: 'lead-1', screen: 'SEARCH', area: FLOW_ANSWER }))).status).toBe(200);
  const types = (await subjectDocuments(t.services, tenant.tenantId, waId)).map((d) => String(d.type)).sort();
  expect(types).toEqual(['contact', 'flowResponse', 'message']);
  return { waId, types };
}

function unreadableScopeMetrics(tenantId: TenantId) {
  return t.services.telemetry.metrics.filter((m) => m.name === 'webhook.flow.unreadable' && m.dimensions.tenantId === tenantId);
}

describe('an erasure flow completion with an unknown scope', () => {
  it('creates no request, erases nothing, answers 200 and counts it with the field named, no personal data in the event', async () => {
    const tenant = await createTenant(t, { messageStorage: 'encrypted' });
    const { waId, types } = await subjectWithData(tenant);

    const sentBefore = queue.sentTo('privacy-requests').length;
    const typo = messages.flowCompletion(waId, { action: 'data_deletion_request', scope: 'evrything-please', flow_token: 'compliance_prod_001', screen: 'PRIVACY' });
    const response = await post(tenant, waId, typo);
    expect(response.status).toBe(200);
    expect((await json<Received>(response)).received).toMatchObject({ messages: 1, privacyRequests: 0, privacyRequestIds: [], ignored: 1 });
    // Meta's redelivery of the same completion: still 200, still nothing (it must not retry a malformed answer forever).
    const again = await postWebhook(t.url, delivery([change({ phoneNumberId: tenant.phoneNumberId, contacts: [{ waId, name: PROFILE_NAME }], messages: [typo] })]));
    expect(again.status).toBe(200);
    expect((await json<Received>(again)).received.privacyRequests).toBe(0);

    // The privacy module was never asked: no request document, no queue message.
    expect(await requestsOf(tenant.tenantId)).toEqual([]);
    expect(queue.sentTo('privacy-requests')).toHaveLength(sentBefore);

    // A known, narrow scope for the same subject afterwards is carried out to completion; by then a request the
    // typo had started (as `all`) would exist and have run. Only the media request exists, and nothing else is gone.
    const narrow = await post(tenant, waId, messages.flowCompletion(waId, { action: 'data_deletion_request', scope: 'media', screen: 'PRIVACY' }));
    const [mediaRequestId] = (await json<Received>(narrow)).received.privacyRequestIds;
    expect(mediaRequestId).toBeDefined();
    const done = await eventually(async () => {
      const request = await getPrivacyRequest(rootOf(t.services).privacy, mediaRequestId!);
      return request?.status === 'completed' || request?.status === 'failed' ? request : undefined;
    }, 20_000, 'the media erasure to finish');
    expect(done).toMatchObject({ type: 'erasure', scope: 'media', status: 'completed' });
    expect(await requestsOf(tenant.tenantId)).toEqual([{ id: mediaRequestId, type: 'erasure', scope: 'media' }]);
    expect((await subjectDocuments(t.services, tenant.tenantId, waId)).map((d) => String(d.type)).sort()).toEqual(types);

    // Counted like every other unreadable completion: the reason and the field, never the value.
    expect(unreadableScopeMetrics(tenant.tenantId)).toEqual([
      { name: 'webhook.flow.unreadable', value: 1, dimensions: { tenantId: tenant.tenantId, reason: 'unknown-scope', field: 'scope' } },
    ]);
    const telemetry = telemetryText(t.services);
    for (const secret of ['evrything-please', waId, PROFILE_NAME, MESSAGE_TEXT, FLOW_ANSWER]) expect(telemetry).not.toContain(secret);
    expect(t.logs.join('\n')).not.toContain('evrything-please');
  }, 40_000);

  it.each([
    ['a number', 3],
    ['a list', ['media']],
  ])('a scope field that is there but holds %s is unknown too: nothing is created, the webhook answers 200, the refusal is audited', async (_what, scope) => {
    const tenant = await createTenant(t, { messageStorage: 'none' });
    const waId = newWaId();
    const response = await post(tenant, waId, messages.flowCompletion(waId, { action: 'data_erasure_request', scope }));
    expect(response.status).toBe(200);
    expect((await json<Received>(response)).received).toMatchObject({ privacyRequests: 0, ignored: 1 });
    expect(await requestsOf(tenant.tenantId)).toEqual([]);
    expect(unreadableScopeMetrics(tenant.tenantId).map((m) => m.dimensions)).toEqual([{ tenantId: tenant.tenantId, reason: 'unknown-scope', field: 'scope' }]);
    // The person asked for erasure and nothing started: the audit trail says so (keyed hash, no answers).
    const audit = await new CosmosAuditLog(t.services.cosmos.audit, t.services.clock).query(tenant.tenantId as TenantId, new Date(0), new Date(Date.now() + 1000));
    const refused = audit.filter((e) => e.type === 'privacy.request.refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ subjectHash: await subjectHashOf(t.services, tenant.tenantId as TenantId, waId), details: { type: 'erasure', channel: 'flow', reason: 'unknown-scope', field: 'scope' } });
    expect(JSON.stringify(refused)).not.toContain(waId);
  });

  it.each([
    ['an empty answer', ''],
    ['a blank answer', '   '],
    ['null', null],
  ])('a scope field holding %s is no scope: the documented default, all', (_what, scope) => {
    expect(parseFlowCompletion(JSON.stringify({ action: 'data_deletion_request', scope }))).toMatchObject({ ok: true, completion: { dataRequest: { type: 'erasure', scope: 'all', scopeGiven: false } } });
  });
});

describe('scopes that are known, or not sent at all, map as before', () => {
  it.each(ERASURE_SCOPES.map((scope) => [scope]))('"%s" (any case, trimmed) asks for erasure of that scope', (scope) => {
    expect(parseFlowCompletion(JSON.stringify({ action: 'data_deletion_request', scope }))).toMatchObject({ ok: true, completion: { dataRequest: { type: 'erasure', scope, scopeGiven: true } } });
    expect(parseFlowCompletion(JSON.stringify({ action: 'data_erasure_request', scope: ` ${scope.toUpperCase()} ` }))).toMatchObject({ ok: true, completion: { dataRequest: { type: 'erasure', scope, scopeGiven: true } } });
  });

  it('an erasure from a flow with no scope field is the documented default, all', () => {
    expect(parseFlowCompletion('{"action":"data_deletion_request","flow_token":"compliance_prod_001"}')).toEqual({
      ok: true,
      completion: { flowToken: 'compliance_prod_001', answers: { action: 'data_deletion_request' }, dataRequest: { type: 'erasure', scope: 'all', scopeGiven: false } },
    });
  });

  it('an unknown scope is refused by the parser for both erasure actions, with the field and never the value', () => {
    for (const action of ['data_deletion_request', 'data_erasure_request']) {
      const parsed = parseFlowCompletion(JSON.stringify({ action, scope: 'evrything' }));
      expect(parsed).toEqual({ ok: false, reason: 'unknown-scope', field: 'scope' });
      expect(JSON.stringify(parsed)).not.toContain('evrything');
    }
  });

  it('types without a scope ignore one they do not use, as before (the privacy module stores them as all)', () => {
    expect(parseFlowCompletion('{"action":"data_access_request","scope":"whatever"}')).toMatchObject({ ok: true, completion: { dataRequest: { type: 'access', scope: 'all' } } });
    expect(parseFlowCompletion('{"action":"data_objection_request"}')).toMatchObject({ ok: true, completion: { dataRequest: { type: 'objection', scope: 'all' } } });
  });

  it('through the webhook: a known scope and a missing one create the erasure requests they always did', async () => {
    const tenant = await createTenant(t, { messageStorage: 'none' });
    queue.hold('privacy-requests'); // open requests are all this test looks at
    try {
      const a = newWaId();
      const b = newWaId();
      const known = await json<Received>(await post(tenant, a, messages.flowCompletion(a, { action: 'data_deletion_request', scope: 'Flow_Responses', screen: 'PRIVACY' })));
      const missing = await json<Received>(await post(tenant, b, messages.flowCompletion(b, { action: 'data_deletion_request', screen: 'PRIVACY' })));
      expect(known.received.privacyRequests).toBe(1);
      expect(missing.received.privacyRequests).toBe(1);
      const deps = rootOf(t.services).privacy;
      expect(await getPrivacyRequest(deps, known.received.privacyRequestIds[0]!)).toMatchObject({ type: 'erasure', scope: 'flow_responses', channel: 'flow', screen: 'PRIVACY' });
      expect(await getPrivacyRequest(deps, missing.received.privacyRequestIds[0]!)).toMatchObject({ type: 'erasure', scope: 'all', channel: 'flow' });
      expect(unreadableScopeMetrics(tenant.tenantId)).toEqual([]);
    } finally {
      await queue.release('privacy-requests');
    }
  });
});
