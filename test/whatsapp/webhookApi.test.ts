import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptText, keyringFrom } from '../../shared/crypto';
import type { TenantId } from '../../shared/domain';
import { getPrivacyRequest } from '../../shared/privacy';
import { signBody } from '../../shared/whatsapp';
import { change, delivery, messages, newMediaId, newPhoneNumberId, newWaId, single, status, wamid } from '../fixtures/whatsapp/payloads';
import { startTestHost, type TestHost } from '../support/testHost';
import { eventually } from '../support/testServices';
import { CLOSED_PORT_URL, createTenant, everyCosmosDocument, json, postWebhook, RecordingInProcessQueue, subjectDocuments, subjectHashOf, telemetryText } from './support';
import { rootOf } from '../../shared/runtime';
import { CosmosAuditLog, CosmosMarkerStore } from '../../shared/cosmos';
import { pkOfWaId } from '../support/subjects';

const PREVIOUS_SECRET = 'test-app-secret-before-rotation';
let t: TestHost;
const queue = new RecordingInProcessQueue();
beforeAll(async () => {
  // Media downloads fail fast here (nothing listens on the Graph URL) and are rescheduled: this file is about the webhook.
  t = await startTestHost({ WHATSAPP_APP_SECRET_PREVIOUS: PREVIOUS_SECRET, MAX_WEBHOOK_BYTES: '65536', GRAPH_API_BASE_URL: CLOSED_PORT_URL }, { queue });
});
afterAll(async () => {
  await t?.close();
});

type Summary = { received: Record<string, number> };
const audit = () => new CosmosAuditLog(t.services.cosmos.audit, t.services.clock);
const markers = () => new CosmosMarkerStore(t.services.cosmos.markers, t.services.clock);
const keyring = () => keyringFrom(t.services.env.DATA_ENCRYPTION_KEY!);

describe('verification handshake', () => {
  it('answers the challenge as plain text for the right verify token, and 403 otherwise', async () => {
    const ok = await fetch(`${t.url}/api/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=test-verify-token&hub.challenge=1158201444`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/text\/plain/);
    expect(await ok.text()).toBe('1158201444');
    const wrong = await fetch(`${t.url}/api/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1`);
    expect(wrong.status).toBe(403);
    const noMode = await fetch(`${t.url}/api/whatsapp/webhook?hub.verify_token=test-verify-token&hub.challenge=1`);
    expect(noMode.status).toBe(403);
  });
});

describe('signature, size and shape', () => {
  it('a bad or missing signature gets 401, stores nothing, logs nothing of the body, and raises the alert event', async () => {
    const tenant = await createTenant(t, { messageStorage: 'encrypted' });
    const waId = newWaId();
    const payload = single(tenant.phoneNumberId, waId, messages.text(waId, 'my secret viewing request'));
    const forged = await postWebhook(t.url, payload, { secret: 'not-the-app-secret' });
    expect(forged.status).toBe(401);
    expect((await json<{ error: { field: string } }>(forged)).error.field).toBe('X-Hub-Signature-256');
    expect((await postWebhook(t.url, payload, { signature: null })).status).toBe(401);
    expect((await postWebhook(t.url, payload, { signature: 'sha1=abc' })).status).toBe(401);
    // Signed over different bytes (a re-serialised body) does not pass either.
    const reserialised = JSON.stringify(payload, null, 2);
    expect((await postWebhook(t.url, reserialised, { signature: signBody('test-app-secret', JSON.stringify(payload)) })).status).toBe(401);

    expect(await subjectDocuments(t.services, tenant.tenantId, waId)).toEqual([]);
    const rejected = t.services.telemetry.events.filter((e) => e.name === 'webhook.signature.rejected');
    expect(rejected.map((e) => e.dimensions.reason)).toEqual(expect.arrayContaining(['mismatch', 'missing', 'malformed']));
    for (const e of rejected) expect(Object.keys(e.dimensions)).toEqual(['reason']);
    expect(t.logs.join('\n')).not.toContain('secret viewing');
  });

  it('during a rotation a delivery signed with the previous app secret is accepted', async () => {
    const tenant = await createTenant(t, { messageStorage: 'none' });
    const waId = newWaId();
    const response = await postWebhook(t.url, single(tenant.phoneNumberId, waId, messages.text(waId, 'hello')), { secret: PREVIOUS_SECRET });
    expect(response.status).toBe(200);
    expect((await json<Summary>(response)).received.stored).toBe(1);
  });

  it('malformed JSON and a payload that is not a WhatsApp event get a 400 naming the problem', async () => {
    const broken = await postWebhook(t.url, '{"object": "whatsapp_business_account", "entry": [');
    expect(broken.status).toBe(400);
    expect((await json<{ error: { message: string } }>(broken)).error.message).toMatch(/not valid JSON/);
    const page = await postWebhook(t.url, { object: 'page', entry: [] });
    expect(page.status).toBe(400);
    expect((await json<{ error: { field: string } }>(page)).error.field).toBe('object');
    const noMetadata = await postWebhook(t.url, { object: 'whatsapp_business_account', entry: [{ id: '1', changes: [{ field: 'messages', value: { messages: [] } }] }] });
    expect(noMetadata.status).toBe(400);
    expect((await json<{ error: { field: string } }>(noMetadata)).error.field).toBe('entry.0.changes.0.value.metadata');
  });

  it('a body over MAX_WEBHOOK_BYTES gets 413', async () => {
    const tenant = await createTenant(t, { messageStorage: 'none' });
    const waId = newWaId();
    const big = single(tenant.phoneNumberId, waId, messages.text(waId, 'x'.repeat(70_000)));
    const response = await postWebhook(t.url, big);
    expect(response.status).toBe(413);
    expect(await subjectDocuments(t.services, tenant.tenantId, waId)).toEqual([]);
  });
});

describe('tenants and what is kept', () => {
  it('events for a phone number id no tenant owns are acknowledged, dropped and counted', async () => {
    const waId = newWaId();
    const phoneNumberId = newPhoneNumberId();
    const response = await postWebhook(t.url, single(phoneNumberId, waId, messages.text(waId, 'anyone there?')));
    expect(response.status).toBe(200);
    expect((await json<Summary>(response)).received).toMatchObject({ unknownNumbers: 1, messages: 0 });
    expect(t.services.telemetry.metrics).toContainEqual(expect.objectContaining({ name: 'webhook.unknown_number', dimensions: expect.objectContaining({ phoneNumberId }) }));
    expect(await everyCosmosDocument(t.services)).not.toContain(waId);
  });

  it('a first message creates the contact with profile name, first/last seen and the tenant retention as ttl', async () => {
    const tenant = await createTenant(t, { messageStorage: 'none', retention: { contactDays: 30 } });
    const waId = newWaId();
    expect((await postWebhook(t.url, single(tenant.phoneNumberId, waId, messages.text(waId, 'hi'), 'Priya Shah'))).status).toBe(200);
    const [contact] = await subjectDocuments(t.services, tenant.tenantId, waId);
    expect(contact).toMatchObject({ id: 'contact', pk: pkOfWaId(tenant.tenantId, waId), type: 'contact', waId, profileName: 'Priya Shah', optIn: 'unknown', ttl: 30 * 86_400 });
    expect(contact!.firstSeenAt).toBe(contact!.lastSeenAt);
    expect(Date.parse(String(contact!.expiresAt)) - Date.parse(String(contact!.lastSeenAt))).toBe(30 * 86_400_000);

    await new Promise((r) => setTimeout(r, 20));
    await postWebhook(t.url, single(tenant.phoneNumberId, waId, messages.text(waId, 'again'), 'Priya S.'));
    const [again] = await subjectDocuments(t.services, tenant.tenantId, waId);
    expect(again!.firstSeenAt).toBe(contact!.firstSeenAt);
    expect(String(again!.lastSeenAt) > String(contact!.lastSeenAt)).toBe(true);
    expect(String(again!.expiresAt) > String(contact!.expiresAt)).toBe(true);
    expect(again!.profileName).toBe('Priya S.');
  });

  it('status updates (sent, delivered, read, failed with errors) store nothing', async () => {
    const tenant = await createTenant(t, { messageStorage: 'encrypted' });
    const waId = newWaId();
    const response = await postWebhook(
      t.url,
      delivery([change({ phoneNumberId: tenant.phoneNumberId, statuses: [status(waId, 'sent'), status(waId, 'delivered'), status(waId, 'read'), status(waId, 'failed')] })]),
    );
    expect(response.status).toBe(200);
    expect((await json<Summary>(response)).received).toMatchObject({ statuses: 4, messages: 0 });
    expect(await subjectDocuments(t.services, tenant.tenantId, waId)).toEqual([]);
    expect(await everyCosmosDocument(t.services)).not.toContain(waId);
    const failed = t.services.telemetry.metrics.find((m) => m.name === 'webhook.status' && m.dimensions.tenantId === tenant.tenantId && m.dimensions.status === 'failed');
    expect(failed?.dimensions.errorCode).toBe(131047);
  });

  it('every message type in encrypted mode: content only as ciphertext, media queued, flow answers kept, the rest ignored', async () => {
    const tenant = await createTenant(t, { messageStorage: 'encrypted', retention: { messageDays: 14, mediaDays: 20, flowResponseDays: 60 } });
    const waId = newWaId();
    const media = (n: number) => ({ id: `${newMediaId().slice(0, 15)}${n}`, sha256: Buffer.alloc(32, n).toString('base64') });
    const [image, audio, video, documentMedia, sticker] = [1, 2, 3, 4, 5].map(media);
    const all = [
      messages.text(waId, 'Is the flat on Elm Road still available?'),
      messages.reply(waId, 'Yes please, Thursday', wamid('447700900000')),
      messages.image(waId, image!, 'the damp in the bathroom'),
      messages.audio(waId, audio!),
      messages.video(waId, video!, 'walkthrough'),
      messages.document(waId, documentMedia!, 'payslip-march.pdf'),
      messages.sticker(waId, sticker!),
      messages.location(waId),
      messages.contacts(waId),
      messages.buttonReply(waId, 'Book a viewing'),
      messages.listReply(waId, 'Thursday evening'),
      messages.flowCompletion(waId, { flow_token: 'lead-7781', budget: '1500', move_in: '2026-03-01', screen: 'QUALIFY' }),
      messages.button(waId, 'Confirm'),
      messages.reaction(waId, wamid('447700900000')),
      messages.order(waId, 'Please hold the flat for me'),
      messages.system(waId),
      messages.unsupported(waId),
      messages.future(waId),
    ];
    const response = await postWebhook(t.url, single(tenant.phoneNumberId, waId, { ...all[0] }, 'Sam Taylor'));
    expect(response.status).toBe(200);
    const rest = await postWebhook(t.url, delivery([change({ phoneNumberId: tenant.phoneNumberId, contacts: [{ waId, name: 'Sam Taylor' }], messages: all.slice(1) })]));
    expect(rest.status).toBe(200);
    // The system message (a number change) links the two numbers: counted under identity, stores nothing.
    expect((await json<Summary>(rest)).received).toMatchObject({ messages: 17, stored: 14, ignored: 2, identity: 1 });

    const docs = await subjectDocuments(t.services, tenant.tenantId, waId);
    const byType = (type: string) => docs.filter((d) => d.type === type);
    expect(byType('contact')).toHaveLength(1);
    // text, reply, 5 media captions/refs, location, contacts, button_reply, list_reply, button, reaction, order
    const stored = byType('message');
    expect(stored.map((d) => d.messageType).sort()).toEqual(
      ['audio', 'button', 'contacts', 'document', 'image', 'interactive', 'interactive', 'location', 'order', 'reaction', 'sticker', 'text', 'text', 'video'].sort(),
    );
    for (const doc of stored) {
      expect(doc).toMatchObject({ ttl: 14 * 86_400, direction: 'inbound', keyId: keyring().current.id });
      expect(doc.syncState).toBeUndefined();
      expect(Object.keys(doc)).not.toContain('text');
    }
    const text = stored.find((d) => d.messageId === all[0]!.id)!;
    expect(JSON.parse(decryptText(keyring(), String(text.ciphertext), String(text.id)))).toEqual({ type: 'text', text: { body: 'Is the flat on Elm Road still available?' } });

    const refs = byType('mediaRef');
    expect(refs.map((d) => d.mediaId).sort()).toEqual([image, audio, video, documentMedia, sticker].map((m) => m!.id).sort());
    for (const ref of refs) expect(ref).toMatchObject({ status: 'queued', ttl: 20 * 86_400 });
    // (the worker reschedules them: nothing listens on the Graph URL here; those retries carry `<mediaId>:<attempt>`)
    const queued = queue.sentTo('media-downloads', tenant.tenantId).filter((m) => !String(m.messageId).includes(':'));
    expect(queued.map((m) => m.messageId).sort()).toEqual(refs.map((d) => d.mediaId).sort());
    const subjectHash = await subjectHashOf(t.services, tenant.tenantId, waId);
    for (const m of queued) expect(m.body).toEqual({ tenantId: tenant.tenantId, subjectHash, mediaRefId: `media-${m.messageId}` });

    const [flow] = byType('flowResponse');
    expect(flow).toMatchObject({ flowToken: 'lead-7781', screen: 'QUALIFY', answers: { budget: '1500', move_in: '2026-03-01' }, ttl: 60 * 86_400 });

    const everything = await everyCosmosDocument(t.services);
    for (const words of ['Elm Road', 'damp in the bathroom', 'Downing Street', 'alex@example.com', 'hold the flat', 'payslip-march']) expect(everything).not.toContain(words);
  });

  it('hubspot mode keeps the content encrypted as pending and queues a hubspot-sync message with ids only', async () => {
    const tenant = await createTenant(t, { messageStorage: 'hubspot' });
    const waId = newWaId();
    await postWebhook(t.url, single(tenant.phoneNumberId, waId, messages.text(waId, 'Call me after 6pm')));
    const [message] = (await subjectDocuments(t.services, tenant.tenantId, waId)).filter((d) => d.type === 'message');
    expect(message).toMatchObject({ syncState: 'pending', messageType: 'text' });
    const [sync] = queue.sentTo('hubspot-sync', tenant.tenantId);
    expect(sync!.body).toEqual({ tenantId: tenant.tenantId, subjectHash: await subjectHashOf(t.services, tenant.tenantId, waId), messageDocId: message!.id });
    expect(sync!.messageId).toBe(message!.id);
    expect(JSON.stringify(sync)).not.toContain(waId);
  });

  it('none mode: after a whole conversation no message text is anywhere in Cosmos, the logs or telemetry', async () => {
    const tenant = await createTenant(t, { messageStorage: 'none' });
    const waId = newWaId();
    const words = ['I am behind on rent this month', 'My landlord changed the locks', 'Thursday at 6 works'];
    const conversation = [
      messages.text(waId, words[0]!),
      messages.reply(waId, words[1]!, wamid('447700900000')),
      messages.buttonReply(waId, words[2]!),
      messages.location(waId),
      messages.order(waId, 'deposit question'),
    ];
    for (const message of conversation) expect((await postWebhook(t.url, single(tenant.phoneNumberId, waId, message))).status).toBe(200);
    const everything = await everyCosmosDocument(t.services);
    const logs = t.logs.join('\n');
    const telemetry = telemetryText(t.services);
    for (const text of [...words, 'Downing Street', 'deposit question']) {
      expect(everything).not.toContain(text);
      expect(logs).not.toContain(text);
      expect(telemetry).not.toContain(text);
    }
    // The number and the message ids (which contain the number) are not in markers, audit, logs or telemetry.
    const beyondSubject = JSON.stringify(await Promise.all([t.services.cosmos.markers, t.services.cosmos.audit].map(async (c) => (await c.items.query('SELECT * FROM c').fetchAll()).resources)));
    for (const id of [waId, ...conversation.map((m) => m.id)]) {
      expect(beyondSubject).not.toContain(id);
      expect(logs).not.toContain(id);
      expect(telemetry).not.toContain(id);
    }
    const docs = await subjectDocuments(t.services, tenant.tenantId, waId);
    expect(docs.map((d) => d.type)).toEqual(['contact']);
  });
});

describe('idempotency and order', () => {
  it('a duplicate delivery is acknowledged and writes nothing twice', async () => {
    const tenant = await createTenant(t, { messageStorage: 'encrypted' });
    const waId = newWaId();
    const mediaId = newMediaId();
    const payload = delivery([
      change({ phoneNumberId: tenant.phoneNumberId, contacts: [{ waId, name: 'Kim' }], messages: [messages.text(waId, 'one'), messages.image(waId, { id: mediaId, sha256: 'x' })] }),
    ]);
    const first = await json<Summary>(await postWebhook(t.url, payload));
    expect(first.received).toMatchObject({ stored: 2, duplicates: 0 });
    const before = await subjectDocuments(t.services, tenant.tenantId, waId);
    const second = await postWebhook(t.url, payload);
    expect(second.status).toBe(200);
    expect((await json<Summary>(second)).received).toMatchObject({ stored: 0, duplicates: 2 });
    const after = await subjectDocuments(t.services, tenant.tenantId, waId);
    expect(after.map((d) => `${String(d.id)}@${String(d._etag)}`).sort()).toEqual(before.map((d) => `${String(d.id)}@${String(d._etag)}`).sort());
    expect(queue.sentTo('media-downloads').filter((m) => m.messageId === mediaId)).toHaveLength(1);
  });

  it('batched entries for two tenants and two subjects are each routed to their own partition', async () => {
    const [a, b] = await Promise.all([createTenant(t, { messageStorage: 'encrypted' }), createTenant(t, { messageStorage: 'none' })]);
    const [x, y] = [newWaId(), newWaId()];
    const payload = delivery(
      [change({ phoneNumberId: a!.phoneNumberId, contacts: [{ waId: x, name: 'X' }, { waId: y, name: 'Y' }], messages: [messages.text(x, 'from x'), messages.text(y, 'from y')] })],
      [change({ phoneNumberId: b!.phoneNumberId, contacts: [{ waId: x, name: 'X at B' }], messages: [messages.text(x, 'x to b')] }), change({ phoneNumberId: b!.phoneNumberId, statuses: [status(x, 'read')] })],
    );
    const response = await postWebhook(t.url, payload);
    expect((await json<Summary>(response)).received).toMatchObject({ messages: 3, stored: 3, statuses: 1 });
    expect((await subjectDocuments(t.services, a!.tenantId, x)).map((d) => d.type).sort()).toEqual(['contact', 'message']);
    expect((await subjectDocuments(t.services, a!.tenantId, y)).map((d) => d.type).sort()).toEqual(['contact', 'message']);
    expect((await subjectDocuments(t.services, b!.tenantId, x)).map((d) => [d.type, d.profileName])).toEqual([['contact', 'X at B']]);
  });

  it('an event at or before the erasure tombstone is dropped; a newer one is a new relationship, counted as re-engagement', async () => {
    const tenant = await createTenant(t, { messageStorage: 'encrypted' });
    const waId = newWaId();
    const subjectHash = await subjectHashOf(t.services, tenant.tenantId, waId);
    const erasedAt = new Date(Date.now() - 60_000);
    await markers().put('tombstone', tenant.tenantId, subjectHash, { data: { erasedAt: erasedAt.toISOString() } });

    const late = messages.text(waId, 'sent before I asked to be forgotten', new Date(erasedAt.getTime() - 5_000));
    const atErasure = messages.text(waId, 'sent exactly then', erasedAt);
    const lateResponse = await postWebhook(t.url, delivery([change({ phoneNumberId: tenant.phoneNumberId, contacts: [{ waId, name: 'Erased' }], messages: [late, atErasure] })]));
    expect((await json<Summary>(lateResponse)).received).toMatchObject({ droppedAfterErasure: 2, stored: 0 });
    expect(await subjectDocuments(t.services, tenant.tenantId, waId)).toEqual([]);

    const newer = messages.text(waId, 'hello again', new Date());
    expect((await json<Summary>(await postWebhook(t.url, single(tenant.phoneNumberId, waId, newer)))).received.stored).toBe(1);
    expect((await subjectDocuments(t.services, tenant.tenantId, waId)).map((d) => d.type).sort()).toEqual(['contact', 'message']);
    expect(t.services.telemetry.events).toContainEqual({ name: 'subject.reengaged', dimensions: { tenantId: tenant.tenantId } });
    const events = await audit().query(tenant.tenantId as TenantId, new Date(0), new Date(Date.now() + 60_000), { type: 'subject.reengaged' });
    expect(events).toEqual([expect.objectContaining({ subjectHash, actor: 'system' })]);
    // A second message from the re-engaged subject is not a second re-engagement.
    await postWebhook(t.url, single(tenant.phoneNumberId, waId, messages.text(waId, 'and again')));
    expect(await audit().query(tenant.tenantId as TenantId, new Date(0), new Date(Date.now() + 60_000), { type: 'subject.reengaged' })).toHaveLength(1);
  });
});

describe('opt-out', () => {
  it('STOP suppresses (keyed hash, audited, content no longer kept); START lifts it; an older STOP delivered late does not win', async () => {
    const tenant = await createTenant(t, { messageStorage: 'encrypted' });
    const waId = newWaId();
    const subjectHash = await subjectHashOf(t.services, tenant.tenantId, waId);
    const t0 = Date.now() - 60_000;
    await postWebhook(t.url, single(tenant.phoneNumberId, waId, messages.text(waId, '  stop ', new Date(t0))));
    const suppression = await markers().get('suppression', tenant.tenantId, subjectHash);
    expect(suppression).toMatchObject({ kind: 'suppression', key: subjectHash, ttl: -1 });
    expect(JSON.stringify(suppression)).not.toContain(waId);
    let contact = (await subjectDocuments(t.services, tenant.tenantId, waId)).find((d) => d.type === 'contact');
    expect(contact?.optIn).toBe('opted_out');

    await postWebhook(t.url, single(tenant.phoneNumberId, waId, messages.text(waId, 'do not keep this', new Date(t0 + 1000))));
    expect((await subjectDocuments(t.services, tenant.tenantId, waId)).filter((d) => d.type === 'message')).toEqual([]);

    await postWebhook(t.url, single(tenant.phoneNumberId, waId, messages.text(waId, 'Start', new Date(t0 + 3000))));
    expect(await markers().get('suppression', tenant.tenantId, subjectHash)).toBeUndefined();
    contact = (await subjectDocuments(t.services, tenant.tenantId, waId)).find((d) => d.type === 'contact');
    expect(contact?.optIn).toBe('opted_in');

    // A STOP sent before the START but delivered after it changes nothing.
    await postWebhook(t.url, single(tenant.phoneNumberId, waId, messages.text(waId, 'UNSUBSCRIBE', new Date(t0 + 2000))));
    expect(await markers().get('suppression', tenant.tenantId, subjectHash)).toBeUndefined();
    expect((await subjectDocuments(t.services, tenant.tenantId, waId)).find((d) => d.type === 'contact')?.optIn).toBe('opted_in');

    const types = (await audit().query(tenant.tenantId as TenantId, new Date(0), new Date(Date.now() + 60_000))).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['subject.opted-out', 'subject.opted-in']));
    expect(types.filter((x) => x === 'subject.opted-out')).toHaveLength(1);
  });

  it('suppression survives erasure: a returning subject starts opted out', async () => {
    const tenant = await createTenant(t, { messageStorage: 'encrypted' });
    const waId = newWaId();
    const subjectHash = await subjectHashOf(t.services, tenant.tenantId, waId);
    await markers().put('suppression', tenant.tenantId, subjectHash, { ttlSeconds: -1 });
    await postWebhook(t.url, single(tenant.phoneNumberId, waId, messages.text(waId, 'hi')));
    const docs = await subjectDocuments(t.services, tenant.tenantId, waId);
    expect(docs.find((d) => d.type === 'contact')?.optIn).toBe('opted_out');
    expect(docs.filter((d) => d.type === 'message')).toEqual([]);
  });

  it('a restricted subject (Art. 18) keeps its contact but no new content is stored or synced', async () => {
    const tenant = await createTenant(t, { messageStorage: 'hubspot' });
    const waId = newWaId();
    await postWebhook(t.url, single(tenant.phoneNumberId, waId, messages.text(waId, 'first')));
    const pk = pkOfWaId(tenant.tenantId, waId);
    const { resource } = await t.services.cosmos.subjects.item('contact', pk).read<Record<string, unknown>>();
    await t.services.cosmos.subjects.items.upsert({ ...resource, restricted: true });
    const before = queue.sentTo('hubspot-sync', tenant.tenantId).length;
    await postWebhook(t.url, single(tenant.phoneNumberId, waId, messages.text(waId, 'second')));
    expect((await subjectDocuments(t.services, tenant.tenantId, waId)).filter((d) => d.type === 'message')).toHaveLength(1);
    expect(queue.sentTo('hubspot-sync', tenant.tenantId).length).toBe(before);
  });
});

describe('flow completions asking for a data right', () => {
  it('a flow asking for erasure creates the privacy request through the same use case as the admin API', async () => {
    const tenant = await createTenant(t, { messageStorage: 'none' });
    const waId = newWaId();
    const flow = messages.flowCompletion(waId, { action: 'data_deletion_request', scope: 'all', flow_token: 'compliance_prod_001', screen: 'PRIVACY_CENTRE' });
    queue.hold('privacy-requests'); // the erasure stays open while the double tap arrives
    const response = await postWebhook(t.url, single(tenant.phoneNumberId, waId, flow));
    expect(response.status).toBe(200);
    const { received } = await json<{ received: { privacyRequests: number; privacyRequestIds: string[] } }>(response);
    expect(received.privacyRequests).toBe(1);
    const request = await getPrivacyRequest(rootOf(t.services).privacy, received.privacyRequestIds[0]!);
    expect(request).toMatchObject({ tenantId: tenant.tenantId, type: 'erasure', scope: 'all', channel: 'flow', screen: 'PRIVACY_CENTRE' });
    expect(['received', 'in_progress', 'verifying', 'completed']).toContain(request!.status);
    // A double tap (Meta redelivers the same completion, or the person submits again) does not start a second erasure.
    const again = messages.flowCompletion(waId, { action: 'data_deletion_request', scope: 'all' });
    const second = await json<{ received: { privacyRequestIds: string[] } }>(await postWebhook(t.url, single(tenant.phoneNumberId, waId, again)));
    expect(second.received.privacyRequestIds).toEqual(received.privacyRequestIds);
    await queue.release('privacy-requests');
    expect((await eventually(async () => {
      const done = await getPrivacyRequest(rootOf(t.services).privacy, received.privacyRequestIds[0]!);
      return done?.status === 'completed' ? done : undefined;
    }))?.status).toBe('completed');
    expect((await subjectDocuments(t.services, tenant.tenantId, waId)).filter((d) => d.type === 'flowResponse')).toEqual([]);
  });
});
