import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubjectHash, TenantId } from '../../shared/domain';
import { exportBlobName, reconcilePrivacyRequests, sweepExpiredExports, type PrivacyRequestView } from '../../shared/privacy';
import { InProcessQueue, type OutgoingMessage, type QueueName } from '../../shared/queue';
import { adminHeaders, operatorHeaders } from '../support/principals';
import { eventually } from '../support/testServices';
import { subjectDocuments, subjectHashOf } from '../whatsapp/support';
import { buildSubjectThroughWebhooks, createPrivacyTenant, getRequest, newSubject, postRequest, startPrivacyWorld, waitForStatus, type PrivacyWorld } from './support';
import { rootOf } from '../../shared/runtime';
import { CosmosMarkerStore, CosmosPrivacyRequestRepository } from '../../shared/cosmos';

/** A queue whose next sends to `privacy-requests` fail, as Service Bus can between the Cosmos write and the send. */
class FlakyQueue extends InProcessQueue {
  failPrivacySends = 0;
  override async send(queue: QueueName, messages: OutgoingMessage | OutgoingMessage[]): Promise<void> {
    if (queue === 'privacy-requests' && this.failPrivacySends > 0) {
      this.failPrivacySends -= 1;
      throw new Error('ServiceBusError: ServiceUnavailable');
    }
    return super.send(queue, messages);
  }
}

let world: PrivacyWorld;
const queue = new FlakyQueue();
beforeAll(async () => {
  world = await startPrivacyWorld({ queue });
});
afterAll(async () => {
  await world?.close();
});

type ErrorBody = { error: { message: string; field?: string } };

describe('POST /api/privacy-requests', () => {
  it('a bad body gets a 400 naming the field, never a 500', async () => {
    const { t } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: false });
    const cases: [unknown, string][] = [
      [{ tenantId: tenant.tenantId, type: 'forget-me', subject: { waId: '447700900123' } }, 'type'],
      [{ tenantId: tenant.tenantId, type: 'erasure' }, 'subject'],
      [{ tenantId: tenant.tenantId, type: 'erasure', subject: { waId: 'call me maybe' } }, 'subject.waId'],
      [{ tenantId: tenant.tenantId, type: 'erasure', subject: { waId: '447700900123' }, scope: 'everything' }, 'scope'],
      [{ tenantId: tenant.tenantId, type: 'rectification', subject: { waId: '447700900123' } }, 'rectification'],
      [{ tenantId: 'Not A Tenant!', type: 'erasure', subject: { waId: '447700900123' } }, 'tenantId'],
      [{ tenantId: tenant.tenantId, type: 'erasure', subject: { waId: '447700900123' }, extra: true }, '(body)'],
    ];
    for (const [body, field] of cases) {
      const response = await postRequest(t, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      const error = ((await response.json()) as ErrorBody).error;
      expect(error.field).toBe(field);
      expect(error.message).not.toContain('call me maybe');
    }
    const notJson = await fetch(`${t.url}/api/privacy-requests`, { method: 'POST', headers: adminHeaders(), body: '{"type": ' });
    expect(notJson.status).toBe(400);
    const unknown = await postRequest(t, { tenantId: 'no-such-tenant', type: 'erasure', subject: { waId: '447700900123' } });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as ErrorBody).error.field).toBe('tenantId');
  });

  it('without a principal the API answers 401; an operator of another tenant gets 404 for the tenant and its requests', async () => {
    const { t } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: false });
    const body = { tenantId: tenant.tenantId, type: 'access', subject: { waId: newSubject().waId } };
    expect((await fetch(`${t.url}/api/privacy-requests`, { method: 'POST', body: JSON.stringify(body) })).status).toBe(401);
    expect((await postRequest(t, body, operatorHeaders(['someone-else']))).status).toBe(404);
    const created = await postRequest(t, body, operatorHeaders([tenant.tenantId]));
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    expect((await fetch(`${t.url}/api/privacy-requests/${id}`, { headers: operatorHeaders(['someone-else']) })).status).toBe(404);
    expect((await fetch(`${t.url}/api/privacy-requests/${id}`, { headers: operatorHeaders([tenant.tenantId]) })).status).toBe(200);
    expect((await fetch(`${t.url}/api/privacy-requests/${id}`)).status).toBe(401);
    const malformed = await fetch(`${t.url}/api/privacy-requests/not-a-uuid`, { headers: adminHeaders() });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as ErrorBody).error.field).toBe('id');
    expect((await fetch(`${t.url}/api/privacy-requests/00000000-0000-4000-8000-000000000000`, { headers: adminHeaders() })).status).toBe(404);
  });

  it('answers 202 with id, status and the GDPR due date (one calendar month), or 45 days under CCPA', async () => {
    const { t } = world;
    const gdpr = await createPrivacyTenant(world, { hubspot: false, jurisdiction: 'gdpr' });
    const ccpa = await createPrivacyTenant(world, { hubspot: false, jurisdiction: 'ccpa' });
    const waId = newSubject().waId;
    const a = await postRequest(t, { tenantId: gdpr.tenantId, type: 'restriction', subject: { waId } });
    const b = await postRequest(t, { tenantId: ccpa.tenantId, type: 'restriction', subject: { waId } });
    expect([a.status, b.status]).toEqual([202, 202]);
    const [va, vb] = [(await a.json()) as PrivacyRequestView, (await b.json()) as PrivacyRequestView];
    const received = new Date(va.receivedAt);
    const month = new Date(received);
    month.setUTCMonth(month.getUTCMonth() + 1);
    if (month.getUTCDate() !== received.getUTCDate()) month.setUTCDate(0); // e.g. 31 January -> 28/29 February
    expect(va.dueAt).toBe(month.toISOString());
    expect(Date.parse(vb.dueAt) - Date.parse(vb.receivedAt)).toBe(45 * 86_400_000);
    expect(va).toMatchObject({ status: 'received', type: 'restriction', tenantId: gdpr.tenantId, channel: 'admin' });
    expect(JSON.stringify(va)).not.toContain(waId);
  });

  it('an identical open request returns the one already running; concurrent duplicates start one request', async () => {
    const { t } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: false });
    const waId = newSubject().waId;
    queue.failPrivacySends = 1; // keep it open: never sent until the reconciler runs
    const first = await postRequest(t, { tenantId: tenant.tenantId, type: 'erasure', scope: 'media', subject: { waId } });
    expect(first.status).toBe(202);
    const { id } = (await first.json()) as { id: string };
    const again = await postRequest(t, { tenantId: tenant.tenantId, type: 'erasure', scope: 'media', subject: { waId: `+${waId}` } });
    expect(again.status).toBe(200);
    expect((await again.json()) as { id: string; existing: boolean }).toMatchObject({ id, existing: true });
    // Another scope is another request.
    const other = await postRequest(t, { tenantId: tenant.tenantId, type: 'erasure', scope: 'messages', subject: { waId } });
    expect(other.status).toBe(202);

    const waId2 = newSubject().waId;
    const burst = await Promise.all(Array.from({ length: 5 }, () => postRequest(t, { tenantId: tenant.tenantId, type: 'objection', subject: { waId: waId2 } })));
    const ids = new Set(await Promise.all(burst.map(async (r) => ((await r.json()) as { id: string }).id)));
    expect(ids.size).toBe(1);
    expect(burst.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 202]);
    await reconcilePrivacyRequests(rootOf(t.services).privacy, { unsentAfterMs: 0 });
    await waitForStatus(t, id, ['completed']);
  });

  it('a request written but never enqueued (the send failed) is sent by the reconciler and completes', async () => {
    const { t } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: false });
    const subject = newSubject();
    queue.failPrivacySends = 1;
    const response = await postRequest(t, { tenantId: tenant.tenantId, type: 'erasure', subject: { waId: subject.waId } });
    expect(response.status).toBe(202); // written first: the request exists even though the send failed
    const { id } = (await response.json()) as { id: string };
    const stored = await new CosmosPrivacyRequestRepository(t.services.cosmos.privacyRequests, t.services.clock).get(id);
    expect(stored).toMatchObject({ status: 'received' });
    expect(stored?.enqueuedAt).toBeUndefined();
    // Younger than a minute: left alone; older: sent.
    expect((await reconcilePrivacyRequests(rootOf(t.services).privacy)).enqueued).toBe(0);
    const report = await reconcilePrivacyRequests(rootOf(t.services).privacy, { unsentAfterMs: 0 });
    expect(report.enqueued).toBeGreaterThanOrEqual(1);
    expect((await waitForStatus(t, id, ['completed', 'failed'])).status).toBe('completed');
    expect(t.host.registrations.find((r) => r.name === 'privacyReconciler')?.trigger.schedule).toBe('%RECONCILER_SCHEDULE%');
    await t.host.runTimer('privacyReconciler'); // the timer function itself runs cleanly
  });
});

describe('access, rectification, restriction, objection', () => {
  it('an access request exports everything every store holds as JSON, served by GET /export until it expires (410)', async () => {
    const { t, hubspot } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: true });
    const subject = newSubject();
    const { hubspotContactId } = await buildSubjectThroughWebhooks(world, tenant, subject);
    const response = await postRequest(t, { tenantId: tenant.tenantId, type: 'access', subject: { waId: subject.waId } });
    const { id } = (await response.json()) as { id: string };
    const done = await waitForStatus(t, id, ['completed', 'failed']);
    expect(done.status).toBe('completed');
    expect(done.export).toMatchObject({ href: `/api/privacy-requests/${id}/export` });
    expect(done.tasks.map((x) => [x.store, x.status]).sort()).toEqual([['blob', 'done'], ['cosmos', 'done'], ['exports', 'done'], ['hubspot', 'done']]);

    const exported = await fetch(`${t.url}${done.export!.href}`, { headers: adminHeaders() });
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-type')).toMatch(/application\/json/);
    const body = (await exported.json()) as { format: string; subject: { waId: string }; stores: Record<string, { records: number; data: unknown }> };
    expect(body.format).toBe('flowkeeper.access-export/v1');
    expect(body.subject.waId).toBe(subject.waId);
    const text = JSON.stringify(body);
    expect(text).toContain(subject.text); // decrypted message content
    expect(text).toContain(subject.answers.postcode); // flow answers
    expect(text).toContain(hubspotContactId); // the HubSpot contact
    expect(body.stores.blob!.records).toBe(1);
    expect((body.stores.blob!.data as { contentBase64?: string }[])[0]!.contentBase64).toBeTruthy();
    expect(hubspot.contacts.has(hubspotContactId)).toBe(true); // access does not delete

    const other = await fetch(`${t.url}${done.export!.href}`, { headers: operatorHeaders(['someone-else']) });
    expect(other.status).toBe(404);
    const audit = await fetch(`${t.url}/api/audit?tenantId=${tenant.tenantId}&type=privacy.access.completed`, { headers: adminHeaders() });
    const events = ((await audit.json()) as { events: { details: Record<string, unknown> }[] }).events;
    expect(events).toHaveLength(1);
    expect(JSON.stringify(events)).not.toContain(subject.waId);

    // Past its expiry the route answers 410, and the retention sweep deletes the blob.
    const repository = new CosmosPrivacyRequestRepository(t.services.cosmos.privacyRequests, t.services.clock);
    await repository.mutate(id, (d) => ({ ...d, export: { ...d.export!, expiresAt: new Date(Date.now() - 1000).toISOString() } }));
    expect((await fetch(`${t.url}${done.export!.href}`, { headers: adminHeaders() })).status).toBe(410);
    const exportBlob = t.services.blobs.exports.getBlobClient(exportBlobName(tenant.tenantId, await subjectHashOf(t.services, tenant.tenantId, subject.waId), id));
    expect(await exportBlob.exists()).toBe(true);
    expect(await sweepExpiredExports(rootOf(t.services).privacy)).toBeGreaterThanOrEqual(1);
    expect(await exportBlob.exists()).toBe(false);
  });

  it('an erasure also deletes the subject\'s earlier access exports', async () => {
    const { t } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: false });
    const subject = newSubject();
    await buildSubjectThroughWebhooks(world, tenant, subject);
    const access = (await (await postRequest(t, { tenantId: tenant.tenantId, type: 'access', subject: { waId: subject.waId } })).json()) as { id: string };
    await waitForStatus(t, access.id, ['completed']);
    const blob = t.services.blobs.exports.getBlobClient(exportBlobName(tenant.tenantId, await subjectHashOf(t.services, tenant.tenantId, subject.waId), access.id));
    expect(await blob.exists()).toBe(true);
    const snapshot = await blob.createSnapshot(); // an operator's copy is the subject's data too
    expect(await blob.withSnapshot(snapshot.snapshot!).exists()).toBe(true);
    const erasure = (await (await postRequest(t, { tenantId: tenant.tenantId, type: 'erasure', subject: { waId: subject.waId } })).json()) as { id: string };
    const done = await waitForStatus(t, erasure.id, ['completed', 'failed']);
    expect(done.tasks.find((x) => x.store === 'exports')).toMatchObject({ status: 'done', counts: { found: 1, deleted: 1 } });
    expect(await blob.exists()).toBe(false);
    expect(await blob.withSnapshot(snapshot.snapshot!).exists()).toBe(false);
    expect((await fetch(`${t.url}/api/privacy-requests/${access.id}/export`, { headers: adminHeaders() })).status).toBe(410);
  });

  it('rectification corrects the profile name, restriction flags the contact, objection suppresses marketing; each is audited without the values', async () => {
    const { t } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: false });
    const subject = newSubject();
    await buildSubjectThroughWebhooks(world, tenant, subject);
    const newName = 'Morwenna Pascoe-Corrected';
    const run = async (body: Record<string, unknown>) => {
      const response = await postRequest(t, { tenantId: tenant.tenantId, subject: { waId: subject.waId }, ...body });
      expect(response.status).toBe(202);
      return waitForStatus(t, ((await response.json()) as { id: string }).id, ['completed', 'failed']);
    };
    const rectified = await run({ type: 'rectification', rectification: { profileName: newName } });
    expect(rectified).toMatchObject({ status: 'completed', outcome: { contactFound: true, rectified: true } });
    const restricted = await run({ type: 'restriction' });
    expect(restricted).toMatchObject({ status: 'completed', outcome: { restricted: true } });
    const objected = await run({ type: 'objection' });
    expect(objected).toMatchObject({ status: 'completed', outcome: { suppressed: true, consentsWithdrawn: 1 } });

    const docs = await subjectDocuments(t.services, tenant.tenantId, subject.waId);
    expect(docs.find((d) => d.type === 'contact')).toMatchObject({ profileName: newName, restricted: true, rectifiedAt: expect.any(String) });
    expect(docs.find((d) => d.type === 'consent')).toMatchObject({ purpose: 'marketing', granted: false, ttl: expect.any(Number) });
    const subjectHash = (await subjectHashOf(t.services, tenant.tenantId, subject.waId)) as SubjectHash;
    expect(await new CosmosMarkerStore(t.services.cosmos.markers, t.services.clock).get('suppression', tenant.tenantId as TenantId, subjectHash)).toBeDefined();

    const audit = await fetch(`${t.url}/api/audit?tenantId=${tenant.tenantId}`, { headers: adminHeaders() });
    const events = ((await audit.json()) as { events: { type: string; subjectHash?: string }[] }).events;
    const types = events.map((e) => e.type);
    for (const type of ['privacy.rectification.completed', 'privacy.restriction.completed', 'privacy.objection.completed']) expect(types).toContain(type);
    expect(events.filter((e) => e.type.startsWith('privacy.')).every((e) => e.subjectHash === subjectHash)).toBe(true);
    const text = JSON.stringify(events);
    for (const value of [newName, subject.name, subject.waId]) expect(text).not.toContain(value);
    // The corrected name was held encrypted while the request ran, and is gone from the record now.
    const record = await new CosmosPrivacyRequestRepository(t.services.cosmos.privacyRequests, t.services.clock).get(rectified.id);
    expect(record?.rectificationRef).toBeUndefined();
    expect(JSON.stringify(record)).not.toContain(newName);
  });
});

describe('GET /api/audit', () => {
  it('lists a tenant\'s events in a time range, oldest first; bad dates are a 400 naming the field; other tenants are hidden', async () => {
    const { t } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: false });
    await new Promise((resolve) => setTimeout(resolve, 5)); // after the tenant.created event
    const from = new Date().toISOString();
    const response = await postRequest(t, { tenantId: tenant.tenantId, type: 'restriction', subject: { waId: newSubject().waId } });
    await waitForStatus(t, ((await response.json()) as { id: string }).id, ['completed']);
    const to = new Date(Date.now() + 1000).toISOString();
    const list = await fetch(`${t.url}/api/audit?tenantId=${tenant.tenantId}&from=${from}&to=${to}`, { headers: adminHeaders() });
    expect(list.status).toBe(200);
    const body = (await list.json()) as { events: { type: string; at: string }[] };
    expect(body.events.map((e) => e.type)).toEqual(['privacy.request.received', 'privacy.restriction.completed']);
    const empty = await fetch(`${t.url}/api/audit?tenantId=${tenant.tenantId}&from=${to}&to=${new Date(Date.now() + 5000).toISOString()}`, { headers: adminHeaders() });
    expect(((await empty.json()) as { events: unknown[] }).events).toEqual([]);
    const bad = await fetch(`${t.url}/api/audit?tenantId=${tenant.tenantId}&from=yesterday`, { headers: adminHeaders() });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as ErrorBody).error.field).toBe('from');
    const missing = await fetch(`${t.url}/api/audit`, { headers: adminHeaders() });
    expect(((await missing.json()) as ErrorBody).error.field).toBe('tenantId');
    expect((await fetch(`${t.url}/api/audit?tenantId=${tenant.tenantId}`, { headers: operatorHeaders(['someone-else']) })).status).toBe(404);
    expect((await fetch(`${t.url}/api/audit?tenantId=${tenant.tenantId}`)).status).toBe(401);
  });
});

describe('telemetry for the metrics', () => {
  it('emits received and completed (with latency) events with ids and enums only', async () => {
    const { t } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: false });
    const waId = newSubject().waId;
    const response = await postRequest(t, { tenantId: tenant.tenantId, type: 'objection', subject: { waId } });
    const { id } = (await response.json()) as { id: string };
    await waitForStatus(t, id, ['completed']);
    const events = await eventually(() => {
      const mine = t.services.telemetry.events.filter((e) => e.dimensions.tenantId === tenant.tenantId);
      return mine.some((e) => e.name === 'privacy.request.completed') ? mine : undefined;
    });
    expect(events.find((e) => e.name === 'privacy.request.received')?.dimensions).toEqual({ tenantId: tenant.tenantId, type: 'objection', channel: 'admin' });
    const completed = events.find((e) => e.name === 'privacy.request.completed')!.dimensions;
    expect(completed).toMatchObject({ tenantId: tenant.tenantId, type: 'objection', channel: 'admin', latencyMs: expect.any(Number) });
    expect(JSON.stringify(events)).not.toContain(waId);
    const view = await getRequest(t, id);
    expect(view.completedAt).toBeDefined();
  });
});
