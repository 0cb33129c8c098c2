import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubjectHash, TenantId } from '../../shared/domain';
import { mediaPrefixFor } from '../../shared/storage';
import { phoneNeedles, sweepForPii } from '../support/piiSweep';
import { eventually } from '../support/testServices';
import { messages, single } from '../fixtures/whatsapp/payloads';
import { adminHeaders } from '../support/principals';
import { postWebhook, subjectDocuments, subjectHashOf } from '../whatsapp/support';
import { buildSubjectThroughWebhooks, createPrivacyTenant, getRequest, newSubject, postRequest, startPrivacyWorld, waitForStatus, type PrivacyWorld } from './support';
import { rootOf } from '../../shared/runtime';
import { CosmosAuditLog, CosmosMarkerStore, CosmosPrivacyRequestRepository } from '../../shared/cosmos';
import { pkOfWaId } from '../support/subjects';

let world: PrivacyWorld;
beforeAll(async () => {
  world = await startPrivacyWorld();
});
afterAll(async () => {
  await world?.close();
});

async function blobsUnder(prefix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const item of world.t.services.blobs.media.listBlobsFlat({ prefix, includeSnapshots: true })) names.push(item.name);
  return names;
}

describe('erasure end to end, over HTTP against the local host', () => {
  it('a subject built up through real webhooks is erased from Cosmos, Blob (with snapshots) and HubSpot; nothing of them is left anywhere', async () => {
    const { t, hubspot } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: true, messageStorage: 'encrypted' });
    const subject = newSubject();
    const { hubspotContactId } = await buildSubjectThroughWebhooks(world, tenant, subject);
    const subjectHash = (await subjectHashOf(t.services, tenant.tenantId, subject.waId)) as SubjectHash;
    const prefix = mediaPrefixFor(tenant.tenantId, subjectHash);
    // A snapshot of the stored image, as a backup tool might take: it must go too.
    const [imageName] = await blobsUnder(prefix);
    await t.services.blobs.media.getBlobClient(imageName!).createSnapshot();

    const before = await subjectDocuments(t.services, tenant.tenantId, subject.waId);
    expect(before.map((d) => d.type).sort()).toEqual(expect.arrayContaining(['contact', 'flowResponse', 'mediaRef', 'message']));
    expect(await blobsUnder(prefix)).toHaveLength(2);
    const needles = [...phoneNeedles(subject.waId), ...subject.needles];
    // The data is really there before: the sweep finds it in every store.
    const seeded = await sweepForPii(needles, { cosmos: t.services.cosmos.subjects.database, blobs: [t.services.blobs.media], hubspot });
    expect(new Set(seeded.map((h) => h.location.split(':')[0]))).toEqual(new Set(['cosmos', 'blob', 'hubspot']));

    const started = Date.now();
    const response = await postRequest(t, { tenantId: tenant.tenantId, type: 'erasure', subject: { waId: `+${subject.waId}` } });
    expect(response.status).toBe(202);
    const accepted = (await response.json()) as { id: string; status: string; dueAt: string };
    expect(accepted.status).toBe('received');
    const done = await waitForStatus(t, accepted.id, ['completed', 'failed']);
    expect(done.status).toBe('completed');
    expect(Date.now() - started).toBeLessThan(5000); // the seed's bar, end to end over HTTP

    // Per-store tasks with counts and timings.
    const byStore = Object.fromEntries(done.tasks.map((task) => [task.store, task]));
    expect(byStore.cosmos).toMatchObject({ status: 'done', counts: { found: before.length, deleted: before.length } });
    expect(byStore.blob).toMatchObject({ status: 'done', counts: { found: 2, deleted: 2 } });
    expect(byStore.hubspot).toMatchObject({ status: 'done', counts: { found: 1, deleted: 1 } });
    expect(byStore.exports).toMatchObject({ status: 'done' });
    for (const task of done.tasks) expect(task.durationMs).toBeGreaterThanOrEqual(0);
    expect(done.verification).toMatchObject({ reruns: 0, leftovers: {} });
    expect(hubspot.gdprDeleted).toContain(hubspotContactId);

    // Nothing of the subject anywhere: every container, every blob with snapshots, every queue and
    // dead-letter queue, the HubSpot fake, every log line and telemetry event.
    expect(await subjectDocuments(t.services, tenant.tenantId, subject.waId)).toEqual([]);
    expect(await blobsUnder(prefix)).toEqual([]);
    const hits = await sweepForPii(needles, {
      cosmos: t.services.cosmos.subjects.database,
      blobs: [t.services.blobs.media, t.services.blobs.exports],
      queue: t.services.queue,
      hubspot,
      logs: t.logs,
      telemetry: t.services.telemetry,
    });
    expect(hits).toEqual([]);

    // The request keeps no subject reference; the tombstone and the audit event hold keyed hashes only.
    const stored = await new CosmosPrivacyRequestRepository(t.services.cosmos.privacyRequests, t.services.clock).get(accepted.id);
    expect(stored?.subjectRef).toBeUndefined();
    expect(stored?.ttl).toBeGreaterThan(365 * 86_400);
    const tombstone = await new CosmosMarkerStore(t.services.cosmos.markers, t.services.clock).get('tombstone', tenant.tenantId, subjectHash);
    expect(tombstone?.data).toMatchObject({ requestId: accepted.id, erasedAt: done.completedAt });
    const events = await new CosmosAuditLog(t.services.cosmos.audit, t.services.clock).query(tenant.tenantId, new Date(started - 1000), new Date(Date.now() + 1000), { type: 'privacy.erasure.completed' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ subjectHash, requestId: accepted.id, details: { type: 'erasure', scope: 'all', 'cosmos.deleted': before.length, 'blob.deleted': 2, 'hubspot.deleted': 1 } });
    expect(typeof events[0]!.details!.totalMs).toBe('number');
    const eventText = JSON.stringify(events[0]);
    for (const needle of needles) expect(eventText.toLowerCase()).not.toContain(needle.toLowerCase());
  });

  it('a late webhook for an erased subject, older than the erasure, does not bring the data back', async () => {
    const { t } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: false });
    const subject = newSubject();
    const sentBefore = new Date(Date.now() - 60_000);
    await postWebhook(t.url, single(tenant.phoneNumberId, subject.waId, messages.text(subject.waId, subject.text), subject.name));
    const response = await postRequest(t, { tenantId: tenant.tenantId, type: 'erasure', subject: { waId: subject.waId } });
    const { id } = (await response.json()) as { id: string };
    const done = await waitForStatus(t, id, ['completed', 'failed']);
    expect(done.status).toBe('completed');
    // HubSpot not enabled: its task says so and counts nothing.
    expect(done.tasks.find((task) => task.store === 'hubspot')).toMatchObject({ status: 'done', note: expect.stringMatching(/not applicable/), counts: { found: 0, deleted: 0 } });
    // Meta retries an old delivery: dropped by the tombstone.
    const late = await postWebhook(t.url, single(tenant.phoneNumberId, subject.waId, messages.text(subject.waId, subject.text, sentBefore), subject.name));
    expect(late.status).toBe(200);
    expect(await subjectDocuments(t.services, tenant.tenantId, subject.waId)).toEqual([]);
  });

  it('HubSpot answering 429 and 500 for a while still ends completed, with the retries visible on the task', async () => {
    const { t, hubspot } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: true });
    const subject = newSubject();
    hubspot.addContact({ firstname: 'Morwenna', phone: `+${subject.waId}` });
    // A short 429 (1 s) is waited out in place; a longer one (3 s) reschedules the task; 5xx back off.
    hubspot.rateLimitNext(1, 1, /search$/, 'SECONDLY');
    hubspot.failNext(1, 500, /search$/);
    hubspot.rateLimitNext(1, 3, /gdpr-delete$/);
    hubspot.failNext(1, 503, /gdpr-delete$/);
    const response = await postRequest(t, { tenantId: tenant.tenantId, type: 'erasure', subject: { waId: subject.waId } });
    const { id } = (await response.json()) as { id: string };
    const done = await waitForStatus(t, id, ['completed', 'failed'], 30_000);
    expect(done.status).toBe('completed');
    const task = done.tasks.find((x) => x.store === 'hubspot')!;
    expect(task).toMatchObject({ status: 'done', counts: { found: 1, deleted: 1 }, rateLimited: 1 });
    expect(task.attempts).toBe(3); // 500, 503, then success; the 429s did not count
    expect(task.lastError).toMatch(/HubSpot answered (50[03]|429)/);
    expect(t.services.telemetry.events.filter((e) => e.name === 'privacy.task.rescheduled' && e.dimensions.requestId === id).length).toBe(3);
    expect(hubspot.requests.filter((r) => r.token === tenant.token && r.status === 429)).toHaveLength(2);
  }, 40_000);

  it('a permanent failure ends failed, in the dead-letter queue with a readable reason, and completes after a retry', async () => {
    const { t, hubspot } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: true });
    const subject = newSubject();
    hubspot.addContact({ firstname: 'Morwenna', mobilephone: `0${subject.waId.slice(2)}` });
    // HubSpot rejects the tenant's token (revoked by the customer): a 401 is not retried.
    hubspot.revokeToken(tenant.token);
    const response = await postRequest(t, { tenantId: tenant.tenantId, type: 'erasure', subject: { waId: subject.waId } });
    const { id } = (await response.json()) as { id: string };
    const failed = await waitForStatus(t, id, ['completed', 'failed']);
    expect(failed.status).toBe('failed');
    expect(failed.failure).toMatchObject({ store: 'hubspot', reason: expect.stringMatching(/HubSpot answered 401 on contact search/) });
    expect(failed.tasks.find((x) => x.store === 'hubspot')).toMatchObject({ status: 'failed', attempts: 1 });
    // The other stores finish their part even though the request failed meanwhile: a retry does not redo them.
    const settled = await eventually(async () => {
      const view = await getRequest(t, id);
      return view.tasks.every((x) => x.store === 'hubspot' || x.status === 'done') ? view : undefined;
    }, 5000, 'the other stores to finish');
    expect(settled.status).toBe('failed');

    const dead = await eventually(async () => {
      const letters = await t.services.queue.peekDeadLetters('erasure-tasks');
      return letters.find((m) => (m.body as { requestId?: string }).requestId === id);
    }, 5000, 'the dead letter');
    // Settled as the Functions host settles a Node trigger: every delivery of the failed task fails again
    // (TaskFailed) until the broker dead-letters it; the readable reason is on the request (above).
    expect(dead).toMatchObject({ reason: 'MaxDeliveryCountExceeded', deliveryCount: 10, body: { requestId: id, store: 'hubspot' } });
    expect(JSON.stringify(dead)).not.toContain(subject.waId.slice(2));
    expect(t.services.telemetry.events).toContainEqual({ name: 'privacy.request.failed', dimensions: expect.objectContaining({ tenantId: tenant.tenantId, requestId: id, store: 'hubspot' }) });

    // The operator fixes the token and re-drives the request from the failed step.
    hubspot.allowToken(tenant.token);
    const retry = await fetch(`${t.url}/api/privacy-requests/${id}/retry`, { method: 'POST', headers: adminHeaders() });
    expect(retry.status).toBe(202);
    const done = await waitForStatus(t, id, ['completed', 'failed']);
    expect(done.status).toBe('completed');
    expect(done.tasks.find((x) => x.store === 'hubspot')).toMatchObject({ status: 'done', attempts: 1, counts: { found: 1, deleted: 1 } });
    // Done stores were not redone.
    expect(done.tasks.find((x) => x.store === 'cosmos')).toEqual(settled.tasks.find((x) => x.store === 'cosmos'));
    const retryAgain = await fetch(`${t.url}/api/privacy-requests/${id}/retry`, { method: 'POST', headers: adminHeaders() });
    expect(retryAgain.status).toBe(409);
  });

  it('transient failures until the last attempt dead-letter the task; attempts and the last error are on the request', async () => {
    const { t, hubspot } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: true });
    const subject = newSubject();
    const deps = rootOf(t.services).privacy;
    const policy = { ...deps.retry };
    Object.assign(deps.retry, { baseMs: 20, capMs: 40 }); // the same policy, compressed in time for the test
    try {
      hubspot.failNext(8, 502, /search$/);
      const response = await postRequest(t, { tenantId: tenant.tenantId, type: 'erasure', subject: { waId: subject.waId } });
      const { id } = (await response.json()) as { id: string };
      const failed = await waitForStatus(t, id, ['completed', 'failed']);
      expect(failed.status).toBe('failed');
      expect(failed.tasks.find((x) => x.store === 'hubspot')).toMatchObject({ status: 'failed', attempts: 8, lastError: 'HubSpot answered 502 on contact search' });
      const dead = await eventually(async () => (await t.services.queue.peekDeadLetters('erasure-tasks')).find((m) => (m.body as { requestId?: string }).requestId === id), 5000);
      expect(dead).toMatchObject({ reason: 'MaxDeliveryCountExceeded', body: { attempt: 8 } });
    } finally {
      Object.assign(deps.retry, policy);
    }
  });

  it('HubSpot rate-limiting a verification or an access export longer than the attempts allow does not fail the request: slowing down is not failing', { timeout: 60_000 }, async () => {
    const { t, hubspot } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: true });
    const [erased, accessed] = [newSubject(), newSubject()];
    await buildSubjectThroughWebhooks(world, tenant, erased);
    await buildSubjectThroughWebhooks(world, tenant, accessed);
    const deps = rootOf(t.services).privacy;
    const policy = { ...deps.retry };
    Object.assign(deps.retry, { baseMs: 20, capMs: 40, maxAttempts: 2, minRetryAfterMs: 20 }); // two failed attempts would fail it
    try {
      const limited = (path: RegExp) => hubspot.requests.filter((r) => path.test(r.path) && r.status === 429).length;
      const [readsBefore, searchesBefore] = [limited(/batch\/read$/), limited(/search$/)];
      // Three 429s with a Retry-After too long to wait out in place (3 s): three reschedules, no attempt spent.
      hubspot.rateLimitNext(3, 3, /batch\/read$/);
      const erasure = (await (await postRequest(t, { tenantId: tenant.tenantId, type: 'erasure', subject: { waId: erased.waId } })).json()) as { id: string };
      expect((await waitForStatus(t, erasure.id, ['completed', 'failed'], 30_000)).status).toBe('completed');
      expect(limited(/batch\/read$/) - readsBefore).toBe(3);
      const rescheduled = t.services.telemetry.events.filter((e) => e.name === 'privacy.verification.rescheduled' && e.dimensions?.requestId === erasure.id);
      expect(rescheduled.map((e) => [e.dimensions?.attempt, e.dimensions?.rateLimited])).toEqual([[1, 1], [1, 2], [1, 3]]);

      // Five 429s without a wait: waited out in place by the client, the export not even rescheduled.
      hubspot.rateLimitNext(5, 0, /search$/, 'SECONDLY');
      const access = (await (await postRequest(t, { tenantId: tenant.tenantId, type: 'access', subject: { waId: accessed.waId } })).json()) as { id: string };
      const exported = await waitForStatus(t, access.id, ['completed', 'failed']);
      expect(exported.status).toBe('completed');
      const stored = await new CosmosPrivacyRequestRepository(t.services.cosmos.privacyRequests, t.services.clock).get(access.id);
      expect(stored?.attempts).toBe(1); // the five slow-downs spent no attempt
      expect(limited(/search$/) - searchesBefore).toBe(5);
      expect(t.services.telemetry.events.filter((e) => e.name === 'privacy.task.rescheduled' && e.dimensions?.requestId === access.id)).toEqual([]);
    } finally {
      Object.assign(deps.retry, policy);
    }
  });
});

describe('scopes', () => {
  it('each partial scope erases its own documents and leaves the rest; marketing also suppresses', async () => {
    const { t } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: false });
    const subject = newSubject();
    await buildSubjectThroughWebhooks(world, tenant, subject);
    const pk = pkOfWaId(tenant.tenantId, subject.waId);
    const now = new Date().toISOString();
    await t.services.cosmos.subjects.items.create({ id: 'consent-marketing', pk, tenantId: tenant.tenantId, type: 'consent', purpose: 'marketing', granted: true, at: now, createdAt: now, ttl: 3600, expiresAt: now });
    const types = async () => (await subjectDocuments(t.services, tenant.tenantId, subject.waId)).map((d) => d.type).sort();
    expect(await types()).toEqual(['consent', 'contact', 'flowResponse', 'mediaRef', 'message', 'message']);

    const erase = async (scope: string) => {
      const response = await postRequest(t, { tenantId: tenant.tenantId, type: 'erasure', scope, subject: { waId: subject.waId } });
      const { id } = (await response.json()) as { id: string };
      return waitForStatus(t, id, ['completed', 'failed']);
    };
    const messagesDone = await erase('messages');
    expect(messagesDone.tasks.map((x) => x.store)).toEqual(['cosmos']);
    expect(await types()).toEqual(['consent', 'contact', 'flowResponse', 'mediaRef']);

    const subjectHash = (await subjectHashOf(t.services, tenant.tenantId, subject.waId)) as SubjectHash;
    const media = await erase('media');
    expect(media.tasks.map((x) => x.store).sort()).toEqual(['blob', 'cosmos']);
    expect(await types()).toEqual(['consent', 'contact', 'flowResponse']);
    expect(await blobsUnder(mediaPrefixFor(tenant.tenantId, subjectHash))).toEqual([]);

    await erase('flow_responses');
    expect(await types()).toEqual(['consent', 'contact']);

    await erase('marketing');
    expect(await types()).toEqual(['contact']);
    const suppression = await new CosmosMarkerStore(t.services.cosmos.markers, t.services.clock).get('suppression', tenant.tenantId as TenantId, subjectHash);
    expect(suppression).toBeDefined();

    const all = await erase('all');
    expect(all.status).toBe('completed');
    expect(await types()).toEqual([]);
  }, 60_000);
});
