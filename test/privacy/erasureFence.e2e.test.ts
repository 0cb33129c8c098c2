import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubjectHash } from '../../shared/domain';
import { exportPrefixFor } from '../../shared/domain/subjectPrefixes';
import { mediaPrefixFor } from '../../shared/storage';
import { messages, newMediaId, single } from '../fixtures/whatsapp/payloads';
import { adminHeaders } from '../support/principals';
import { everyStore, phoneNeedles, sweepForPii } from '../support/piiSweep';
import { eventually } from '../support/testServices';
import { json, postWebhook, subjectDocuments, subjectHashOf } from '../whatsapp/support';
import { createPrivacyTenant, GRAPH_TOKEN, newSubject, postRequest, startPrivacyWorld, waitForStatus, type PrivacyTenant, type PrivacyWorld, type Subject } from './support';

/**
 * Issue 14, items 1 and 2: one ordering rule per subject (docs/privacy-requests.md). An erasure fences
 * its subject from the moment it is received; whatever arrives meanwhile is included in it, an export
 * made beside it never stays readable, and "completed" is written only when nothing of the subject dated
 * before the completion is left, with the confirmation sent after that. Each race runs 20 times.
 */
const ROUNDS = 20;

/**
 * The Graph API's send endpoint, with a hook that runs while a confirmation is "on its way"; the media
 * calls pass through to the Graph fake (test/fakes/graphApi.ts), its download URLs rewritten to this
 * origin (the media worker sends the token only to the Graph base's own host).
 */
interface ConfirmationEndpoint {
  baseUrl: string;
  onSend: ((to: string) => Promise<void>) | undefined;
  sent: string[];
  close(): Promise<void>;
}

async function startConfirmationEndpoint(graphOrigin: () => string): Promise<ConfirmationEndpoint> {
  const endpoint: ConfirmationEndpoint = { baseUrl: '', onSend: undefined, sent: [], close: async () => undefined };
  const read = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as { to: string };
  };
  // Graph's POST /{phone-number-id}/messages answers {messaging_product, contacts, messages} (Cloud API
  // reference, "Send messages"); only the status matters to the confirmation.
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.method === 'GET') {
        const upstream = await fetch(`${graphOrigin()}${req.url}`, { headers: { authorization: req.headers.authorization ?? '' } });
        const type = upstream.headers.get('content-type') ?? 'application/octet-stream';
        let bytes = Buffer.from(await upstream.arrayBuffer());
        if (type.startsWith('application/json')) bytes = Buffer.from(bytes.toString('utf8').split(graphOrigin()).join(origin), 'utf8');
        res.writeHead(upstream.status, { 'content-type': type, 'content-length': String(bytes.length) });
        res.end(bytes);
        return;
      }
      const body = await read(req);
      endpoint.sent.push(body.to);
      await endpoint.onSend?.(body.to);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ messaging_product: 'whatsapp', contacts: [{ input: body.to, wa_id: body.to }], messages: [{ id: `wamid.${randomBytes(8).toString('hex')}` }] }));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  endpoint.baseUrl = `${origin}/v23.0`;
  endpoint.close = () => new Promise((resolve) => server.close(() => resolve()));
  return endpoint;
}

let world: PrivacyWorld;
let confirmations: ConfirmationEndpoint;
beforeAll(async () => {
  confirmations = await startConfirmationEndpoint(() => new URL(world.graph.baseUrl).origin);
  world = await startPrivacyWorld({ env: { GRAPH_API_BASE_URL: confirmations.baseUrl, WHATSAPP_ACCESS_TOKEN: GRAPH_TOKEN } });
}, 60_000);
afterAll(async () => {
  await world?.close();
  await confirmations?.close();
});

async function send(tenant: PrivacyTenant, subject: Subject, message: Record<string, unknown>): Promise<Response> {
  return postWebhook(world.t.url, single(tenant.phoneNumberId, subject.waId, message, subject.name));
}

async function exportBlobs(tenant: PrivacyTenant, subjectHash: string): Promise<string[]> {
  const names: string[] = [];
  for await (const item of world.t.services.blobs.exports.listBlobsFlat({ prefix: exportPrefixFor(tenant.tenantId, subjectHash), includeSnapshots: true })) names.push(item.name);
  return names;
}

async function mediaBlobs(tenant: PrivacyTenant, subjectHash: string): Promise<string[]> {
  const names: string[] = [];
  for await (const item of world.t.services.blobs.media.listBlobsFlat({ prefix: mediaPrefixFor(tenant.tenantId, subjectHash as SubjectHash), includeSnapshots: true })) names.push(item.name);
  return names;
}

/** What is left of the subject that is dated at or before `completedAt`: must be nothing. */
async function survivors(tenant: PrivacyTenant, subject: Subject, completedAt: string): Promise<Record<string, unknown>[]> {
  const docs = await subjectDocuments(world.t.services, tenant.tenantId, subject.waId);
  return docs.filter((d) => {
    const dated = String(d.sentAt ?? d.receivedAt ?? d.createdAt ?? '');
    return dated === '' || dated <= completedAt || String(d.createdAt ?? '') <= completedAt;
  });
}

describe('an erasure fences its subject (issue 14: the ordering rule)', () => {
  it('an access export made at the same moment as an erasure never survives it: never served, never left in Blob (20 rounds)', async () => {
    const tenant = await createPrivacyTenant(world, { hubspot: false, messageStorage: 'encrypted' });
    let exportsMade = 0;
    let answeredGone = 0;
    const survived: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const subject = newSubject();
      expect((await send(tenant, subject, messages.text(subject.waId, subject.text))).status).toBe(200);
      const subjectHash = await subjectHashOf(world.t.services, tenant.tenantId, subject.waId);
      const body = (type: string) => ({ tenantId: tenant.tenantId, type, subject: { waId: `+${subject.waId}` } });
      // Both at once; which one the workers take first varies from round to round.
      const [accessResponse, erasureResponse] = await Promise.all([postRequest(world.t, body('access')), postRequest(world.t, body('erasure'))]);
      expect([accessResponse.status, erasureResponse.status]).toEqual([202, 202]);
      const access = (await accessResponse.json()) as { id: string };
      const erasure = (await erasureResponse.json()) as { id: string };
      const [accessDone, erasureDone] = await Promise.all([waitForStatus(world.t, access.id, ['completed', 'failed']), waitForStatus(world.t, erasure.id, ['completed', 'failed'])]);
      expect(erasureDone.status).toBe('completed');
      expect(accessDone.status).toBe('completed');
      const served = await fetch(`${world.t.url}/api/privacy-requests/${access.id}/export`, { headers: adminHeaders() });
      const text = await served.text();
      if ([subject.name, subject.text, subject.waId].some((needle) => text.includes(needle))) survived.push(`round ${round}: served`);
      if ((await exportBlobs(tenant, subjectHash)).length > 0) survived.push(`round ${round}: left in Blob`);
      if (served.status === 410 && text.includes(erasure.id)) answeredGone += 1;
      if (accessDone.export?.erasedBy === erasure.id) exportsMade += 1;
    }
    expect(survived).toEqual([]);
    // Every export was withheld or deleted by the erasure, says so, and GET .../export names the erasure.
    expect({ answeredGone, exportsMade }).toEqual({ answeredGone: ROUNDS, exportsMade: ROUNDS });
    const hits = await sweepForPii([], everyStore(world.t.services));
    expect(hits).toEqual([]);
  }, 240_000);

  it('an export the erasure did not overlap is served until a later erasure begins, then answers 410 naming it', async () => {
    const tenant = await createPrivacyTenant(world, { hubspot: false, messageStorage: 'encrypted' });
    const subject = newSubject();
    expect((await send(tenant, subject, messages.text(subject.waId, subject.text))).status).toBe(200);
    const response = await postRequest(world.t, { tenantId: tenant.tenantId, type: 'access', subject: { waId: `+${subject.waId}` } });
    const access = (await response.json()) as { id: string };
    await waitForStatus(world.t, access.id, ['completed']);
    const before = await fetch(`${world.t.url}/api/privacy-requests/${access.id}/export`, { headers: adminHeaders() });
    expect(before.status).toBe(200);
    expect(await before.text()).toContain(subject.text);
    const erasure = (await (await postRequest(world.t, { tenantId: tenant.tenantId, type: 'erasure', subject: { waId: `+${subject.waId}` } })).json()) as { id: string };
    // From the erasure's receipt on, whether it is still running or done.
    const during = await fetch(`${world.t.url}/api/privacy-requests/${access.id}/export`, { headers: adminHeaders() });
    expect(during.status).toBe(410);
    expect(await during.text()).toContain(erasure.id);
    await waitForStatus(world.t, erasure.id, ['completed']);
    expect((await fetch(`${world.t.url}/api/privacy-requests/${access.id}/export`, { headers: adminHeaders() })).status).toBe(410);
  }, 60_000);

  it('with confirmErasureByMessage, a message that arrives while the confirmation is on its way is not kept under the erased subject, and completed comes before the confirmation (20 rounds)', async () => {
    const tenant = await createPrivacyTenant(world, { hubspot: false, messageStorage: 'encrypted', confirmErasureByMessage: true });
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const subject = newSubject();
        expect((await send(tenant, subject, messages.text(subject.waId, subject.text))).status).toBe(200);
        let statusWhenSent: string | undefined;
        let requestId = '';
        const replies: Promise<Response>[] = [];
        confirmations.onSend = async () => {
          // The subject writes at the very moment the confirmation is being sent.
          statusWhenSent = (await (await fetch(`${world.t.url}/api/privacy-requests/${requestId}`, { headers: adminHeaders() })).json() as { status: string }).status;
          replies.push(send(tenant, subject, messages.text(subject.waId, `${subject.text} (during the confirmation)`)));
          await replies[replies.length - 1];
        };
        const created = (await (await postRequest(world.t, { tenantId: tenant.tenantId, type: 'erasure', subject: { waId: `+${subject.waId}` } })).json()) as { id: string };
        requestId = created.id;
        const done = await waitForStatus(world.t, created.id, ['completed', 'failed']);
        expect(done.status).toBe('completed');
        await eventually(() => (replies.length > 0 ? true : undefined), 10_000, 'the confirmation');
        await Promise.all(replies);
        expect(await survivors(tenant, subject, done.completedAt!), `round ${round}`).toEqual([]);
        expect(statusWhenSent, `round ${round}: the confirmation went out before "completed"`).toBe('completed');
      }
    } finally {
      confirmations.onSend = undefined;
    }
  }, 240_000);

  it('three senders writing during an erasure leave nothing dated before completedAt in Cosmos or Blob (20 rounds)', async () => {
    const tenant = await createPrivacyTenant(world, { hubspot: false, messageStorage: 'encrypted' });
    let includedInErasure = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const subject = newSubject();
      expect((await send(tenant, subject, messages.text(subject.waId, subject.text))).status).toBe(200);
      const subjectHash = await subjectHashOf(world.t.services, tenant.tenantId, subject.waId);
      let writing = true;
      const sender = async (who: number) => {
        let n = 0;
        while (writing) {
          n += 1;
          const message = n % 3 === 0 && who === 0 ? imageMessage(subject) : messages.text(subject.waId, `${subject.text} #${who}.${n}`);
          const response = await send(tenant, subject, message);
          expect(response.status).toBe(200);
          includedInErasure += ((await json<{ received: { includedInErasure: number } }>(response)).received.includedInErasure);
        }
      };
      const senders = [0, 1, 2].map(sender);
      const created = (await (await postRequest(world.t, { tenantId: tenant.tenantId, type: 'erasure', subject: { waId: `+${subject.waId}` } })).json()) as { id: string };
      const done = await waitForStatus(world.t, created.id, ['completed', 'failed']);
      writing = false;
      await Promise.all(senders);
      expect(done.status).toBe('completed');
      // The media worker finishes what was queued (or finds it gone).
      await eventually(async () => ((await subjectDocuments(world.t.services, tenant.tenantId, subject.waId)).some((d) => d.type === 'mediaRef' && d.status === 'queued') ? undefined : true), 15_000, 'the media downloads');
      expect(await survivors(tenant, subject, done.completedAt!), `round ${round}`).toEqual([]);
      const storedMedia = (await subjectDocuments(world.t.services, tenant.tenantId, subject.waId)).filter((d) => d.type === 'mediaRef').map((d) => String(d.mediaId));
      for (const blob of await mediaBlobs(tenant, subjectHash)) expect(storedMedia.some((id) => blob.endsWith(id)), `round ${round}: blob ${blob} of an erased message`).toBe(true);
    }
    // The senders really did write during the erasures.
    expect(includedInErasure).toBeGreaterThan(0);
  }, 300_000);

  it('after concurrent deliveries, access requests and erasures, no erased subject is in any store, queue or dead-letter queue', async () => {
    const tenant = await createPrivacyTenant(world, { hubspot: false, messageStorage: 'encrypted' });
    const subjects = Array.from({ length: 6 }, () => newSubject());
    await Promise.all(subjects.map((s) => send(tenant, s, messages.text(s.waId, s.text))));
    const requests = await Promise.all(
      subjects.map(async (s) => {
        const post = async (type: string) => ((await (await postRequest(world.t, { tenantId: tenant.tenantId, type, subject: { waId: `+${s.waId}` } })).json()) as { id: string }).id;
        const [access, erasure] = await Promise.all([post('access'), post('erasure'), send(tenant, s, messages.text(s.waId, `${s.text} (meanwhile)`))]);
        return { access: access as string, erasure: erasure as string };
      }),
    );
    const erasures = await Promise.all(requests.map((r) => waitForStatus(world.t, r.erasure, ['completed', 'failed'])));
    await Promise.all(requests.map((r) => waitForStatus(world.t, r.access, ['completed', 'failed'])));
    for (const [i, s] of subjects.entries()) {
      expect(erasures[i]!.status).toBe('completed');
      expect(await survivors(tenant, s, erasures[i]!.completedAt!)).toEqual([]);
    }
    const searched: string[] = [];
    const hits = await sweepForPii(subjects.flatMap((s) => [...phoneNeedles(s.waId), s.name, s.text]), { ...everyStore(world.t.services), searched });
    expect(hits).toEqual([]);
    expect(searched).toEqual(expect.arrayContaining(['cosmos:audit', 'cosmos:subjects', 'blob:exports', 'blob:media', 'queue:privacy-requests', 'dead-letter:erasure-tasks']));
  }, 120_000);
});

function imageMessage(subject: Subject): Record<string, unknown> {
  const mediaId = newMediaId();
  const { webhookSha256 } = world.graph.addMedia(mediaId, { bytes: randomBytes(512), mimeType: 'image/jpeg' });
  return messages.image(subject.waId, { id: mediaId, sha256: webhookSha256 });
}
