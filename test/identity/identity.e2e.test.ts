import { randomBytes, randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CosmosMarkerStore } from '../../shared/cosmos';
import { mediaPrefixFor } from '../../shared/domain';
import { rootOf } from '../../shared/runtime';
import { inboundMessage, messagesChange, webhookDelivery, type Sender } from '../../shared/whatsapp/envelope';
import { main as sendFlowMain } from '../../scripts/sendFlow';
import { newMediaId } from '../fixtures/whatsapp/payloads';
import { sweepForPii } from '../support/piiSweep';
import { adminHeaders } from '../support/principals';
import { distinctTestMobile, hashOfUserId, hashOfWaId, pkOfUserId, pkOfWaId } from '../support/subjects';
import { eventually } from '../support/testServices';
import { createPrivacyTenant, postRequest, startPrivacyWorld, waitForStatus, type PrivacyTenant, type PrivacyWorld } from '../privacy/support';
import { postWebhook, subjectDocuments } from '../whatsapp/support';

/**
 * Issue 15 end to end against the local host: WhatsApp as it is now (Meta, "Business-scoped user IDs",
 * updated Jun 29 2026 / Nov 5 2026; "System messages", Aug 11 2026; "user_preferences", May 21 2026;
 * "Revoke", May 21 2026; "Edit", Jul 20 2026). Payloads follow test/fixtures/whatsapp/meta2026.ts, built
 * with fresh identifiers so tests sharing the emulators do not collide.
 */
let world: PrivacyWorld;
beforeAll(async () => {
  world = await startPrivacyWorld();
});
afterAll(async () => {
  await world?.close();
});

const bsuid = () => `GB.${randomInt(10 ** 9, 10 ** 10 - 1)}${randomInt(10 ** 9, 10 ** 10 - 1)}`;
const phone = distinctTestMobile;
const tag = () => randomBytes(3).toString('hex');
const at = (msAgo: number) => new Date(Date.now() - msAgo);

async function post(tenant: PrivacyTenant, sender: Sender | undefined, message: Record<string, unknown>): Promise<Record<string, unknown>> {
  const delivery = webhookDelivery([[messagesChange({ phoneNumberId: tenant.phoneNumberId, ...(sender ? { contacts: [sender] } : {}), messages: [message] })]]);
  const response = await postWebhook(world.t.url, delivery);
  expect(response.status).toBe(200);
  return ((await response.json()) as { received: Record<string, unknown> }).received;
}

async function postChange(tenant: PrivacyTenant, field: string, value: Record<string, unknown>): Promise<Record<string, unknown>> {
  const response = await postWebhook(world.t.url, webhookDelivery([[{ field, value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550783881', phone_number_id: tenant.phoneNumberId }, ...value } }]]));
  expect(response.status).toBe(200);
  return ((await response.json()) as { received: Record<string, unknown> }).received;
}

async function request(tenant: PrivacyTenant, type: 'erasure' | 'access', subject: { waId: string } | { userId: string }) {
  const response = await postRequest(world.t, { tenantId: tenant.tenantId, type, subject });
  expect(response.status).toBe(202);
  const { id } = (await response.json()) as { id: string };
  return waitForStatus(world.t, id, ['completed', 'failed']);
}

async function exportOf(href: string): Promise<{ subject: Record<string, string>; stores: Record<string, { records: number; data: unknown }> }> {
  const response = await fetch(`${world.t.url}${href}`, { headers: adminHeaders() });
  expect(response.status).toBe(200);
  return (await response.json()) as { subject: Record<string, string>; stores: Record<string, { records: number; data: unknown }> };
}

async function blobsUnder(prefix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const item of world.t.services.blobs.media.listBlobsFlat({ prefix, includeSnapshots: true })) names.push(item.name);
  return names;
}

async function documentsWithMessageId(messageId: string): Promise<Record<string, unknown>[]> {
  const { resources } = await world.t.services.cosmos.subjects.items
    .query<Record<string, unknown>>({ query: 'SELECT * FROM c WHERE c.messageId = @m', parameters: [{ name: '@m', value: messageId }] })
    .fetchAll();
  return resources;
}

const markers = () => new CosmosMarkerStore(world.t.services.cosmos.markers, world.t.services.clock);

describe('a username user (BSUID only, no phone number)', () => {
  it("a username user's text, media and flow answers are stored per mode and exported by an access request; their erasure by userId completes with nothing left", async () => {
    const { t, graph } = world;
    const tenant = await createPrivacyTenant(world, { messageStorage: 'encrypted' });
    const id = tag();
    const user: Sender = { userId: bsuid(), username: `priya.${id}`, name: `Priya Shah-${id}` };
    const text = `Is the flat on Mill Road ${id} still available?`;
    const answers = { full_name: `Priya Shah-${id}`, postcode: `CB1 ${id.slice(0, 3).toUpperCase()}` };

    expect(await post(tenant, user, inboundMessage(user, { type: 'text', text: { body: text }, at: at(60_000) }))).toMatchObject({ stored: 1 });
    const mediaId = newMediaId();
    const { webhookSha256 } = graph.addMedia(mediaId, { bytes: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(512)]), mimeType: 'image/jpeg' });
    await post(tenant, user, inboundMessage(user, { type: 'image', image: { id: mediaId, sha256: webhookSha256, mime_type: 'image/jpeg', caption: `photo ${id}` }, at: at(50_000) }));
    await post(tenant, user, inboundMessage(user, { type: 'interactive', interactive: { type: 'nfm_reply', nfm_reply: { name: 'flow', body: 'Sent', response_json: JSON.stringify({ flow_token: 'lead-1', screen: 'LEAD', ...answers }) } }, at: at(40_000) }));
    await eventually(async () => (await subjectDocuments(t.services, tenant.tenantId, user.userId!)).some((d) => d.type === 'mediaRef' && d.status === 'stored') || undefined, 15_000, 'the media download');

    // Stored in the BSUID's partition (a keyed hash in the key), per the encrypted mode: ciphertext only.
    const docs = await subjectDocuments(t.services, tenant.tenantId, user.userId!);
    expect(docs.map((d) => d.type).sort()).toEqual(['contact', 'flowResponse', 'mediaRef', 'message', 'message']);
    expect(docs.find((d) => d.type === 'contact')).toMatchObject({ pk: pkOfUserId(tenant.tenantId, user.userId!), userId: user.userId, profileName: user.name });
    expect(docs.find((d) => d.type === 'contact')!.waId).toBeUndefined();
    expect(JSON.stringify(docs)).not.toContain(text);
    const prefix = mediaPrefixFor(tenant.tenantId, hashOfUserId(tenant.tenantId, user.userId!));
    expect(await blobsUnder(prefix)).toHaveLength(1);

    // Access by userId: everything, decrypted.
    const access = await request(tenant, 'access', { userId: user.userId! });
    expect(access.status).toBe('completed');
    const exported = await exportOf(access.export!.href);
    expect(exported.subject).toEqual({ userId: user.userId });
    const exportedText = JSON.stringify(exported);
    expect(exportedText).toContain(text);
    expect(exportedText).toContain(answers.postcode);
    expect(exported.stores.blob!.records).toBe(1);

    // Erasure by userId: nothing of them is left anywhere.
    const erasure = await request(tenant, 'erasure', { userId: user.userId! });
    expect(erasure.status).toBe('completed');
    expect(await subjectDocuments(t.services, tenant.tenantId, user.userId!)).toEqual([]);
    expect(await blobsUnder(prefix)).toEqual([]);
    const needles = [text, answers.full_name, answers.postcode, user.userId!, user.username!];
    const hits = await sweepForPii(needles, { cosmos: t.services.cosmos.subjects.database, blobs: [t.services.blobs.media, t.services.blobs.exports], queue: t.services.queue, logs: t.logs, telemetry: t.services.telemetry });
    expect(hits).toEqual([]);
    expect(await markers().get('tombstone', tenant.tenantId, hashOfUserId(tenant.tenantId, user.userId!))).toBeDefined();

    // A late delivery of the old text is dropped.
    const late = await post(tenant, user, inboundMessage(user, { type: 'text', text: { body: text }, at: at(30_000) }));
    expect(late).toMatchObject({ droppedAfterErasure: 1 });
    expect(await subjectDocuments(t.services, tenant.tenantId, user.userId!)).toEqual([]);
  }, 60_000);

  it("the erasure confirmation reaches a username user by BSUID (`recipient`, no `to`)", async () => {
    const tenant = await createPrivacyTenant(world, { messageStorage: 'encrypted', confirmErasureByMessage: true });
    const user: Sender = { userId: bsuid(), name: 'Nia' };
    await post(tenant, user, inboundMessage(user, { type: 'text', text: { body: 'please forget me' }, at: at(30_000) }));
    const erasure = await request(tenant, 'erasure', { userId: user.userId! });
    expect(erasure.status).toBe('completed');
    // The confirmation goes out last, after "completed" (docs/privacy-requests.md, the erasure fence).
    const confirmation = await eventually(() => world.graph.sent.find((m) => m.phoneNumberId === tenant.phoneNumberId), 10_000, 'the confirmation');
    expect(confirmation).toMatchObject({ addressee: { kind: 'recipient', value: user.userId }, body: { type: 'text' } });
    expect(confirmation!.body.to).toBeUndefined();
  }, 30_000);

  it('a Privacy Centre erasure request from a username user (flow completion with no wa_id) creates the request', async () => {
    const tenant = await createPrivacyTenant(world, { messageStorage: 'none' });
    const user: Sender = { userId: bsuid(), username: 'sam.t', name: 'Sam T' };
    const received = await post(tenant, user, inboundMessage(user, { type: 'interactive', interactive: { type: 'nfm_reply', nfm_reply: { name: 'flow', body: 'Sent', response_json: JSON.stringify({ action: 'data_deletion_request', scope: 'all', flow_token: 'privacy-1', screen: 'PRIVACY' }) } } }));
    expect(received).toMatchObject({ privacyRequests: 1 });
    const [requestId] = received.privacyRequestIds as string[];
    const done = await waitForStatus(world.t, requestId!, ['completed', 'failed']);
    expect(done).toMatchObject({ status: 'completed', type: 'erasure', channel: 'flow' });
  }, 30_000);

  it('POST /api/privacy-requests names the field of a bad subject: neither, both, or a malformed userId', async () => {
    const tenant = await createPrivacyTenant(world);
    for (const subject of [{}, { waId: '+447700900123', userId: 'GB.1' }, { userId: 'not a bsuid' }, { waId: 'abc' }]) {
      const response = await postRequest(world.t, { tenantId: tenant.tenantId, type: 'erasure', subject });
      expect(response.status).toBe(400);
      const { error } = (await response.json()) as { error: { message: string; field: string } };
      expect(error.field).toMatch(/^subject/);
      expect(error.message).toMatch(/^subject.*(waId|userId|business-scoped|phone number)/);
    }
  });
});

describe('number changes', () => {
  async function personWhoChangedNumber(tenant: PrivacyTenant) {
    const id = tag();
    const before: Sender = { waId: phone(), userId: bsuid(), name: `Jo Bloggs-${id}` };
    const after: Sender = { waId: phone(), userId: bsuid(), name: before.name! };
    const oldText = `my old number message ${id}`;
    const newText = `my new number message ${id}`;
    await post(tenant, before, inboundMessage(before, { type: 'text', text: { body: oldText }, at: at(120_000) }));
    // Meta's system message: `from` is the old number, `system.wa_id` the new one, `system.user_id` the new BSUID; no contacts.
    const linked = await post(tenant, undefined, inboundMessage({ waId: before.waId! }, { type: 'system', system: { body: `User ${before.name} changed from ${before.waId} to ${after.waId}`, type: 'user_changed_number', wa_id: after.waId, user_id: after.userId }, at: at(90_000) }));
    expect(linked).toMatchObject({ identity: 1, stored: 0 });
    await post(tenant, after, inboundMessage(after, { type: 'text', text: { body: newText }, at: at(60_000) }));
    return { before, after, oldText, newText };
  }

  for (const by of ['new', 'old'] as const) {
    it(`a user who changes number is erased whole by the ${by} number`, async () => {
      const { t } = world;
      const tenant = await createPrivacyTenant(world, { messageStorage: 'encrypted' });
      const { before, after, oldText, newText } = await personWhoChangedNumber(tenant);
      expect(await subjectDocuments(t.services, tenant.tenantId, before.waId!)).not.toEqual([]);
      expect(await subjectDocuments(t.services, tenant.tenantId, after.waId!)).not.toEqual([]);

      const erasure = await request(tenant, 'erasure', { waId: (by === 'new' ? after : before).waId! });
      expect(erasure.status).toBe('completed');
      for (const identifier of [before.waId!, before.userId!, after.waId!, after.userId!]) {
        expect(await subjectDocuments(t.services, tenant.tenantId, identifier)).toEqual([]);
      }
      const hits = await sweepForPii([oldText, newText, before.name!], { cosmos: t.services.cosmos.subjects.database });
      expect(hits).toEqual([]);
      // Every identifier of the person is tombstoned: a late webhook under any of them is dropped.
      const hashes = [hashOfWaId(tenant.tenantId, before.waId!), hashOfWaId(tenant.tenantId, after.waId!), hashOfUserId(tenant.tenantId, before.userId!), hashOfUserId(tenant.tenantId, after.userId!)];
      for (const hash of hashes) expect(await markers().get('tombstone', tenant.tenantId, hash)).toBeDefined();
      const late = await post(tenant, before, inboundMessage(before, { type: 'text', text: { body: oldText }, at: at(100_000) }));
      expect(late).toMatchObject({ droppedAfterErasure: 1 });
      // The links and the audit trail hold keyed hashes only.
      const linkEvents = await fetch(`${t.url}/api/audit?tenantId=${tenant.tenantId}&type=identity.linked`, { headers: adminHeaders() });
      const events = ((await linkEvents.json()) as { events: { details: Record<string, unknown> }[] }).events;
      expect(events.length).toBeGreaterThanOrEqual(2);
      expect(JSON.stringify(events)).not.toMatch(new RegExp(`${before.waId}|${after.waId}|${before.userId}|${after.userId}`));
    }, 60_000);
  }

  it('a user_id_update links the previous and the current BSUID: an erasure by the new one reaches what the old one holds', async () => {
    const { t } = world;
    const tenant = await createPrivacyTenant(world, { messageStorage: 'encrypted' });
    const previous: Sender = { userId: bsuid(), name: 'Kit' };
    const current: Sender = { userId: bsuid(), name: 'Kit' };
    await post(tenant, previous, inboundMessage(previous, { type: 'text', text: { body: 'before the update' }, at: at(60_000) }));
    const received = await postChange(tenant, 'user_id_update', { contacts: [{ profile: { name: 'Kit' } }], user_id_update: [{ detail: 'User id for Kit has been updated.', user_id: { previous: previous.userId, current: current.userId }, timestamp: String(Math.floor(Date.now() / 1000) - 30) }] });
    expect(received).toMatchObject({ identity: 1 });
    const erasure = await request(tenant, 'erasure', { userId: current.userId! });
    expect(erasure.status).toBe('completed');
    expect(await subjectDocuments(t.services, tenant.tenantId, previous.userId!)).toEqual([]);
  }, 30_000);
});

describe('marketing preferences from WhatsApp (user_preferences)', () => {
  it('a user_preferences stop shows in the Privacy Centre and blocks marketing sends; a resume lifts it', async () => {
    const { t } = world;
    const tenant = await createPrivacyTenant(world, { messageStorage: 'none' });
    const user: Sender = { waId: phone(), userId: bsuid(), name: 'Alex' };
    await post(tenant, user, inboundMessage(user, { type: 'text', text: { body: 'hello' }, at: at(60_000) }));
    const stopAt = Math.floor(Date.now() / 1000) - 30;
    const received = await postChange(tenant, 'user_preferences', {
      contacts: [{ profile: { name: 'Alex' }, wa_id: user.waId, user_id: user.userId }],
      user_preferences: [{ wa_id: user.waId, user_id: user.userId, detail: 'User requested to stop marketing messages', category: 'marketing_messages', value: 'stop', timestamp: stopAt }],
    });
    expect(received).toMatchObject({ identity: 1 });

    // The Privacy Centre (its port, as the Flows endpoint calls it), by either identifier.
    const centre = rootOf(t.services).flows.privacy;
    for (const subject of [{ kind: 'waId' as const, value: user.waId! }, { kind: 'userId' as const, value: user.userId! }]) {
      expect(await centre.heldData(tenant.tenantId, subject as never)).toMatchObject({ marketing: 'opted_out', whatsappMarketing: 'stop' });
    }
    expect(t.services.telemetry.metrics.some((m) => m.name === 'webhook.user_preferences' && m.dimensions.value === 'stop')).toBe(true);
    const day = new Date().toISOString().slice(0, 10);
    const metrics = await fetch(`${t.url}/api/privacy-metrics?tenantId=${tenant.tenantId}&from=${day}&to=${new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)}`, { headers: adminHeaders() });
    expect(((await metrics.json()) as { figures: { marketingPreferences: unknown } }).figures.marketingPreferences).toMatchObject({ value: { stop: 1, resume: 0 } });

    // flows:send --marketing refuses (exit 3, nothing sent, audited); the Privacy Centre itself still goes,
    // through the Graph fake, addressed by BSUID as Meta documents it: `recipient`, no `to`.
    const sent = world.graph.sent;
    const before = sent.length;
    const io = { cwd: process.cwd(), env: { ...t.services.env, FLOWS_PRIVACY_CENTRE_FLOW_ID: '1234567890' }, out: () => undefined, err: () => undefined, fetch: globalThis.fetch, secrets: t.services.secrets };
    expect(await sendFlowMain(['--tenant', tenant.tenantId, '--to', user.userId!, '--marketing'], io)).toBe(3);
    expect(sent.length).toBe(before);
    const refused = await fetch(`${t.url}/api/audit?tenantId=${tenant.tenantId}&type=flow.send.refused`, { headers: adminHeaders() });
    expect(((await refused.json()) as { events: { details: Record<string, unknown> }[] }).events[0]?.details).toMatchObject({ reason: 'whatsapp-stop' });
    expect(await sendFlowMain(['--tenant', tenant.tenantId, '--to', user.userId!], io)).toBe(0);
    expect(sent.at(-1)).toMatchObject({ phoneNumberId: tenant.phoneNumberId, addressee: { kind: 'recipient', value: user.userId }, body: { recipient: user.userId, type: 'interactive' } });
    expect(sent.at(-1)!.body.to).toBeUndefined();

    // An older stop delivered late does not undo a newer resume.
    await postChange(tenant, 'user_preferences', { user_preferences: [{ user_id: user.userId, category: 'marketing_messages', value: 'resume', timestamp: stopAt + 10, detail: 'User requested to resume marketing messages' }] });
    await postChange(tenant, 'user_preferences', { user_preferences: [{ user_id: user.userId, category: 'marketing_messages', value: 'stop', timestamp: stopAt - 10, detail: 'User requested to stop marketing messages' }] });
    expect(await centre.heldData(tenant.tenantId, { kind: 'waId', value: user.waId! } as never)).toMatchObject({ whatsappMarketing: 'resume' });
    expect(await sendFlowMain(['--tenant', tenant.tenantId, '--to', user.waId!, '--marketing'], io)).toBe(0);
  }, 30_000);
});

describe("the user's own deletions and edits", () => {
  it('a revoke leaves no copy of the message in Cosmos, and a late delivery of the original is not stored', async () => {
    const tenant = await createPrivacyTenant(world, { messageStorage: 'encrypted' });
    const user: Sender = { waId: phone(), userId: bsuid(), name: 'Robin' };
    const original = inboundMessage(user, { type: 'text', text: { body: `delete me ${tag()}` }, at: at(60_000) });
    await post(tenant, user, original);
    expect(await documentsWithMessageId(String(original.id))).toHaveLength(1);
    const revoked = await post(tenant, user, inboundMessage(user, { type: 'revoke', revoke: { original_message_id: original.id }, at: at(30_000) }));
    expect(revoked).toMatchObject({ identity: 1 });
    expect(await documentsWithMessageId(String(original.id))).toEqual([]);
    expect(JSON.stringify(await subjectDocuments(world.t.services, tenant.tenantId, user.waId!))).not.toContain('delete me');
    await post(tenant, user, original);
    expect(await documentsWithMessageId(String(original.id))).toEqual([]);
  }, 30_000);

  it("a revoke of a photo deletes the downloaded file from Blob as well as its reference, and leaves the user's other photo", async () => {
    const { t, graph } = world;
    const tenant = await createPrivacyTenant(world, { messageStorage: 'encrypted' });
    const user: Sender = { waId: phone(), userId: bsuid(), name: 'Robin' };
    const photo = async (msAgo: number) => {
      const mediaId = newMediaId();
      const { webhookSha256 } = graph.addMedia(mediaId, { bytes: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(256)]), mimeType: 'image/jpeg' });
      const message = inboundMessage(user, { type: 'image', image: { id: mediaId, sha256: webhookSha256, mime_type: 'image/jpeg' }, at: at(msAgo) });
      await post(tenant, user, message);
      return { mediaId, message };
    };
    const revokedPhoto = await photo(60_000);
    const keptPhoto = await photo(55_000);
    const stored = async () => (await subjectDocuments(t.services, tenant.tenantId, user.waId!)).filter((d) => d.type === 'mediaRef' && d.status === 'stored');
    await eventually(async () => ((await stored()).length === 2 ? true : undefined), 15_000, 'both media downloads');
    const prefix = mediaPrefixFor(tenant.tenantId, hashOfWaId(tenant.tenantId, user.waId!));
    expect((await blobsUnder(prefix)).sort()).toEqual([`${prefix}${keptPhoto.mediaId}`, `${prefix}${revokedPhoto.mediaId}`].sort());

    expect(await post(tenant, user, inboundMessage(user, { type: 'revoke', revoke: { original_message_id: revokedPhoto.message.id }, at: at(30_000) }))).toMatchObject({ identity: 1 });
    expect(await blobsUnder(prefix)).toEqual([`${prefix}${keptPhoto.mediaId}`]);
    expect(await documentsWithMessageId(String(revokedPhoto.message.id))).toEqual([]);
    expect((await documentsWithMessageId(String(keptPhoto.message.id))).map((d) => d.type).sort()).toEqual(['mediaRef', 'message']);
  }, 30_000);

  it('an edit replaces the stored content: one document, the new text only', async () => {
    const { t } = world;
    const tenant = await createPrivacyTenant(world, { messageStorage: 'encrypted' });
    const user: Sender = { waId: phone(), userId: bsuid(), name: 'Robin' };
    const original = inboundMessage(user, { type: 'text', text: { body: 'first version' }, at: at(60_000) });
    await post(tenant, user, original);
    await post(tenant, user, inboundMessage(user, { type: 'edit', edit: { original_message_id: original.id, message: { type: 'text', text: { body: 'second version' } } }, at: at(50_000) }));
    const response = await fetch(`${t.url}/api/tenants/${tenant.tenantId}/subjects/${user.waId}/messages`, { headers: adminHeaders() });
    const body = (await response.json()) as { messages: { content: unknown }[] };
    expect(body.messages).toHaveLength(1);
    expect(JSON.stringify(body.messages[0]!.content)).toContain('second version');
    expect(JSON.stringify(body)).not.toContain('first version');
  }, 30_000);
});

describe('the identity migration (legacy `<tenantId>|<waId>` partition keys)', () => {
  /** Writes a subject through webhooks, then moves its documents back under the legacy key, as the code before BSUIDs wrote them. */
  async function legacySubject(tenant: PrivacyTenant) {
    const user: Sender = { waId: phone(), name: `Legacy ${tag()}` };
    const text = `written before the change ${tag()}`;
    await post(tenant, user, inboundMessage(user, { type: 'text', text: { body: text }, at: at(60_000) }));
    await post(tenant, user, inboundMessage(user, { type: 'interactive', interactive: { type: 'nfm_reply', nfm_reply: { name: 'flow', body: 'Sent', response_json: JSON.stringify({ flow_token: 'x', screen: 'LEAD', postcode: `LG1 ${tag()}` }) } }, at: at(50_000) }));
    const container = world.t.services.cosmos.subjects;
    const docs = await subjectDocuments(world.t.services, tenant.tenantId, user.waId!);
    for (const doc of docs) {
      const { _rid, _self, _etag, _attachments, _ts, ...rest } = doc;
      await container.items.create({ ...rest, pk: `${tenant.tenantId}|${user.waId}` });
      await container.item(String(doc.id), String(doc.pk)).delete();
    }
    return { user, text, count: docs.length, legacyPk: `${tenant.tenantId}|${user.waId}` };
  }

  async function inPartition(pk: string): Promise<Record<string, unknown>[]> {
    const { resources } = await world.t.services.cosmos.subjects.items.query<Record<string, unknown>>({ query: 'SELECT * FROM c WHERE c.pk = @pk', parameters: [{ name: '@pk', value: pk }] }).fetchAll();
    return resources;
  }

  it('documents written under the old phone-number keys are found, exported and erased before the migration', async () => {
    const tenant = await createPrivacyTenant(world, { messageStorage: 'encrypted' });
    const { user, text, count, legacyPk } = await legacySubject(tenant);
    expect(await inPartition(legacyPk)).toHaveLength(count);
    const access = await request(tenant, 'access', { waId: user.waId! });
    expect(JSON.stringify(await exportOf(access.export!.href))).toContain(text);
    const erasure = await request(tenant, 'erasure', { waId: user.waId! });
    expect(erasure.status).toBe('completed');
    expect(erasure.tasks.find((task) => task.store === 'cosmos')).toMatchObject({ counts: { found: count, deleted: count } });
    expect(await inPartition(legacyPk)).toEqual([]);
  }, 30_000);

  it('a number linked after the change has its old-key documents moved at once: an erasure by the new number erases them', async () => {
    const { t } = world;
    const tenant = await createPrivacyTenant(world, { messageStorage: 'encrypted' });
    const { user, text, legacyPk } = await legacySubject(tenant);
    const after: Sender = { waId: phone(), userId: bsuid(), name: user.name! };
    await post(tenant, undefined, inboundMessage({ waId: user.waId! }, { type: 'system', system: { type: 'user_changed_number', wa_id: after.waId, user_id: after.userId, body: 'changed' }, at: at(20_000) }));
    expect(await inPartition(legacyPk)).toEqual([]);
    const erasure = await request(tenant, 'erasure', { waId: after.waId! });
    expect(erasure.status).toBe('completed');
    expect(await inPartition(pkOfWaId(tenant.tenantId, user.waId!))).toEqual([]);
    expect(await sweepForPii([text], { cosmos: t.services.cosmos.subjects.database })).toEqual([]);
  }, 30_000);

  it('the migration moves every document to its identifier-hash key (copy then delete), finishes a run that stopped half-way without duplicates, and the result is found, exported and erased', async () => {
    const { t } = world;
    const tenant = await createPrivacyTenant(world, { messageStorage: 'encrypted' });
    const { user, text, count, legacyPk } = await legacySubject(tenant);
    const newPk = pkOfWaId(tenant.tenantId, user.waId!);
    // A run that stopped after copying one document and before deleting its original.
    const [first] = await inPartition(legacyPk);
    const { _rid, _self, _etag, _attachments, _ts, ...copy } = first!;
    await t.services.cosmos.subjects.items.create({ ...copy, pk: newPk });

    const migrate = (dryRun: boolean) => fetch(`${t.url}/api/tenants/${tenant.tenantId}/identity/migrate${dryRun ? '?dryRun=true' : ''}`, { method: 'POST', headers: adminHeaders() });
    const planned = (await (await migrate(true)).json()) as Record<string, unknown>;
    expect(planned).toMatchObject({ dryRun: true, documents: count, partitions: 1, moved: 0 });
    expect(await inPartition(legacyPk)).toHaveLength(count);

    const done = (await (await migrate(false)).json()) as Record<string, unknown>;
    expect(done).toMatchObject({ dryRun: false, documents: count, partitions: 1 });
    expect(Number(done.moved) + Number(done.alreadyThere) + Number(done.merged)).toBe(count);
    expect(await inPartition(legacyPk)).toEqual([]);
    const moved = await inPartition(newPk);
    expect(moved).toHaveLength(count);
    expect(new Set(moved.map((d) => d.id)).size).toBe(count);
    expect(moved.find((d) => d.type === 'contact')).toMatchObject({ waId: user.waId });
    expect(JSON.stringify(moved)).not.toContain(`${tenant.tenantId}|${user.waId}`);
    // Again: nothing left to do.
    expect((await (await migrate(false)).json()) as Record<string, unknown>).toMatchObject({ documents: 0, moved: 0 });
    // Audited with counts only.
    const audit = await fetch(`${t.url}/api/audit?tenantId=${tenant.tenantId}&type=identity.migration.completed`, { headers: adminHeaders() });
    const events = ((await audit.json()) as { events: { details: Record<string, unknown> }[] }).events;
    expect(events[0]!.details).toMatchObject({ documents: count });
    expect(JSON.stringify(events)).not.toContain(user.waId!);

    const access = await request(tenant, 'access', { waId: user.waId! });
    expect(JSON.stringify(await exportOf(access.export!.href))).toContain(text);
    const erasure = await request(tenant, 'erasure', { waId: user.waId! });
    expect(erasure.status).toBe('completed');
    expect(await inPartition(newPk)).toEqual([]);
  }, 40_000);
});
