import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubjectHash, TenantId } from '../../shared/domain';
import type { CancellationProgress } from '../../shared/privacy';
import { rootOf } from '../../shared/runtime';
import { messages, single } from '../fixtures/whatsapp/payloads';
import { adminHeaders, operatorHeaders } from '../support/principals';
import { eventually } from '../support/testServices';
import { postWebhook, subjectDocuments, subjectHashOf } from '../whatsapp/support';
import { createPrivacyTenant, newSubject, startPrivacyWorld, type PrivacyWorld } from './support';
import { CosmosAuditLog, CosmosMarkerStore } from '../../shared/cosmos';

let world: PrivacyWorld;
beforeAll(async () => {
  world = await startPrivacyWorld();
});
afterAll(async () => {
  await world?.close();
});

describe('account cancellation', () => {
  it('erases every subject of the tenant, then what is left under its prefixes, then its configuration; keeps audit events and tombstones', async () => {
    const { t, hubspot } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: true });
    const subjects = [newSubject(), newSubject(), newSubject()];
    for (const s of subjects) {
      const response = await postWebhook(t.url, single(tenant.phoneNumberId, s.waId, messages.text(s.waId, s.text), s.name));
      expect(response.status).toBe(200);
    }
    const contact = hubspot.addContact({ firstname: 'Morwenna', phone: `+${subjects[0]!.waId}` });
    const orphan = t.services.blobs.media.getBlockBlobClient(`${tenant.tenantId}/${'0'.repeat(64)}/left-behind.jpg`);
    // The HubSpot ids Flowkeeper still holds for a subject whose own data already expired.
    const registry = rootOf(t.services).hubspotObjects;
    await registry.recordContact(tenant.tenantId, 'e'.repeat(64) as SubjectHash, { id: '424242', origin: 'created', matchedBy: ['phone'] }, 86_400);
    await orphan.uploadData(Buffer.from('media whose reference expired'));
    // A flow response whose contact expired first: its partition names no identifier any more (a keyed hash).
    const orphanPk = `${tenant.tenantId}|${'f'.repeat(64)}`;
    await t.services.cosmos.subjects.items.create({ id: 'flow-orphan', pk: orphanPk, tenantId: tenant.tenantId, type: 'flowResponse', messageId: 'wamid.x', answers: { note: 'left behind' }, receivedAt: new Date().toISOString(), createdAt: new Date().toISOString(), ttl: 3600, expiresAt: new Date(Date.now() + 3_600_000).toISOString() });

    expect((await fetch(`${t.url}/api/tenants/${tenant.tenantId}/cancel`, { method: 'POST', headers: operatorHeaders(['someone-else']) })).status).toBe(404);
    const started = await fetch(`${t.url}/api/tenants/${tenant.tenantId}/cancel`, { method: 'POST', headers: adminHeaders() });
    expect(started.status).toBe(202);
    expect((await started.json()) as CancellationProgress).toMatchObject({ tenantId: tenant.tenantId, status: 'erasing', subjectsRequested: 3 });

    const done = await eventually(async () => {
      const response = await fetch(`${t.url}/api/tenants/${tenant.tenantId}/cancellation`, { headers: adminHeaders() });
      const progress = (await response.json()) as CancellationProgress;
      return progress.status === 'completed' ? progress : undefined;
    }, 20_000, 'the cancellation');
    expect(done).toMatchObject({ subjectsRequested: 3, subjectsRemaining: 0, requests: { completed: 3, failed: 0, received: 0, in_progress: 0, verifying: 0 } });

    expect((await fetch(`${t.url}/api/tenants/${tenant.tenantId}`, { headers: adminHeaders() })).status).toBe(404);
    for (const s of subjects) expect(await subjectDocuments(t.services, tenant.tenantId, s.waId)).toEqual([]);
    expect(await orphan.exists()).toBe(false);
    const { resources: left } = await t.services.cosmos.subjects.items.query({ query: 'SELECT c.id FROM c WHERE c.tenantId = @t', parameters: [{ name: '@t', value: tenant.tenantId }] }).fetchAll();
    expect(left).toEqual([]);
    expect(await registry.get(tenant.tenantId, 'e'.repeat(64) as SubjectHash)).toBeUndefined();
    expect(hubspot.contacts.has(contact.id)).toBe(false);
    const markers = new CosmosMarkerStore(t.services.cosmos.markers, t.services.clock);
    for (const s of subjects) {
      const hash = (await subjectHashOf(t.services, tenant.tenantId, s.waId)) as SubjectHash;
      expect(await markers.get('tombstone', tenant.tenantId, hash)).toBeDefined();
    }
    const events = await new CosmosAuditLog(t.services.cosmos.audit, t.services.clock).query(tenant.tenantId as TenantId, new Date(0), new Date(Date.now() + 1000));
    const types = events.map((e) => e.type);
    expect(types.filter((x) => x === 'privacy.erasure.completed')).toHaveLength(3);
    expect(types).toContain('tenant.cancellation.started');
    expect(types.at(-1)).toBe('tenant.cancellation.completed');
    const text = JSON.stringify(events);
    for (const s of subjects) for (const needle of [s.waId, s.name, s.text]) expect(text).not.toContain(needle);

    // Asking again after the fact shows the finished cancellation rather than a 404.
    const again = await fetch(`${t.url}/api/tenants/${tenant.tenantId}/cancel`, { method: 'POST', headers: adminHeaders() });
    expect(again.status).toBe(202);
    expect(((await again.json()) as CancellationProgress).status).toBe('completed');
  }, 40_000);

  it('answers 404 for a tenant that does not exist, and for the progress of a tenant never cancelled', async () => {
    const { t } = world;
    expect((await fetch(`${t.url}/api/tenants/no-such-tenant/cancel`, { method: 'POST', headers: adminHeaders() })).status).toBe(404);
    const tenant = await createPrivacyTenant(world, { hubspot: false });
    expect((await fetch(`${t.url}/api/tenants/${tenant.tenantId}/cancellation`, { headers: adminHeaders() })).status).toBe(404);
    const bad = await fetch(`${t.url}/api/tenants/Bad_Id/cancel`, { method: 'POST', headers: adminHeaders() });
    expect(bad.status).toBe(400);
  });
});
