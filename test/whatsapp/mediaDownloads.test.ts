import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantId, WaId } from '../../shared/domain';
import { mediaPrefixFor, mediaBlobsOf } from '../../shared/storage';
import { lifetime, type MediaRefDocument } from '../../shared/subjects';
import { downloadMedia, MEDIA_BACKOFF, sameDigest, type MediaDownloadDeps } from '../../shared/whatsapp';
import { startGraphApiFake, type GraphApiFake } from '../fakes/graphApi';
import { messages, newMediaId, newWaId, single } from '../fixtures/whatsapp/payloads';
import { startTestHost, type TestHost } from '../support/testHost';
import { eventually, uniqueTenantId } from '../support/testServices';
import { createTenant, postWebhook, RecordingInProcessQueue, subjectDocuments, subjectHashOf } from './support';
import { rootOf } from '../../shared/runtime';
import { CosmosSubjectRepository } from '../../shared/cosmos';

let graph: GraphApiFake;
let t: TestHost;
const queue = new RecordingInProcessQueue();
beforeAll(async () => {
  graph = await startGraphApiFake({ token: 'test-graph-token' });
  t = await startTestHost({ GRAPH_API_BASE_URL: graph.baseUrl }, { queue });
});
afterAll(async () => {
  await t?.close();
  await graph?.close();
});

const jpeg = () => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(2048)]);

async function blobNames(prefix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of t.services.blobs.media.listBlobsFlat({ prefix })) names.push(blob.name);
  return names;
}

async function mediaRef(tenantId: string, waId: string, mediaId: string): Promise<Record<string, unknown> | undefined> {
  return (await subjectDocuments(t.services, tenantId, waId)).find((d) => d.type === 'mediaRef' && d.mediaId === mediaId);
}

describe('media downloads end to end (webhook → queue → Graph fake → Azurite)', () => {
  it('an image is fetched with the bearer token, its sha256 checked, and stored under the subject prefix', async () => {
    const tenant = await createTenant(t, { messageStorage: 'none' });
    const waId = newWaId();
    const mediaId = newMediaId();
    const bytes = jpeg();
    const { webhookSha256 } = graph.addMedia(mediaId, { bytes, mimeType: 'image/jpeg' });
    expect((await postWebhook(t.url, single(tenant.phoneNumberId, waId, messages.image(waId, { id: mediaId, sha256: webhookSha256 })))).status).toBe(200);

    const stored = await eventually(async () => {
      const ref = await mediaRef(tenant.tenantId, waId, mediaId);
      return ref?.status === 'stored' ? ref : undefined;
    }, 10_000, 'media stored');
    const prefix = mediaPrefixFor(tenant.tenantId, await subjectHashOf(t.services, tenant.tenantId, waId));
    expect(stored).toMatchObject({ blobName: `${prefix}${mediaId}`, mimeType: 'image/jpeg', sha256: webhookSha256 });
    const blob = t.services.blobs.media.getBlockBlobClient(`${prefix}${mediaId}`);
    expect(Buffer.compare(await blob.downloadToBuffer(), bytes)).toBe(0);
    expect((await blob.getProperties()).contentType).toBe('image/jpeg');
    const calls = graph.requests.filter((r) => r.mediaId === mediaId);
    expect(calls.map((r) => r.step)).toEqual(['metadata', 'file']);
    expect(calls.every((r) => r.authorized)).toBe(true);
  });

  it('a checksum mismatch marks the reference failed and keeps no bytes', async () => {
    const tenant = await createTenant(t, { messageStorage: 'none' });
    const waId = newWaId();
    const [lying, tampered] = [newMediaId(), newMediaId()];
    // Graph reports a digest that is not the file's; and a webhook carries a digest that is not the file's.
    graph.addMedia(lying, { bytes: jpeg(), mimeType: 'image/jpeg', reportedSha256: createHash('sha256').update('other').digest('hex') });
    graph.addMedia(tampered, { bytes: jpeg(), mimeType: 'image/jpeg' });
    await postWebhook(t.url, single(tenant.phoneNumberId, waId, messages.image(waId, { id: lying, sha256: createHash('sha256').update('other').digest('base64') })));
    await postWebhook(t.url, single(tenant.phoneNumberId, waId, messages.document(waId, { id: tampered, sha256: createHash('sha256').update('x').digest('base64') }, 'lease.pdf')));
    for (const id of [lying, tampered]) {
      const ref = await eventually(async () => {
        const r = await mediaRef(tenant.tenantId, waId, id);
        return r?.status === 'failed' ? r : undefined;
      }, 10_000, 'media failed');
      expect(ref.blobName).toBeUndefined();
    }
    expect(await blobNames(mediaPrefixFor(tenant.tenantId, await subjectHashOf(t.services, tenant.tenantId, waId)))).toEqual([]);
  });

  it('a 429 with Retry-After is retried later by a scheduled message, then stored', async () => {
    const tenant = await createTenant(t, { messageStorage: 'none' });
    const waId = newWaId();
    const mediaId = newMediaId();
    const { webhookSha256 } = graph.addMedia(mediaId, { bytes: jpeg(), mimeType: 'image/jpeg' });
    graph.failNext('metadata', mediaId, { status: 429, retryAfterSeconds: 1 });
    await postWebhook(t.url, single(tenant.phoneNumberId, waId, messages.sticker(waId, { id: mediaId, sha256: webhookSha256 })));
    await eventually(async () => ((await mediaRef(tenant.tenantId, waId, mediaId))?.status === 'stored' ? true : undefined), 15_000, 'stored after retry');
    const retry = queue.sentTo('media-downloads', tenant.tenantId).find((m) => m.messageId === `${mediaId}:1`);
    expect(retry?.body).toMatchObject({ attempt: 1, mediaRefId: `media-${mediaId}` });
    expect(retry!.scheduledAt!.getTime()).toBeGreaterThanOrEqual(Date.now() - 15_000 + 1000);
    expect(graph.requests.filter((r) => r.mediaId === mediaId).map((r) => r.step)).toEqual(['metadata', 'metadata', 'file']);
  });
});

describe('media download worker against the Graph fake (called directly)', () => {
  const tenantId = uniqueTenantId('media') as TenantId;

  async function queuedRef(options: { sha256?: string; bytes?: Buffer } = {}): Promise<{ doc: MediaRefDocument; waId: WaId; subjectHash: string; message: Record<string, unknown> }> {
    const waId = newWaId() as WaId;
    const mediaId = newMediaId();
    const bytes = options.bytes ?? jpeg();
    const { webhookSha256 } = graph.addMedia(mediaId, { bytes, mimeType: 'image/jpeg' });
    const now = new Date();
    const doc: MediaRefDocument = {
      id: `media-${mediaId}`,
      pk: `${tenantId}|${waId}`,
      tenantId,
      type: 'mediaRef',
      mediaId,
      messageId: 'wamid.x',
      mimeType: 'image/jpeg',
      sha256: options.sha256 ?? webhookSha256,
      status: 'queued',
      createdAt: now.toISOString(),
      ...lifetime(now, 86_400),
    };
    await t.services.cosmos.subjects.items.create(doc);
    const subjectHash = await subjectHashOf(t.services, tenantId, waId);
    return { doc, waId, subjectHash, message: { tenantId, subjectHash, mediaRefId: doc.id } };
  }

  function deps(overrides: Partial<MediaDownloadDeps> = {}): MediaDownloadDeps & { queue: RecordingInProcessQueue } {
    const own = new RecordingInProcessQueue();
    return { ...rootOf(t.services).mediaDownload, queue: own, timeoutMs: 300, backoff: { ...MEDIA_BACKOFF, baseMs: 1000, jitter: 0 }, ...overrides } as MediaDownloadDeps & { queue: RecordingInProcessQueue };
  }

  it('transient failures (429, 5xx, timeouts) complete the message and schedule a new one with backoff', async () => {
    const { doc, message } = await queuedRef();
    graph.failNext('metadata', doc.mediaId, { status: 429, retryAfterSeconds: 7 }, { status: 503 });
    graph.failNext('file', doc.mediaId, { hangMs: 1000 });
    const d = deps();
    const started = Date.now();
    expect(await downloadMedia(d, message)).toBe('rescheduled');
    expect(await downloadMedia(d, { ...message, attempt: 1 })).toBe('rescheduled');
    expect(await downloadMedia(d, { ...message, attempt: 2 })).toBe('rescheduled');
    const sent = d.queue.sentTo('media-downloads');
    expect(sent.map((m) => m.messageId)).toEqual([`${doc.mediaId}:1`, `${doc.mediaId}:2`, `${doc.mediaId}:3`]);
    expect(sent.map((m) => (m.body as { attempt: number }).attempt)).toEqual([1, 2, 3]);
    // Retry-After (7 s) wins over the 1 s backoff; then the backoff itself (2 s, 4 s).
    expect(sent[0]!.scheduledAt!.getTime() - started).toBeGreaterThanOrEqual(7000);
    expect(sent[1]!.scheduledAt!.getTime() - started).toBeGreaterThanOrEqual(2000);
    expect(sent[1]!.scheduledAt!.getTime() - started).toBeLessThan(7000);
    const metrics = t.services.telemetry.metrics.filter((m) => m.name === 'media.download' && m.dimensions.outcome === 'rescheduled').map((m) => m.dimensions.reason);
    expect(metrics).toEqual(expect.arrayContaining(['metadata-429', 'metadata-503', 'file-timeout']));
    expect((await new CosmosSubjectRepository(t.services.cosmos.subjects).findById(tenantId, 'mediaRef', doc.id))?.doc.status).toBe('queued');
    // The fourth attempt finds the media available.
    expect(await downloadMedia(d, { ...message, attempt: 3 })).toBe('stored');
  });

  it('after the last attempt the reference is marked failed instead of retrying for ever', async () => {
    const { doc, message } = await queuedRef();
    graph.failNext('metadata', doc.mediaId, { status: 500 });
    const d = deps({ maxAttempts: 3 });
    expect(await downloadMedia(d, { ...message, attempt: 2 })).toBe('gave-up');
    expect(d.queue.sent).toEqual([]);
    expect((await new CosmosSubjectRepository(t.services.cosmos.subjects).findById(tenantId, 'mediaRef', doc.id))?.doc.status).toBe('failed');
  });

  it('a media id Graph does not know (404) fails at once, without a retry', async () => {
    const { doc, message } = await queuedRef();
    graph.failNext('metadata', doc.mediaId, { status: 404 });
    const d = deps();
    expect(await downloadMedia(d, message)).toBe('failed');
    expect(d.queue.sent).toEqual([]);
  });

  it('a subject erased before the worker runs: the message completes and nothing is fetched', async () => {
    const { doc, message } = await queuedRef();
    await t.services.cosmos.subjects.item(doc.id, doc.pk).delete();
    expect(await downloadMedia(deps(), message)).toBe('gone');
    expect(graph.requests.filter((r) => r.mediaId === doc.mediaId)).toEqual([]);
  });

  it('a subject erased while the file is downloading: the uploaded bytes are deleted again', async () => {
    const { doc, message, subjectHash } = await queuedRef();
    graph.failNext('file', doc.mediaId, { hangMs: 300 });
    const running = downloadMedia(deps({ timeoutMs: 5000 }), message);
    await eventually(() => (graph.requests.some((r) => r.mediaId === doc.mediaId && r.step === 'file') ? true : undefined));
    await t.services.cosmos.subjects.item(doc.id, doc.pk).delete();
    expect(await running).toBe('gone');
    expect(await blobNames(mediaPrefixFor(tenantId, subjectHash))).toEqual([]);
  });

  it('a message whose subject hash is not the reference owner is dead-lettered, and a malformed one too', async () => {
    const { message } = await queuedRef();
    await expect(downloadMedia(deps(), { ...message, subjectHash: 'a'.repeat(64) })).rejects.toMatchObject({ name: 'DeadLetterError', reason: 'SubjectMismatch' });
    await expect(downloadMedia(deps(), { tenantId, mediaRefId: '../../etc' })).rejects.toMatchObject({ name: 'DeadLetterError', reason: 'InvalidMessage' });
  });

  it('the bearer token is never sent to a plain-http host other than the Graph base', async () => {
    const { doc, message } = await queuedRef();
    const sawUrls: string[] = [];
    const fakeFetch: typeof fetch = async (input, init) => {
      const url = String(input);
      sawUrls.push(url);
      if (url.endsWith(`/${doc.mediaId}`)) return new Response(JSON.stringify({ url: 'http://evil.example/steal', mime_type: 'image/jpeg', sha256: 'x', id: doc.mediaId }), { status: 200 });
      return fetch(input, init);
    };
    expect(await downloadMedia(deps({ fetch: fakeFetch, blobs: mediaBlobsOf(t.services.blobs.media) }), message)).toBe('failed');
    expect(sawUrls).toHaveLength(1);
  });
});

describe('sha256 formats', () => {
  it('accepts the digest as hex (Graph media URL response) and as base64 (webhook), compared as bytes', () => {
    const digest = createHash('sha256').update('photo').digest();
    expect(sameDigest(digest, digest.toString('hex'))).toBe(true);
    expect(sameDigest(digest, digest.toString('hex').toUpperCase())).toBe(true);
    expect(sameDigest(digest, digest.toString('base64'))).toBe(true);
    expect(sameDigest(digest, createHash('sha256').update('other').digest('base64'))).toBe(false);
    expect(sameDigest(digest, 'not a digest')).toBe(false);
  });
});
