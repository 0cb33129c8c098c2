import { afterEach, describe, expect, it } from 'vitest';
import { InProcessQueue } from '../../shared/queue';
import { useServices } from '../../shared/runtime';
import { hubspotTokenSecret } from '../../shared/secrets';
import { mediaPrefixFor } from '../../shared/storage';
import { phoneNeedles } from '../support/piiSweep';
import { adminHeaders } from '../support/principals';
import { startTestHost, type TestHost } from '../support/testHost';
import { eventually } from '../support/testServices';
import { subjectHashOf } from '../whatsapp/support';
import { viaProxy } from '../fakes/faultProxy';
import { deliverLikeMeta, OffsetClock } from './support/proof';
import { documentCensus, newProofSubject, ONCE, trafficFor } from './support/subjects';
import { sweep } from './support/sweep';
import { createProofTenant, GRAPH_TOKEN, startProofWorld, type ProofTenant, type ProofWorld } from './support/world';
import { inject } from 'vitest';
import { CosmosAuditLog } from '../../shared/cosmos';

/**
 * A worker (a Functions instance) dies in the middle of a task: its host is closed without its in-flight
 * invocation settling, as when an instance is recycled or crashes. Either the broker hands the locked
 * message to another instance when the lock expires (same queue state), or the message is lost with the
 * instance and the reconciler timer finds the stuck work. Every scenario in its own pair of hosts (the
 * host's services are process-wide, so the second host takes over from the first).
 */
let first: ProofWorld | undefined;
let second: TestHost | undefined;
afterEach(async () => {
  await second?.close();
  await first?.hubspot.close();
  await first?.graph.close();
  await first?.blobProxy?.close();
  await first?.t.services.close();
  first = undefined;
  second = undefined;
});

/** A new instance of the function app on the same database (and, when given, the same queue state). */
async function newInstance(world: ProofWorld, tenant: ProofTenant, options: { queue: InProcessQueue; clock: OffsetClock; viaBlobProxy?: boolean }): Promise<TestHost> {
  const env = world.t.services.env;
  return startTestHost(
    {
      HUBSPOT_API_BASE_URL: world.hubspot.url,
      GRAPH_API_BASE_URL: world.graph.baseUrl,
      WHATSAPP_ACCESS_TOKEN: GRAPH_TOKEN,
      SECRET_CACHE_SECONDS: '0',
      COSMOS_DATABASE: env.COSMOS_DATABASE,
      DATA_ENCRYPTION_KEY: env.DATA_ENCRYPTION_KEY,
      ...(options.viaBlobProxy && world.blobProxy ? { MEDIA_STORAGE: viaProxy(inject('blobConnection'), world.blobProxy) } : {}),
      [hubspotTokenSecret(tenant.tenantId)]: tenant.hubspotToken,
    },
    { queue: options.queue, clock: options.clock },
  );
}

/** The instance dies: no more deliveries to it; what it is doing is never settled. */
function crash(world: ProofWorld): void {
  void world.t.host.close();
}

async function requestView(t: TestHost, id: string): Promise<{ status: string; tasks: { store: string; status: string; attempts: number }[] } | undefined> {
  const response = await fetch(`${t.url}/api/privacy-requests/${id}`, { headers: adminHeaders() });
  return response.status === 200 ? ((await response.json()) as { status: string; tasks: { store: string; status: string; attempts: number }[] }) : undefined;
}

async function buildSubject(world: ProofWorld, tenant: ProofTenant) {
  const subject = newProofSubject();
  const traffic = trafficFor(tenant.phoneNumberId, subject, world.graph);
  for (const p of traffic.payloads) expect((await deliverLikeMeta(world.t.url, p)).statuses).toEqual([200]);
  await eventually(async () => ((await documentCensus(world.t.services, tenant.tenantId, subject.waId)).mediaStored === 1 ? true : undefined), 15_000, 'the media download');
  return { subject, traffic };
}

async function expectErasedOnce(t: TestHost, world: ProofWorld, tenant: ProofTenant, id: string, subject: ReturnType<typeof newProofSubject>): Promise<void> {
  expect((await documentCensus(t.services, tenant.tenantId, subject.waId)).byType).toEqual({});
  const prefix = mediaPrefixFor(tenant.tenantId, await subjectHashOf(t.services, tenant.tenantId, subject.waId));
  const left: string[] = [];
  for await (const item of t.services.blobs.media.listBlobsFlat({ prefix, includeSnapshots: true })) left.push(item.name);
  expect(left).toEqual([]);
  const events = await new CosmosAuditLog(t.services.cosmos.audit, t.services.clock).query(tenant.tenantId, new Date(0), new Date(t.services.clock.now().getTime() + 60_000), { type: 'privacy.erasure.completed' });
  expect(events.filter((e) => e.requestId === id)).toHaveLength(1);
  const needles = [...phoneNeedles(subject.waId), ...subject.needles];
  const hits = await sweep(needles, {
    cosmos: t.services.cosmos.subjects.database,
    blobs: Object.values(t.services.blobs),
    queue: t.services.queue,
    hubspot: world.hubspot,
    logs: [...world.t.logs, ...t.logs],
    telemetry: t.services.telemetry,
  });
  expect(hits).toEqual([]);
}

describe('a worker that dies mid-task', () => {
  it('dies mid-erasure while its Blob delete hangs: the message lock expires, a new instance on the same queue completes the erasure once', async () => {
    const clock = new OffsetClock();
    const queue = new InProcessQueue({ lockDurationMs: 1500, clock });
    first = await startProofWorld({ queue, clock, blobProxy: true });
    const tenant = await createProofTenant(first, { hubspot: true });
    const { subject } = await buildSubject(first, tenant);
    first.hubspot.addContact({ firstname: 'Tamsin', phone: `+${subject.waId}` });

    first.blobProxy!.failNext(1, { kind: 'delay', ms: 4000 }, { method: 'DELETE' });
    const posted = await fetch(`${first.t.url}/api/privacy-requests`, { method: 'POST', headers: adminHeaders(), body: JSON.stringify({ tenantId: tenant.tenantId, type: 'erasure', subject: { waId: subject.waId } }) });
    const { id } = (await posted.json()) as { id: string };
    await eventually(async () => ((await requestView(first!.t, id))?.tasks.find((t) => t.store === 'blob')?.status === 'running' ? true : undefined), 10_000, 'the blob task to be running');
    crash(first);

    second = await newInstance(first, tenant, { queue, clock, viaBlobProxy: true });
    const done = await eventually(async () => {
      const view = await requestView(second!, id);
      return view?.status === 'completed' || view?.status === 'failed' ? view : undefined;
    }, 20_000, 'the erasure to finish on the new instance');
    expect(done.status).toBe('completed');
    expect(done.tasks.find((t) => t.store === 'blob')).toMatchObject({ status: 'done', attempts: 2 });
    // The dead instance's delete finally goes through: it changes nothing.
    await new Promise((r) => setTimeout(r, 4200));
    expect((await requestView(second, id))?.status).toBe('completed');
    expect(await queue.countDeadLetters('erasure-tasks')).toBe(0);
    await expectErasedOnce(second, first, tenant, id, subject);
  }, 60_000);

  it('dies mid-erasure and its messages are lost with it: the reconciler timer finds the stuck task and completes the erasure once', async () => {
    const clock = new OffsetClock();
    first = await startProofWorld({ clock });
    const tenant = await createProofTenant(first, { hubspot: true });
    const { subject } = await buildSubject(first, tenant);
    const contact = first.hubspot.addContact({ firstname: 'Tamsin', mobilephone: `0${subject.waId.slice(2)}` });

    first.hubspot.hangNext(1, /search$/);
    const posted = await fetch(`${first.t.url}/api/privacy-requests`, { method: 'POST', headers: adminHeaders(), body: JSON.stringify({ tenantId: tenant.tenantId, type: 'erasure', subject: { waId: subject.waId } }) });
    const { id } = (await posted.json()) as { id: string };
    await eventually(async () => ((await requestView(first!.t, id))?.tasks.find((t) => t.store === 'hubspot')?.status === 'running' ? true : undefined), 10_000, 'the HubSpot task to be running');
    crash(first);

    // The new instance has a queue of its own: the in-flight message died with the old one.
    const freshQueue = new InProcessQueue({ clock });
    second = await newInstance(first, tenant, { queue: freshQueue, clock });
    expect((await requestView(second, id))?.status).toBe('in_progress');
    clock.advance(11 * 60_000); // past the reconciler's "stuck" threshold (10 minutes)
    await second.host.runTimer('privacyReconciler');
    const done = await eventually(async () => {
      const view = await requestView(second!, id);
      return view?.status === 'completed' || view?.status === 'failed' ? view : undefined;
    }, 20_000, 'the erasure to finish after the reconciler');
    expect(done.status).toBe('completed');
    expect(second.services.telemetry.events).toContainEqual({ name: 'privacy.task.redriven', dimensions: expect.objectContaining({ requestId: id, stores: 'hubspot' }) });
    expect(first.hubspot.gdprDeleted.filter((x) => x === contact.id)).toHaveLength(1);
    first.hubspot.releaseHanging();
    await expectErasedOnce(second, first, tenant, id, subject);
  }, 60_000);

  it('dies mid media download while the Graph file download hangs: a new instance stores the file once, and the dead one waking up changes nothing', async () => {
    const clock = new OffsetClock();
    const queue = new InProcessQueue({ lockDurationMs: 1500, clock });
    first = await startProofWorld({ queue, clock });
    const tenant = await createProofTenant(first);
    const subject = newProofSubject();
    const traffic = trafficFor(tenant.phoneNumberId, subject, first.graph);
    first.graph.failNext('file', traffic.mediaId, { hangMs: 3000 });
    for (const p of traffic.payloads) expect((await deliverLikeMeta(first.t.url, p)).statuses).toEqual([200]);
    await eventually(() => (first!.graph.requests.some((r) => r.mediaId === traffic.mediaId && r.step === 'file') ? true : undefined), 10_000, 'the file download to start');
    crash(first);

    second = await newInstance(first, tenant, { queue, clock });
    await eventually(async () => ((await documentCensus(second!.services, tenant.tenantId, subject.waId)).mediaStored === 1 ? true : undefined), 15_000, 'the media on the new instance');
    await new Promise((r) => setTimeout(r, 3500)); // the hung download returns to the dead instance
    const census = await documentCensus(second.services, tenant.tenantId, subject.waId);
    expect(census.byType).toEqual(ONCE);
    const prefix = mediaPrefixFor(tenant.tenantId, await subjectHashOf(second.services, tenant.tenantId, subject.waId));
    const blobs: string[] = [];
    for await (const item of second.services.blobs.media.listBlobsFlat({ prefix, includeSnapshots: true })) blobs.push(item.name);
    expect(blobs).toEqual([`${prefix}${traffic.mediaId}`]);
    expect(await queue.countDeadLetters('media-downloads')).toBe(0);
    useServices(second.services);
  }, 60_000);
});
