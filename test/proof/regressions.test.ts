import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messages, newWaId, single } from '../fixtures/whatsapp/payloads';
import { adminHeaders } from '../support/principals';
import { postWebhook, subjectDocuments } from '../whatsapp/support';
import { rawRequest, closeFuzzAgent } from './support/fuzz';
import { createProofTenant, startProofWorld, type ProofTenant, type ProofWorld } from './support/world';

/**
 * The bugs the proof found, pinned down one by one (the fuzz and fault suites found them at random;
 * these say exactly what was wrong). The lost-message lease is pinned in faults.cosmos.test.ts, where
 * it needs the fault proxy.
 */
let world: ProofWorld;
let tenant: ProofTenant;
beforeAll(async () => {
  world = await startProofWorld();
  tenant = await createProofTenant(world);
});
afterAll(async () => {
  closeFuzzAgent();
  await world?.close();
});

describe('regressions found by the proof', () => {
  it('a flow completion whose answers are nested 100 000 deep is acknowledged and ignored, not a 503 Meta would retry for a week', async () => {
    const waId = newWaId();
    const message = messages.flowCompletion(waId, {});
    (message.interactive as { nfm_reply: { response_json: string } }).nfm_reply.response_json = `{"screen":"LEAD","nested":${'['.repeat(100_000)}1${']'.repeat(100_000)}}`;
    const response = await postWebhook(world.t.url, single(tenant.phoneNumberId, waId, message));
    expect(response.status).toBe(200);
    expect(((await response.json()) as { received: { ignored: number } }).received.ignored).toBe(1);
    expect((await subjectDocuments(world.t.services, tenant.tenantId, waId)).map((d) => d.type)).toEqual(['contact']);
    expect(world.t.services.telemetry.metrics).toContainEqual(expect.objectContaining({ name: 'webhook.flow.unreadable', dimensions: expect.objectContaining({ reason: 'too-deep' }) }));
    // Answers as flows really send them (a few levels) are still stored.
    const ordinary = newWaId();
    const ok = await postWebhook(world.t.url, single(tenant.phoneNumberId, ordinary, messages.flowCompletion(ordinary, { screen: 'LEAD', rooms: ['2', '3'], contact: { email: 'a@example.org' } })));
    expect(ok.status).toBe(200);
    expect((await subjectDocuments(world.t.services, tenant.tenantId, ordinary)).map((d) => d.type).sort()).toEqual(['contact', 'flowResponse']);
  });

  it('a request path with a malformed percent escape is a 400 from the local host, not a 500', async () => {
    for (const path of ['/api/whatsapp/flows/%E0%A4%A', '/api/tenants/%C0%AF', '/api/privacy-requests/%']) {
      const response = await rawRequest(world.t.url, { method: 'GET', path, headers: adminHeaders() });
      expect(response.status, path).toBe(400);
      expect(JSON.parse(response.body)).toEqual({ error: { message: 'the request path is not valid percent-encoded UTF-8' } });
    }
    // Well-formed escapes still reach the function.
    expect((await rawRequest(world.t.url, { method: 'GET', path: `/api/tenants/${encodeURIComponent(tenant.tenantId)}`, headers: adminHeaders() })).status).toBe(200);
  });
});
