import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TenantId } from '../../shared/domain';
import { TASK_STORES, type TaskStore } from '../../shared/privacy';
import { RETENTION_SETTING_OF, retentionSecondsFor, runRetentionSweep, timeBudget } from '../../shared/retention';
import { SUBJECT_DOCUMENT_TYPES, type SubjectDocumentType } from '../../shared/subjects';
import { retentionSchema } from '../../shared/tenants';
import { messages, newMediaId, newWaId, single } from '../fixtures/whatsapp/payloads';
import { startTestHost, type TestHost } from '../support/testHost';
import { eventually } from '../support/testServices';
import { CLOSED_PORT_URL, createTenant, postWebhook, subjectDocuments, type TestTenant } from '../whatsapp/support';
import { DAY_MS, sweepPorts } from './support';
import { rootOf } from '../../shared/runtime';
import { ManualClock } from '../doubles';

let t: TestHost;
const clock = new ManualClock(new Date('2026-05-04T08:00:00Z'));
beforeAll(async () => {
  // Media downloads fail fast (nothing listens on the Graph URL): this file is about the documents' TTL.
  t = await startTestHost({ GRAPH_API_BASE_URL: CLOSED_PORT_URL }, { clock });
});
afterAll(async () => {
  await t?.close();
});

/** Distinct retention for every setting, so a document carrying the wrong one is caught. */
const retention = retentionSchema.parse({ contactDays: 200, flowResponseDays: 60, messageDays: 14, mediaDays: 21, exportDays: 3 });

/**
 * How the app itself writes each subject document type: a Record over SUBJECT_DOCUMENT_TYPES, so a new
 * type does not compile until it has a writer here, and the test fails until that writer gives it a ttl.
 */
const WRITERS: Record<SubjectDocumentType, (tenant: TestTenant, waId: string) => Promise<void>> = {
  contact: async (tenant, waId) => send(tenant, waId, messages.text(waId, 'is the flat still available?', clock.now())),
  message: async (tenant, waId) => send(tenant, waId, messages.text(waId, 'can I view it on Thursday?', clock.now())),
  flowResponse: async (tenant, waId) =>
    send(tenant, waId, messages.flowCompletion(waId, { flow_token: 'viewing-42', screen: 'BOOKING', slot: 'thursday-18', party: 2 }, clock.now())),
  mediaRef: async (tenant, waId) => send(tenant, waId, messages.image(waId, { id: newMediaId(), sha256: 'c2hhMjU2' }, undefined, clock.now())),
  // Art. 21 through the privacy flow: the objection records the marketing consent as withdrawn.
  consent: async (tenant, waId) => send(tenant, waId, messages.flowCompletion(waId, { flow_token: 'privacy', action: 'data_objection_request' }, clock.now())),
};

async function send(tenant: TestTenant, waId: string, message: Record<string, unknown>): Promise<void> {
  const response = await postWebhook(t.url, single(tenant.phoneNumberId, waId, message));
  expect(response.status).toBe(200);
}

async function typesOf(tenant: TestTenant, waId: string): Promise<Map<string, Record<string, unknown>>> {
  const docs = await subjectDocuments(t.services, tenant.tenantId, waId);
  return new Map(docs.map((d) => [String(d.type), d]));
}

describe('every subject document carries the TTL of its retention setting', () => {
  it('each document type, written by the app itself, carries the ttl of its retention setting and is gone once that period has passed', async () => {
    const tenant = await createTenant(t, { messageStorage: 'encrypted', retention: { ...retention } });
    const waId = newWaId();
    for (const type of SUBJECT_DOCUMENT_TYPES) {
      await WRITERS[type](tenant, waId);
      await eventually(async () => (await typesOf(tenant, waId)).has(type) || undefined, 15_000, `a ${type} document`);
    }
    const docs = await subjectDocuments(t.services, tenant.tenantId, waId);
    expect(new Set(docs.map((d) => d.type))).toEqual(new Set(SUBJECT_DOCUMENT_TYPES));
    for (const doc of docs) {
      const type = doc.type as SubjectDocumentType;
      const what = `${type} ${String(doc.id)}`;
      expect(Number.isInteger(doc.ttl) && (doc.ttl as number) > 0, `${what} has a positive integer ttl`).toBe(true);
      expect(doc.ttl, `${what} lives ${RETENTION_SETTING_OF[type]}`).toBe(retentionSecondsFor(retention, type));
      // Written at the (manual) clock's now: expiresAt is exactly now + ttl, so the sweep agrees with Cosmos.
      expect(doc.expiresAt, `${what} expiresAt`).toBe(new Date(clock.now().getTime() + (doc.ttl as number) * 1000).toISOString());
    }

    // And each is gone once its own period has passed (the sweep stands in for TTL, which the emulator ignores).
    const start = clock.now();
    const ports = sweepPorts(t.services, [{ id: tenant.tenantId, retention }]);
    try {
      for (const days of [...new Set(Object.values(RETENTION_SETTING_OF).map((setting) => retention[setting]))].sort((a, b) => a - b)) {
        clock.set(new Date(start.getTime() + days * DAY_MS));
        await runRetentionSweep(ports, { budget: timeBudget(60_000) });
        const left = [...(await typesOf(tenant, waId)).keys()].sort();
        expect(left, `after ${days} days`).toEqual(SUBJECT_DOCUMENT_TYPES.filter((type) => retention[RETENTION_SETTING_OF[type]] > days).sort());
      }
    } finally {
      clock.set(start);
    }
  });

  it("a contact's TTL is refreshed on activity, so an active contact outlives contactDays from first contact", async () => {
    const tenant = await createTenant(t, { messageStorage: 'none', retention: { contactDays: 30 } });
    const waId = newWaId();
    const first = clock.now();
    try {
      await WRITERS.contact(tenant, waId);
      const before = (await typesOf(tenant, waId)).get('contact');
      expect(before).toMatchObject({ ttl: 30 * 86_400, expiresAt: new Date(first.getTime() + 30 * DAY_MS).toISOString() });

      clock.set(new Date(first.getTime() + 20 * DAY_MS));
      await WRITERS.contact(tenant, waId);
      const after = (await typesOf(tenant, waId)).get('contact');
      expect(after).toMatchObject({ ttl: 30 * 86_400, expiresAt: new Date(first.getTime() + 50 * DAY_MS).toISOString() });
      expect(after?.firstSeenAt).toBe(before?.firstSeenAt);

      // 31 days after the first message, the contact is still live (the sweep leaves it)...
      const tenants = [{ id: tenant.tenantId as TenantId, retention: retentionSchema.parse({ contactDays: 30 }) }];
      clock.set(new Date(first.getTime() + 31 * DAY_MS));
      await runRetentionSweep(sweepPorts(t.services, tenants), { budget: timeBudget(60_000) });
      expect((await typesOf(tenant, waId)).has('contact')).toBe(true);
      // ...and 30 days after the last activity it is gone.
      clock.set(new Date(first.getTime() + 50 * DAY_MS));
      await runRetentionSweep(sweepPorts(t.services, tenants), { budget: timeBudget(60_000) });
      expect((await typesOf(tenant, waId)).has('contact')).toBe(false);
    } finally {
      clock.set(first);
    }
  });

  it('every store in the privacy registry has a retention mechanism: TTL, the sweep, or the tenant-owned system', () => {
    const registry = rootOf(t.services).privacy.registry;
    const names = registry.stores.map((s) => s.name).sort();
    expect(names).toEqual([...TASK_STORES].sort());
    // How each store's data ends; a new store fails here until someone decides.
    const MECHANISM: Record<TaskStore, string> = {
      cosmos: 'per-item ttl (this file) + retention sweep of expired documents',
      blob: 'retention sweep of media by creation time (mediaDays)',
      exports: 'retention sweep of exports by creation time (exportDays)',
      hubspot: "outside Flowkeeper: the tenant's HubSpot retention; erasure reaches it",
    };
    for (const store of registry.stores) {
      expect(MECHANISM[store.name], store.name).toBeTruthy();
      expect(store.retention.length, `${store.name} declares its retention`).toBeGreaterThan(0);
    }
  });
});
