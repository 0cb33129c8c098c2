import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { dataKeyring, hashSubject } from '../../shared/crypto';
import { type TenantId, type WaId } from '../../shared/domain';
import {
  advanceCancellation,
  cancellationProgress,
  cancelTenant,
  createPrivacyRequest,
  DEFAULT_RETRY_POLICY,
  processPrivacyRequest,
  readAccessExport,
  RecentTenants,
  runErasureTask,
  StoreError,
  StoreRegistry,
  subjectPartitionDataStore,
  type ErasureTaskMessage,
  type PrivacyDeps,
} from '../../shared/privacy';
import { DeadLetterError } from '../../shared/queue';
import { CachedSecretProvider, SettingsSecretProvider } from '../../shared/secrets';
import { lifetime } from '../../shared/subjects';
import { tenantInputSchema } from '../../shared/tenants';
import { InMemoryAudit, InMemoryDataStore, InMemoryFiles, InMemoryIdentityLinks, InMemoryMarkers, InMemoryPrivacyRequests, InMemorySubjectStore, InMemoryTenants, MemoryObjectRegistry, RecordingConfirmations, RecordingCrm, RecordingQueue, ManualClock, RecordingTelemetry } from '../doubles';
import { hashOfWaId, pkOfWaId } from '../support/subjects';

/**
 * The privacy use cases on in-memory doubles of their ports (test/doubles): milliseconds per case, no
 * emulator. The Cosmos subject partition's registry entry is the real one (shared/privacy), on the
 * in-memory subject store; the Blob, HubSpot and export entries are in-memory stores. The emulator tests
 * beside this file prove the adapters.
 */
const TENANT = 'unit-lettings' as TenantId;
const WA_ID = '447700900123' as WaId;

async function world(config: { hubspot?: boolean; confirmErasureByMessage?: boolean } = {}) {
  const clock = new ManualClock(new Date('2026-03-02T10:00:00Z'));
  const tenants = new InMemoryTenants([], clock);
  await tenants.put(TENANT, tenantInputSchema.parse({ name: 'Acme Lettings', phoneNumberIds: ['106540352242922'], messageStorage: 'encrypted', hubspot: { enabled: config.hubspot ?? false }, confirmErasureByMessage: config.confirmErasureByMessage ?? false }));
  const secrets = new CachedSecretProvider(
    new SettingsSecretProvider({ SUBJECT_HASH_KEY: 'unit-subject-hash-key-0123456789abcdef0123', DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'), WHATSAPP_ACCESS_TOKEN: 'token' }),
    60_000,
    clock,
  );
  const subjects = new InMemorySubjectStore();
  const markers = new InMemoryMarkers(clock);
  const links = new InMemoryIdentityLinks();
  const files = new InMemoryFiles();
  const blob = new InMemoryDataStore('blob', ['all', 'media']);
  const hubspot = new InMemoryDataStore('hubspot', ['all'], (tenant) => tenant.hubspot.enabled);
  const exports = new InMemoryDataStore('exports', ['all']);
  const queue = new RecordingQueue();
  const keyring = () => dataKeyring(secrets);
  const deps: PrivacyDeps = {
    requests: new InMemoryPrivacyRequests(),
    tenants,
    recentTenants: new RecentTenants(tenants),
    audit: new InMemoryAudit(clock),
    markers,
    subjects,
    links,
    exports: files,
    tenantFiles: files,
    queue,
    secrets,
    clock,
    telemetry: new RecordingTelemetry(),
    registry: new StoreRegistry([subjectPartitionDataStore({ subjects, markers, links, clock, keyring }), blob, hubspot, exports]),
    crm: new RecordingCrm(),
    crmRecords: new MemoryObjectRegistry(),
    confirmations: new RecordingConfirmations(),
    keyring,
    retry: { ...DEFAULT_RETRY_POLICY },
    random: () => 0,
  };
  const subjectHash = await hashSubject(secrets, TENANT, WA_ID);
  /** The subject's contact, a message and a consent in the partition, two media files and a HubSpot contact. */
  const seedSubject = async (waId: WaId = WA_ID) => {
    const pk = pkOfWaId(TENANT, waId, 'unit-subject-hash-key-0123456789abcdef0123');
    const now = clock.now();
    const base = { pk, tenantId: TENANT, createdAt: now.toISOString(), ...lifetime(now, 3600) };
    await subjects.upsert({ ...base, id: 'contact', type: 'contact', waId, profileName: 'Morwenna', optIn: 'unknown', firstSeenAt: now.toISOString(), lastSeenAt: now.toISOString() } as never);
    await subjects.upsert({ ...base, id: 'msg-1', type: 'message', messageId: 'wamid.1', direction: 'inbound', messageType: 'text', ciphertext: 'x', keyId: 'k', sentAt: now.toISOString() } as never);
    await subjects.upsert({ ...base, id: 'consent-marketing', type: 'consent', purpose: 'marketing', granted: true, at: now.toISOString() } as never);
    const hash = await hashSubject(secrets, TENANT, waId);
    blob.put({ tenantId: TENANT, subjectHash: hash }, 2);
    hubspot.put({ tenantId: TENANT, subjectHash: hash }, 1);
  };
  const sent = (name: string) => queue.sent.filter((s) => s.queue === name).map((s) => s.message);
  /** Delivers every message sent so far to its consumer, as the host would, until none is left. */
  const drain = async () => {
    for (let delivered = 0; delivered < queue.sent.length; delivered++) {
      const { queue: name, message } = queue.sent[delivered]!;
      if (message.scheduledAt && message.scheduledAt > clock.now()) continue;
      if (name === 'privacy-requests') await processPrivacyRequest(deps, message.body);
      if (name === 'erasure-tasks') await runErasureTask(deps, message.body);
    }
  };
  const erasure = async () => {
    const created = await createPrivacyRequest(deps, { tenantId: TENANT, subject: { kind: 'waId', value: WA_ID }, type: 'erasure', channel: 'admin', actor: 'operator-1' });
    if (created.kind === 'unknown-tenant') throw new Error('tenant missing');
    return created.request.id;
  };
  return { clock, deps, subjects, markers, files, blob, hubspot, queue, subjectHash, seedSubject, sent, drain, erasure, requests: deps.requests as InMemoryPrivacyRequests, audit: deps.audit as InMemoryAudit };
}

describe('creating a request', () => {
  it('writes the request with its due date, audits it and sends its id (never the wa_id) to privacy-requests', async () => {
    const w = await world();
    const created = await createPrivacyRequest(w.deps, { tenantId: TENANT, subject: { kind: 'waId', value: WA_ID }, type: 'erasure', channel: 'flow', screen: 'PRIVACY' });
    expect(created).toMatchObject({ kind: 'created', request: { status: 'received', dueAt: '2026-04-02T10:00:00.000Z' } });
    const id = created.kind === 'created' ? created.request.id : '';
    expect(w.sent('privacy-requests')).toEqual([{ messageId: id, body: { requestId: id } }]);
    expect((await w.requests.get(id))?.enqueuedAt).toBeDefined();
    expect(w.audit.events.map((e) => [e.type, e.subjectHash])).toEqual([['privacy.request.received', w.subjectHash]]);
    expect(JSON.stringify([w.queue.sent, w.audit.events, w.requests.all().map(({ subjectRef: _ref, ...rest }) => rest)])).not.toContain(WA_ID);
  });

  it('an identical request still open is returned instead of a second one (the open-request lock); once finished, a new one starts', async () => {
    const w = await world();
    const first = await w.erasure();
    const again = await createPrivacyRequest(w.deps, { tenantId: TENANT, subject: { kind: 'waId', value: WA_ID }, type: 'erasure', channel: 'flow' });
    expect(again).toMatchObject({ kind: 'existing', request: { id: first } });
    const other = await createPrivacyRequest(w.deps, { tenantId: TENANT, subject: { kind: 'waId', value: WA_ID }, type: 'erasure', scope: 'media', channel: 'flow' });
    expect(other.kind).toBe('created');
    await w.drain();
    expect((await w.requests.get(first))?.status).toBe('completed');
    expect((await createPrivacyRequest(w.deps, { tenantId: TENANT, subject: { kind: 'waId', value: WA_ID }, type: 'erasure', channel: 'flow' })).kind).toBe('created');
  });

  it('a tenant that does not exist gets no request', async () => {
    const w = await world();
    expect(await createPrivacyRequest(w.deps, { tenantId: 'nobody' as TenantId, subject: { kind: 'waId', value: WA_ID }, type: 'erasure', channel: 'admin' })).toEqual({ kind: 'unknown-tenant' });
    expect(w.requests.all()).toEqual([]);
  });
});

describe('an erasure', () => {
  it('is planned into one task per store: a store that does not apply, or holds nothing, is done at once with a note', async () => {
    const w = await world({ hubspot: false });
    await w.seedSubject();
    const id = await w.erasure();
    expect(await processPrivacyRequest(w.deps, { requestId: id })).toBe('planned');
    const doc = (await w.requests.get(id))!;
    expect(doc.status).toBe('in_progress');
    expect(doc.tasks.map((t) => [t.store, t.status, t.note ?? ''])).toEqual([
      ['cosmos', 'pending', ''],
      ['blob', 'pending', ''],
      ['hubspot', 'done', 'not applicable: hubspot is not used by this tenant'],
      ['exports', 'pending', ''],
    ]);
    expect(w.sent('erasure-tasks').map((m) => [(m.body as ErasureTaskMessage).store, m.properties?.store])).toEqual([
      ['cosmos', 'cosmos'],
      ['blob', 'blob'],
      ['exports', 'exports'],
    ]);
  });

  it('runs each store task; the last one moves the request to verifying and sends the verification', async () => {
    const w = await world({ hubspot: true });
    await w.seedSubject();
    const id = await w.erasure();
    await processPrivacyRequest(w.deps, { requestId: id });
    for (const store of ['cosmos', 'blob', 'hubspot', 'exports'] as const) {
      expect(await runErasureTask(w.deps, { requestId: id, store, attempt: 1, generation: 0 })).toBe('done');
    }
    const doc = (await w.requests.get(id))!;
    expect(doc.status).toBe('verifying');
    expect(doc.tasks.map((t) => [t.store, t.counts.found, t.counts.deleted])).toEqual([
      ['cosmos', 3, 3],
      ['blob', 2, 2],
      ['hubspot', 1, 1],
      ['exports', 0, 0],
    ]);
    expect(w.subjects.all()).toEqual([]);
    expect(w.sent('privacy-requests').at(-1)).toEqual({ messageId: `${id}:verify:0`, body: { requestId: id, attempt: 1 } });
    // A stale copy of a task message (the task is done) changes nothing.
    expect(await runErasureTask(w.deps, { requestId: id, store: 'blob', attempt: 1, generation: 0 })).toBe('ignored');
  });

  it('completes after a clean verification: tombstone, audit event with the counts, confirmation, subject reference wiped', async () => {
    const w = await world({ hubspot: true, confirmErasureByMessage: true });
    await w.seedSubject();
    const id = await w.erasure();
    await w.drain();
    const doc = (await w.requests.get(id))!;
    expect(doc).toMatchObject({ status: 'completed', verification: { reruns: 0, leftovers: {} } });
    expect(doc.subjectRef).toBeUndefined();
    expect(await w.markers.get('tombstone', TENANT, w.subjectHash)).toMatchObject({ data: { requestId: id, scope: 'all' } });
    const completed = w.audit.events.find((e) => e.type === 'privacy.erasure.completed')!;
    expect(completed.details).toMatchObject({ 'cosmos.deleted': 3, 'blob.deleted': 2, 'hubspot.deleted': 1, reruns: 0 });
    // The confirmation goes out last, after "completed" and the fence lifted, and is audited on its own.
    expect(w.audit.events.find((e) => e.type === 'privacy.erasure.confirmation')?.details).toMatchObject({ confirmationSent: true });
    expect(await w.markers.get('fence', TENANT, w.subjectHash)).toBeUndefined();
    expect((w.deps.confirmations as RecordingConfirmations).sent).toEqual([expect.objectContaining({ tenantId: TENANT, identifier: { kind: 'waId', value: WA_ID }, subjectHash: w.subjectHash })]);
  });

  it('a leftover found by the verification gets one re-run of its eraser; a leftover that survives it fails the request naming the store', async () => {
    const w = await world();
    await w.seedSubject();
    const racing = w.deps.registry.get('blob');
    const erase = racing.eraseSubject.bind(racing);
    let races = 2;
    racing.eraseSubject = async (subject, scope) => {
      const outcome = await erase(subject, scope);
      if (races-- > 0) w.blob.put(subject, 1); // a download that raced the erasure wrote a file after it
      return outcome;
    };
    const id = await w.erasure();
    await w.drain();
    expect(await w.requests.get(id)).toMatchObject({
      status: 'failed',
      failure: { store: 'blob', reason: 'verification found 1 item(s) left in blob after a re-run of the erasure' },
      verification: { reruns: 1, leftovers: { blob: 1 } },
    });
    expect(w.audit.events.map((e) => e.type)).toEqual(['privacy.request.received', 'privacy.request.failed']);
    // A failed erasure is an open obligation: its subject stays fenced until a retry completes it.
    expect(await w.markers.get('fence', TENANT, w.subjectHash)).toMatchObject({ data: { requestId: id } });
  });

  it("the subject is fenced from the request's receipt, before any store is touched, until after 'completed'", async () => {
    const w = await world();
    await w.seedSubject();
    const id = await w.erasure();
    expect(await w.markers.get('fence', TENANT, w.subjectHash)).toMatchObject({ data: { requestId: id, scope: 'all' } });
    // The write at receipt failed: planning writes the fence before the first task goes out.
    await w.markers.delete('fence', TENANT, w.subjectHash);
    const cosmos = w.deps.registry.get('cosmos');
    const erase = cosmos.eraseSubject.bind(cosmos);
    let fencedWhileErasing: unknown;
    cosmos.eraseSubject = async (subject, scope) => {
      fencedWhileErasing = await w.markers.get('fence', TENANT, w.subjectHash);
      return erase(subject, scope);
    };
    await w.drain();
    expect(fencedWhileErasing).toMatchObject({ data: { requestId: id } });
    expect(await w.requests.get(id)).toMatchObject({ status: 'completed' });
    expect(await w.markers.get('fence', TENANT, w.subjectHash)).toBeUndefined();
    expect(await w.markers.get('tombstone', TENANT, w.subjectHash)).toMatchObject({ data: { requestId: id } });
  });

  it('an erasure that completes beside another open erasure of the subject leaves the subject fenced for that one', async () => {
    const w = await world();
    await w.seedSubject();
    const first = await w.erasure();
    const second = await createPrivacyRequest(w.deps, { tenantId: TENANT, subject: { kind: 'waId', value: WA_ID }, type: 'erasure', scope: 'media', channel: 'admin' });
    if (second.kind !== 'created') throw new Error('second erasure not created');
    // The first one's fence was written last (a retry re-planned it): the second is unfenced until the first completes.
    await w.markers.put('fence', TENANT, w.subjectHash, { ttlSeconds: -1, data: { requestId: first, since: new Date().toISOString(), scope: 'all' } });
    await processPrivacyRequest(w.deps, { requestId: first });
    for (const task of w.sent('erasure-tasks').filter((m) => (m.body as { requestId: string }).requestId === first)) await runErasureTask(w.deps, task.body);
    for (const message of w.sent('privacy-requests').filter((m) => (m.body as { requestId: string }).requestId === first)) await processPrivacyRequest(w.deps, message.body);
    expect(await w.requests.get(first)).toMatchObject({ status: 'completed' });
    expect(await w.markers.get('fence', TENANT, w.subjectHash)).toMatchObject({ data: { requestId: second.request.id } });
  });

  it('a transient store failure is rescheduled with backoff; after the last attempt the task and the request fail and the message is dead-lettered', async () => {
    const w = await world();
    await w.seedSubject();
    w.deps.retry.maxAttempts = 2;
    const id = await w.erasure();
    await processPrivacyRequest(w.deps, { requestId: id });
    w.blob.failures.push(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), new StoreError('transient', 'Blob Storage answered 503 on media delete'));
    expect(await runErasureTask(w.deps, { requestId: id, store: 'blob', attempt: 1, generation: 0 })).toBe('rescheduled');
    const retry = w.sent('erasure-tasks').at(-1)!;
    // The first backoff's shortest wait (jitter pinned at 0): 1.6 s (shared/retry, DEFAULT_RETRY_POLICY).
    expect(retry).toMatchObject({ body: { store: 'blob', attempt: 2 }, scheduledAt: new Date(w.clock.now().getTime() + 1600) });
    await expect(runErasureTask(w.deps, retry.body)).rejects.toThrow(DeadLetterError);
    expect(await w.requests.get(id)).toMatchObject({ status: 'failed', failure: { store: 'blob', reason: 'Blob Storage answered 503 on media delete' } });
    expect((await w.requests.get(id))!.tasks.find((t) => t.store === 'blob')).toMatchObject({ status: 'failed', attempts: 2 });
  });
});

describe('direct requests', () => {
  it('access: every store exported into one document, kept until the export expires', async () => {
    const w = await world({ hubspot: true });
    await w.seedSubject();
    const created = await createPrivacyRequest(w.deps, { tenantId: TENANT, subject: { kind: 'waId', value: WA_ID }, type: 'access', channel: 'admin' });
    const id = created.kind === 'created' ? created.request.id : '';
    expect(await processPrivacyRequest(w.deps, { requestId: id })).toBe('completed');
    const result = await readAccessExport(w.deps, id);
    expect(result.kind).toBe('ok');
    const exported = JSON.parse(result.kind === 'ok' ? result.content.toString('utf8') : '{}') as { subject: { waId: string }; stores: Record<string, { records: number }> };
    expect(exported.subject.waId).toBe(WA_ID);
    expect(Object.entries(exported.stores).map(([store, s]) => [store, s.records])).toEqual([['cosmos', 3], ['blob', 2], ['hubspot', 1], ['exports', 0]]);
    w.clock.advance(8 * 86_400_000); // the default exportDays is 7
    expect((await readAccessExport(w.deps, id)).kind).toBe('expired');
  });

  it('rectification: the contact renamed, in HubSpot too, and the audit event says so without the name', async () => {
    const w = await world({ hubspot: true });
    await w.seedSubject();
    const created = await createPrivacyRequest(w.deps, { tenantId: TENANT, subject: { kind: 'waId', value: WA_ID }, type: 'rectification', channel: 'admin', rectification: { profileName: 'Morwenna Trevithick' } });
    const id = created.kind === 'created' ? created.request.id : '';
    await processPrivacyRequest(w.deps, { requestId: id });
    expect(await w.subjects.getContact(TENANT, hashOfWaId(TENANT, WA_ID, 'unit-subject-hash-key-0123456789abcdef0123'))).toMatchObject({ profileName: 'Morwenna Trevithick', rectifiedAt: w.clock.now().toISOString() });
    expect((w.deps.crm as RecordingCrm).renames).toEqual([{ subject: expect.objectContaining({ tenantId: TENANT, identifier: { kind: 'waId', value: WA_ID } }), profileName: 'Morwenna Trevithick' }]);
    const event = w.audit.events.find((e) => e.type === 'privacy.rectification.completed')!;
    expect(event.details).toMatchObject({ rectified: true, hubspotContactsUpdated: 1 });
    expect(JSON.stringify(w.audit.events)).not.toContain('Trevithick');
    expect((await w.requests.get(id))?.rectificationRef).toBeUndefined();
  });

  it('restriction flags the contact; objection suppresses the subject and withdraws the marketing consent', async () => {
    const w = await world();
    await w.seedSubject();
    for (const type of ['restriction', 'objection'] as const) {
      const created = await createPrivacyRequest(w.deps, { tenantId: TENANT, subject: { kind: 'waId', value: WA_ID }, type, channel: 'admin' });
      await processPrivacyRequest(w.deps, { requestId: created.kind === 'created' ? created.request.id : '' });
    }
    expect(await w.subjects.getContact(TENANT, hashOfWaId(TENANT, WA_ID, 'unit-subject-hash-key-0123456789abcdef0123'))).toMatchObject({ restricted: true });
    expect(await w.markers.get('suppression', TENANT, w.subjectHash)).toMatchObject({ data: { source: 'objection' } });
    expect(await w.subjects.consents({ tenantId: TENANT, identifier: { kind: 'waId', value: WA_ID }, subjectHash: hashOfWaId(TENANT, WA_ID, 'unit-subject-hash-key-0123456789abcdef0123'), subjectHashes: [] })).toEqual([expect.objectContaining({ purpose: 'marketing', granted: false })]);
    expect(w.requests.all().map((d) => d.status)).toEqual(['completed', 'completed']);
  });
});

describe('account cancellation', () => {
  it('erases every subject through the erasure pipeline, then what is left under the tenant, then the tenant', async () => {
    const w = await world();
    const others = ['447700900124', '447700900125'] as WaId[];
    await w.seedSubject();
    for (const waId of others) await w.seedSubject(waId);
    await w.files.write(`${TENANT}/orphan/old.jpg`, Buffer.from('x'));
    const started = await cancelTenant(w.deps, TENANT, 'operator-1');
    expect(started).toMatchObject({ kind: 'started', progress: { status: 'erasing', subjectsRequested: 3, subjectsRemaining: 3 } });
    await w.drain();
    await advanceCancellation(w.deps, TENANT);
    expect(await cancellationProgress(w.deps, TENANT)).toMatchObject({ status: 'completed', subjectsRequested: 3, subjectsRemaining: 0, requests: { completed: 3 } });
    expect(await w.deps.tenants.get(TENANT)).toBeUndefined();
    expect(w.files.files.size).toBe(0);
    expect(w.audit.events.find((e) => e.type === 'tenant.cancellation.completed')?.details).toMatchObject({ subjectsErased: 3, orphanBlobsDeleted: 1 });
  });
});
