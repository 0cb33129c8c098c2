import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messages, newWaId, single } from '../fixtures/whatsapp/payloads';
import { startTestHost, type TestHost } from '../support/testHost';
import { createTenant, postWebhook, subjectDocuments, subjectHashOf } from './support';
import { CosmosAuditLog, CosmosMarkerStore } from '../../shared/cosmos';

let t: TestHost;
beforeAll(async () => {
  t = await startTestHost();
});
afterAll(async () => {
  await t?.close();
});

describe('flow completions', () => {
  it("the Privacy Centre's closing message after an erasure does not bring the contact back", async () => {
    const tenant = await createTenant(t, { messageStorage: 'none' });
    const waId = newWaId();
    const hash = await subjectHashOf(t.services, tenant.tenantId, waId);
    // The erasure completed a moment ago (as the flow's endpoint had it carried out).
    const erasedAt = new Date(Date.now() - 2000);
    await new CosmosMarkerStore(t.services.cosmos.markers, t.services.clock).put('tombstone', tenant.tenantId, hash as never, { data: { erasedAt: erasedAt.toISOString() } });

    const closing = messages.flowCompletion(waId, { flow_token: 'v1.token.sig', flow: 'privacy-centre', outcome: 'erasure-requested', request_id: 'r-1' });
    const response = await postWebhook(t.url, single(tenant.phoneNumberId, waId, closing));
    expect(response.status).toBe(200);
    expect(await subjectDocuments(t.services, tenant.tenantId, waId)).toEqual([]);
    const events = await new CosmosAuditLog(t.services.cosmos.audit, t.services.clock).query(tenant.tenantId, new Date(0), new Date(Date.now() + 60_000));
    expect(events.map((e) => e.type)).not.toContain('subject.reengaged');
  });

  it('a completed flow is counted once for the privacy metrics, with its screen and no answers', async () => {
    const tenant = await createTenant(t, { messageStorage: 'none' });
    const waId = newWaId();
    const completion = messages.flowCompletion(waId, { flow_token: 'tok', screen: 'BOOKING', budget: 'secret-answer-42' });
    const delivery = single(tenant.phoneNumberId, waId, completion);
    expect((await postWebhook(t.url, delivery)).status).toBe(200);
    expect((await postWebhook(t.url, delivery)).status).toBe(200); // Meta's retry
    const events = await new CosmosAuditLog(t.services.cosmos.audit, t.services.clock).query(tenant.tenantId, new Date(0), new Date(Date.now() + 60_000), { type: 'flow.completed' });
    expect(events).toHaveLength(1);
    expect(events[0]!.details).toEqual({ screen: 'BOOKING', dataRequest: null });
    expect(JSON.stringify(events)).not.toContain('secret-answer-42');
    expect(JSON.stringify(events)).not.toContain(waId);
  });
});
