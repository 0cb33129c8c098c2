import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TenantId, type WaId } from '../../shared/domain';
import { retentionSecondsFor, runRetentionSweep, subjectDocumentLifetime, timeBudget } from '../../shared/retention';
import { SUBJECT_DOCUMENT_TYPES, type SubjectDocumentType } from '../../shared/subjects';
import { testServices, uniqueTenantId, type TestServices } from '../support/testServices';
import { auditEvents, DAY_MS, sweepPorts, tenantWith } from './support';
import { CosmosMarkerStore, cosmosExpiredDocuments } from '../../shared/cosmos';
import { ManualClock } from '../doubles';
import { pkOfWaId } from '../support/subjects';

let s: TestServices;
const clock = new ManualClock(new Date('2026-03-01T12:00:00Z'));
beforeAll(async () => {
  s = await testServices({}, { clock });
});
afterAll(async () => {
  await s?.close();
});

const WA_ID = '447700900123' as WaId;

async function writeSubjectDocument(tenantId: string, type: SubjectDocumentType, id: string, lifetime: { ttl: number; expiresAt: string }, waId = WA_ID) {
  const now = clock.now().toISOString();
  await s.cosmos.subjects.items.upsert({
    id,
    pk: pkOfWaId(tenantId, waId),
    tenantId,
    type,
    createdAt: now,
    ...lifetime,
  });
}

async function exists(tenantId: string, id: string, waId = WA_ID): Promise<boolean> {
  const { resource } = await s.cosmos.subjects.item(id, pkOfWaId(tenantId, waId)).read();
  return resource !== undefined;
}

describe('retention sweep of Cosmos documents (cosmosdb-server ignores TTL)', () => {
  it('data written under each retention setting is kept until its period ends and gone after it', async () => {
    const tenantId = uniqueTenantId('ret');
    const tenant = tenantWith(tenantId, { contactDays: 200, flowResponseDays: 60, messageDays: 14, mediaDays: 21 });
    const start = clock.now();
    for (const type of SUBJECT_DOCUMENT_TYPES) {
      const lifetime = subjectDocumentLifetime(tenant.retention, type, start);
      expect(lifetime.ttl).toBe(retentionSecondsFor(tenant.retention, type));
      await writeSubjectDocument(tenantId, type, `${type}-1`, lifetime);
    }
    const ports = sweepPorts(s, [tenant]);
    const periods = [...new Set(SUBJECT_DOCUMENT_TYPES.map((type) => retentionSecondsFor(tenant.retention, type)))].sort((a, b) => a - b);
    for (const seconds of periods) {
      // One second before the end: every document still there whose period has not ended.
      clock.set(new Date(start.getTime() + seconds * 1000 - 1000));
      await runRetentionSweep(ports, { budget: timeBudget(60_000) });
      for (const type of SUBJECT_DOCUMENT_TYPES) {
        expect(await exists(tenantId, `${type}-1`), `${type} before ${seconds}s`).toBe(retentionSecondsFor(tenant.retention, type) >= seconds);
      }
      // At the end: the documents of this period are gone.
      clock.set(new Date(start.getTime() + seconds * 1000));
      await runRetentionSweep(ports, { budget: timeBudget(60_000) });
      for (const type of SUBJECT_DOCUMENT_TYPES) {
        expect(await exists(tenantId, `${type}-1`), `${type} at ${seconds}s`).toBe(retentionSecondsFor(tenant.retention, type) > seconds);
      }
    }
    const events = await auditEvents(s, tenantId, 'retention.sweep.completed');
    clock.set(start);
    const total = events.reduce((sum, e) => sum + Number(e.details?.subjectDocuments ?? 0), 0);
    expect(total).toBe(SUBJECT_DOCUMENT_TYPES.length);
  });

  it('removes expired idempotency keys but keeps tombstones, suppressions and unexpired markers', async () => {
    const tenantId = uniqueTenantId('ret') as TenantId;
    const markers = new CosmosMarkerStore(s.cosmos.markers, clock);
    const start = clock.now();
    await markers.claim('seen-message', tenantId, 'wamid.short', 86_400);
    await markers.claim('seen-message', tenantId, 'wamid.long', 30 * 86_400);
    await markers.put('tombstone', tenantId, 'subject-hash-1');
    await markers.put('suppression', tenantId, 'subject-hash-2');
    clock.set(new Date(start.getTime() + 2 * DAY_MS));
    try {
      const result = await runRetentionSweep(sweepPorts(s, [tenantWith(tenantId)]), { budget: timeBudget(60_000) });
      expect(result.tenants[0]?.removed).toMatchObject({ markers: 1, subjectDocuments: 0 });
      const { resources } = await s.cosmos.markers.items
        .query<{ kind: string; key: string }>({ query: 'SELECT c.kind, c.key FROM c WHERE c.tenantId = @t', parameters: [{ name: '@t', value: tenantId }] })
        .fetchAll();
      expect(resources.map((m) => `${m.kind}:${m.key}`).sort()).toEqual(['seen-message:wamid.long', 'suppression:subject-hash-2', 'tombstone:subject-hash-1']);
    } finally {
      clock.set(start);
    }
  });

  it('a contact refreshed by activity between the query and the delete is kept (the delete is conditional)', async () => {
    const tenantId = uniqueTenantId('ret');
    const start = clock.now();
    await writeSubjectDocument(tenantId, 'contact', 'contact', { ttl: 86_400, expiresAt: new Date(start.getTime() - 1000).toISOString() });
    await writeSubjectDocument(tenantId, 'message', 'msg-1', { ttl: 86_400, expiresAt: new Date(start.getTime() - 1000).toISOString() });
    const real = cosmosExpiredDocuments(s.cosmos.subjects, 'type');
    const racing = {
      findExpired: async (t: TenantId, now: Date, max: number) => {
        const page = await real.findExpired(t, now, max);
        // The webhook sees the subject again: the contact's TTL is refreshed.
        await writeSubjectDocument(tenantId, 'contact', 'contact', { ttl: 86_400, expiresAt: new Date(start.getTime() + DAY_MS).toISOString() });
        return page;
      },
      delete: real.delete,
    };
    const result = await runRetentionSweep(sweepPorts(s, [tenantWith(tenantId)], { subjects: racing }), { budget: timeBudget(60_000) });
    expect(await exists(tenantId, 'contact')).toBe(true);
    expect(await exists(tenantId, 'msg-1')).toBe(false);
    expect(result.tenants[0]?.removed).toMatchObject({ subjectDocuments: 1, messages: 1, contacts: 0 });
  });

  it('reports each tenant separately, counts only, once per run, with metrics per store', async () => {
    const [a, b] = [uniqueTenantId('ret'), uniqueTenantId('ret')];
    const past = { ttl: 60, expiresAt: new Date(clock.now().getTime() - 1000).toISOString() };
    await writeSubjectDocument(a, 'contact', 'contact', past);
    await writeSubjectDocument(b, 'contact', 'contact', past, '447700900124' as WaId);
    await writeSubjectDocument(b, 'flowResponse', 'flow-1', past, '447700900124' as WaId);
    const result = await runRetentionSweep(sweepPorts(s, [tenantWith(a), tenantWith(b)]), { budget: timeBudget(60_000), documentPageSize: 1 });
    expect(result.status).toBe('completed');
    const [eventA] = await auditEvents(s, a, 'retention.sweep.completed');
    const [eventB] = await auditEvents(s, b, 'retention.sweep.completed');
    expect(eventA?.details).toMatchObject({ subjectDocuments: 1, contacts: 1 });
    expect(eventB?.details).toMatchObject({ subjectDocuments: 2, contacts: 1, flowResponses: 1 });
    expect(eventB?.subjectHash).toBeUndefined();
    const serialized = JSON.stringify([eventA, eventB, s.telemetry.events, s.telemetry.metrics]);
    expect(serialized).not.toContain('447700900124');
    expect(serialized).not.toContain('447700900123');
    expect(s.telemetry.metrics).toContainEqual({ name: 'retention.sweep.removed', value: 2, dimensions: { tenantId: b, store: 'subjects' } });
  });
});
