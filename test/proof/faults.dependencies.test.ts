import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mediaPrefixFor } from '../../shared/storage';
import { phoneNeedles } from '../support/piiSweep';
import { adminHeaders } from '../support/principals';
import { eventually } from '../support/testServices';
import { subjectHashOf } from '../whatsapp/support';
import { deliverLikeMeta, OffsetClock, queuesDrained } from './support/proof';
import { documentCensus, newProofSubject, ONCE, trafficFor, type ProofSubject } from './support/subjects';
import { captureConsole, sweep, type ConsoleCapture } from './support/sweep';
import { createProofTenant, startProofWorld, type ProofTenant, type ProofWorld } from './support/world';
import { rootOf } from '../../shared/runtime';

/**
 * Blob Storage failures (a fault proxy in front of Azurite), HubSpot faults (the fake's switches) and
 * Graph API faults (the fake's per-media faults). Each scenario ends with the work done exactly once, or
 * visibly failed and retryable, and the subjects' data nowhere it should not be.
 */
const clock = new OffsetClock();
let world: ProofWorld;
let output: ConsoleCapture;
beforeAll(async () => {
  output = captureConsole();
  world = await startProofWorld({ blobProxy: true, clock });
});
afterAll(async () => {
  output?.stop();
  await world?.close();
});

const blobProxy = () => world.blobProxy!;

async function blobsOf(tenant: ProofTenant, subject: ProofSubject): Promise<{ name: string; sha256: string }[]> {
  const prefix = mediaPrefixFor(tenant.tenantId, await subjectHashOf(world.t.services, tenant.tenantId, subject.waId));
  const found: { name: string; sha256: string }[] = [];
  for await (const item of world.t.services.blobs.media.listBlobsFlat({ prefix, includeSnapshots: true })) {
    const bytes = await world.t.services.blobs.media.getBlobClient(item.name).downloadToBuffer();
    found.push({ name: item.name, sha256: createHash('sha256').update(bytes).digest('base64') });
  }
  return found;
}

function needlesOf(subjects: ProofSubject[]): string[] {
  return subjects.flatMap((s) => [...phoneNeedles(s.waId), ...s.needles]);
}

async function leaks(subjects: ProofSubject[], allow: (location: string) => boolean) {
  const { t, hubspot } = world;
  return sweep(
    needlesOf(subjects),
    { cosmos: t.services.cosmos.subjects.database, blobs: Object.values(t.services.blobs), queue: t.services.queue, hubspot, logs: t.logs, telemetry: t.services.telemetry, console: output.lines },
    (hit) => allow(hit.location),
  );
}
const subjectStores = (location: string) => location.startsWith('cosmos:subjects/') || location.startsWith('blob:media/');

/** Media downloads are rescheduled with backoff on the app's clock: move it on and let the queue deliver. */
async function untilMediaStored(tenant: ProofTenant, subject: ProofSubject): Promise<void> {
  await eventually(async () => {
    const census = await documentCensus(world.t.services, tenant.tenantId, subject.waId);
    if (census.mediaStored === 1) return true;
    clock.advance(60_000);
    world.t.services.queue.tick();
    await new Promise((r) => setTimeout(r, 50));
    return undefined;
  }, 25_000, 'the media to be stored');
}

async function postErasure(tenant: ProofTenant, subject: ProofSubject): Promise<string> {
  const response = await fetch(`${world.t.url}/api/privacy-requests`, { method: 'POST', headers: adminHeaders(), body: JSON.stringify({ tenantId: tenant.tenantId, type: 'erasure', subject: { waId: subject.waId } }) });
  expect(response.status).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

interface RequestView {
  status: string;
  tasks: { store: string; status: string; attempts: number; counts: { found: number; deleted: number }; lastError?: string }[];
}

async function finished(id: string, timeoutMs = 30_000): Promise<RequestView> {
  return eventually(async () => {
    const response = await fetch(`${world.t.url}/api/privacy-requests/${id}`, { headers: adminHeaders() });
    if (response.status !== 200) return undefined;
    const view = (await response.json()) as RequestView;
    if (view.status === 'completed' || view.status === 'failed') return view;
    // Backoffs are scheduled on the app's clock: let a minute pass for each poll.
    clock.advance(60_000);
    world.t.services.queue.tick();
    return undefined;
  }, timeoutMs, `request ${id} to finish`);
}

describe('Blob Storage failures (fault proxy in front of Azurite)', () => {
  it('uploads answered 503 ServerBusy, dropped, or applied with the answer lost: each media file is stored exactly once, intact', async () => {
    const tenant = await createProofTenant(world);
    const subjects = [newProofSubject(), newProofSubject(), newProofSubject()];
    const traffic = subjects.map((s) => trafficFor(tenant.phoneNumberId, s, world.graph));
    blobProxy().failNext(2, { kind: 'status', status: 503 }, { method: 'PUT' });
    blobProxy().failNext(1, { kind: 'drop' }, { method: 'PUT' });
    blobProxy().failNext(1, { kind: 'drop-after' }, { method: 'PUT' });
    for (const { payloads } of traffic) for (const p of payloads) expect((await deliverLikeMeta(world.t.url, p)).statuses).toEqual([200]);
    for (const subject of subjects) await untilMediaStored(tenant, subject);
    expect(blobProxy().injected()).toMatchObject({ 'status:503': 2, drop: 1, 'drop-after': 1 });
    await queuesDrained(world.t.services.queue);
    for (const [i, subject] of subjects.entries()) {
      const census = await documentCensus(world.t.services, tenant.tenantId, subject.waId);
      expect(census.byType).toEqual(ONCE);
      const blobs = await blobsOf(tenant, subject);
      expect(blobs.map((b) => b.name)).toEqual([`${mediaPrefixFor(tenant.tenantId, await subjectHashOf(world.t.services, tenant.tenantId, subject.waId))}${traffic[i]!.mediaId}`]);
      const image = (traffic[i]!.payloads[1] as { entry: { changes: { value: { messages: { image: { sha256: string } }[] } }[] }[] }).entry[0]!.changes[0]!.value.messages[0]!.image;
      expect(blobs[0]!.sha256).toBe(image.sha256);
    }
    expect(await world.t.services.queue.countDeadLetters('media-downloads')).toBe(0);
    expect(await leaks(subjects, subjectStores)).toEqual([]);
  }, 60_000);

  it('an erasure while Blob Storage answers 503 for a while completes after it, with every blob and snapshot gone', async () => {
    const tenant = await createProofTenant(world);
    const subject = newProofSubject();
    for (const p of trafficFor(tenant.phoneNumberId, subject, world.graph).payloads) await deliverLikeMeta(world.t.url, p);
    await untilMediaStored(tenant, subject);
    const [stored] = await blobsOf(tenant, subject);
    await world.t.services.blobs.media.getBlobClient(stored!.name).createSnapshot();
    expect(await blobsOf(tenant, subject)).toHaveLength(2);

    blobProxy().failFor(1500, { kind: 'status', status: 503 });
    const id = await postErasure(tenant, subject);
    const view = await finished(id);
    expect(view.status).toBe('completed');
    expect(view.tasks.find((t) => t.store === 'blob')).toMatchObject({ status: 'done', counts: { found: 2, deleted: 2 } });
    expect(blobProxy().injected()['status:503']).toBeGreaterThan(0);
    expect(await blobsOf(tenant, subject)).toEqual([]);
    expect(await leaks([subject], () => false)).toEqual([]);
  }, 60_000);
});

describe('HubSpot faults (the fake answers 429, 5xx, or never)', () => {
  it('an erasure meeting a rate limit, two server errors and a hung connection completes; the contact is GDPR-deleted exactly once', async () => {
    const { hubspot } = world;
    const tenant = await createProofTenant(world, { hubspot: true });
    const subject = newProofSubject();
    for (const p of trafficFor(tenant.phoneNumberId, subject, world.graph).payloads) await deliverLikeMeta(world.t.url, p);
    await untilMediaStored(tenant, subject);
    const contact = hubspot.addContact({ firstname: subject.name.split(' ')[0]!, phone: `+${subject.waId}`, mobilephone: `0${subject.waId.slice(2)}` });

    const deps = rootOf(world.t.services).privacy;
    const policy = { ...deps.retry };
    Object.assign(deps.retry, { baseMs: 50, capMs: 100 }); // the same policy, compressed in time
    try {
      hubspot.hangNext(1, /search$/);
      hubspot.rateLimitNext(1, 1, /search$/);
      hubspot.failNext(1, 500, /search$/);
      hubspot.failNext(1, 503, /gdpr-delete$/);
      const id = await postErasure(tenant, subject);
      // The hung search is cut off (the connection drops), as a client timeout would.
      await eventually(() => (hubspot.requests.some((r) => r.status === 0) ? true : undefined), 10_000, 'the hung search');
      hubspot.releaseHanging();
      const view = await finished(id, 40_000);
      expect(view.status).toBe('completed');
      const task = view.tasks.find((t) => t.store === 'hubspot')!;
      expect(task).toMatchObject({ status: 'done', counts: { found: 1, deleted: 1 } });
      expect(task.attempts).toBeGreaterThanOrEqual(3);
    } finally {
      Object.assign(deps.retry, policy);
    }
    expect(hubspot.gdprDeleted.filter((x) => x === contact.id)).toHaveLength(1);
    expect(hubspot.contacts.has(contact.id)).toBe(false);
    expect(await leaks([subject], () => false)).toEqual([]);
  }, 60_000);
});

describe('Graph API faults (the fake fails per media id and step)', () => {
  it('metadata throttled with Retry-After and the file download failing twice: the media is stored exactly once, after backoff', async () => {
    const { graph } = world;
    const tenant = await createProofTenant(world);
    const subject = newProofSubject();
    const traffic = trafficFor(tenant.phoneNumberId, subject, graph);
    graph.failNext('metadata', traffic.mediaId, { status: 429, retryAfterSeconds: 30 }, { status: 500 });
    graph.failNext('file', traffic.mediaId, { status: 502 }, { status: 503 });
    for (const p of traffic.payloads) expect((await deliverLikeMeta(world.t.url, p)).statuses).toEqual([200]);
    await untilMediaStored(tenant, subject);
    const calls = graph.requests.filter((r) => r.mediaId === traffic.mediaId);
    expect(calls.filter((r) => r.step === 'metadata').length).toBe(5); // 429, 500, then one good one before each of the three file downloads
    expect(calls.filter((r) => r.step === 'file').length).toBe(3);
    expect(await blobsOf(tenant, subject)).toHaveLength(1);
    expect((await documentCensus(world.t.services, tenant.tenantId, subject.waId)).byType).toEqual(ONCE);
    expect(world.t.services.telemetry.metrics.filter((m) => m.name === 'media.download' && m.dimensions.tenantId === tenant.tenantId).map((m) => m.dimensions.outcome)).toEqual([
      'rescheduled',
      'rescheduled',
      'rescheduled',
      'rescheduled',
      'stored',
    ]);
    expect(await leaks([subject], subjectStores)).toEqual([]);
  }, 60_000);

  it('a media id the Graph API no longer knows (404) fails visibly once: the reference is marked failed, no bytes kept, no retry storm', async () => {
    const { graph } = world;
    const tenant = await createProofTenant(world);
    const subject = newProofSubject();
    const traffic = trafficFor(tenant.phoneNumberId, subject, graph);
    graph.failNext('metadata', traffic.mediaId, { status: 404 });
    for (const p of traffic.payloads) await deliverLikeMeta(world.t.url, p);
    await queuesDrained(world.t.services.queue);
    const ref = await eventually(async () => {
      const docs = await documentCensus(world.t.services, tenant.tenantId, subject.waId);
      return docs.byType.mediaRef === 1 ? docs : undefined;
    });
    expect(ref.mediaStored).toBe(0);
    expect(await blobsOf(tenant, subject)).toEqual([]);
    expect(graph.requests.filter((r) => r.mediaId === traffic.mediaId)).toHaveLength(1);
  });
});
