import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WaId } from '../../shared/domain';
import { toE164 } from '../../shared/domain';
import { change, delivery, messages, newMediaId, newWaId, single, wamid } from '../fixtures/whatsapp/payloads';
import { phoneNeedles, sweepForPii } from '../support/piiSweep';
import { eventually } from '../support/testServices';
import { everyCosmosDocument, postWebhook, subjectDocuments, subjectHashOf, telemetryText } from '../whatsapp/support';
import { postRequest, waitForStatus } from '../privacy/support';
import { channelMessages, createHubSpotTenant, startHubSpotWorld, syncIdle, waitForChannel, type HubSpotTenant, type HubSpotWorld } from './support';

let world: HubSpotWorld;
beforeAll(async () => {
  world = await startHubSpotWorld();
});
afterAll(async () => {
  await world?.close();
});

function tagged(): string {
  return randomBytes(3).toString('hex');
}

async function post(tenant: HubSpotTenant, waId: string, message: Record<string, unknown>, name = 'Jo Bloggs'): Promise<void> {
  const response = await postWebhook(world.t.url, single(tenant.phoneNumberId, waId, message, name));
  if (response.status !== 200) throw new Error(`webhook answered ${response.status}: ${await response.text()}`);
}

/** Everything the HubSpot fake holds beyond contacts: conversation messages and threads. */
function conversationsText(): string {
  return JSON.stringify([...world.hubspot.conversationMessages.values(), ...world.hubspot.threads.values()]);
}

describe('hubspot mode: each message is published to the tenant custom channel, then forgotten', () => {
  it('a conversation lands in HubSpot under one new contact and one thread, and no message text stays in Cosmos, queues, logs or telemetry', async () => {
    const tenant = await createHubSpotTenant(world, { messageStorage: 'hubspot' });
    const waId = newWaId();
    const tag = tagged();
    const name = `Morwenna Trevithick-${tag}`;
    const texts = { first: `Is flat 4B still available ${tag}`, reply: `Could I view it on Thursday ${tag}`, caption: `photo of the damp wall ${tag}`, button: `Yes please ${tag}` };
    const mediaId = newMediaId();
    const { webhookSha256 } = world.graph.addMedia(mediaId, { bytes: randomBytes(512), mimeType: 'image/jpeg' });
    const sent = [
      messages.text(waId, texts.first),
      messages.reply(waId, texts.reply, wamid('447700900000')),
      messages.image(waId, { id: mediaId, sha256: webhookSha256 }, texts.caption),
      messages.location(waId),
      messages.buttonReply(waId, texts.button),
    ];
    for (const message of sent) await post(tenant, waId, message, name);

    const published = await waitForChannel(world, tenant, sent.length);
    expect(published.map((m) => m.text).sort()).toEqual(
      [texts.first, texts.reply, `[image] ${texts.caption}`, '[location] 10 Downing Street, Westminster, London SW1A 2AA (51.5033635, -0.1276248)', texts.button].sort(),
    );
    expect(published.map((m) => m.integrationIdempotencyId).sort()).toEqual(sent.map((m) => m.id).sort());
    const [contact, ...others] = [...world.hubspot.contacts.values()].filter((c) => c.properties.phone === toE164(waId as WaId));
    expect(others).toEqual([]);
    expect(contact!.properties).toMatchObject({ phone: `+${waId}`, firstname: 'Morwenna', lastname: `Trevithick-${tag}` });
    for (const m of published) {
      expect(m).toMatchObject({
        direction: 'INCOMING',
        channelAccountId: tenant.channelAccountId,
        contactId: contact!.id,
        senders: [{ deliveryIdentifier: { type: 'HS_PHONE_NUMBER', value: `+${waId}` }, name }],
        recipients: [{ deliveryIdentifier: { type: 'CHANNEL_SPECIFIC_OPAQUE_ID', value: tenant.channelAccountId }, name: 'Acme Lettings' }],
      });
    }
    expect(new Set(published.map((m) => m.threadId)).size).toBe(1);
    // One look-up for the whole conversation: the contact is cached by keyed hash after the first.
    const token = world.hubspot.requests.filter((r) => r.token === tenant.token);
    expect(token.filter((r) => r.path.endsWith('/search')).length).toBe(1);
    expect(token.filter((r) => r.method === 'POST' && r.path === '/crm/v3/objects/contacts')).toHaveLength(1);

    // Nothing of the content is kept once HubSpot confirmed.
    const docs = await subjectDocuments(world.t.services, tenant.tenantId, waId);
    expect(docs.filter((d) => d.type === 'message')).toEqual([]);
    expect(docs.map((d) => d.type).sort()).toEqual(['contact', 'mediaRef']);
    await syncIdle(world);
    const needles = Object.values(texts);
    expect(
      await sweepForPii(needles, { cosmos: world.t.services.cosmos.subjects.database, queue: world.queue, logs: world.t.logs, telemetry: world.t.services.telemetry }),
    ).toEqual([]);
    const all = await everyCosmosDocument(world.t.services);
    for (const text of [...needles, 'Downing Street']) expect(all).not.toContain(text);
    expect(world.t.logs.join('\n')).toMatch(/hubspot sync published/);
    expect(world.t.services.telemetry.metrics.filter((m) => m.name === 'hubspot.sync' && m.dimensions.tenantId === tenant.tenantId).map((m) => m.dimensions.outcome)).toEqual(
      Array(sent.length).fill('published'),
    );
  });

  it('a tenant in hubspot mode without a custom channel dead-letters the sync with a reason and keeps the content encrypted, pending, with its TTL', async () => {
    const tenant = await createHubSpotTenant(world, { messageStorage: 'hubspot', channel: false, retention: { messageDays: 7 } });
    const waId = newWaId();
    await post(tenant, waId, messages.text(waId, `no channel yet ${tagged()}`));
    const dead = await eventually(async () => (await world.queue.peekDeadLetters('hubspot-sync', 1000)).find((d) => (d.body as { tenantId?: string }).tenantId === tenant.tenantId));
    // Every delivery fails the same way (HubSpotNotConfigured, logged and counted); the host's settlement dead-letters it after the max delivery count.
    expect(dead).toMatchObject({ reason: 'MaxDeliveryCountExceeded', deliveryCount: 10 });
    expect(world.t.services.telemetry.metrics).toContainEqual({ name: 'hubspot.sync', value: 1, dimensions: { tenantId: tenant.tenantId, outcome: 'dead-lettered', reason: 'HubSpotNotConfigured' } });
    expect(JSON.stringify(dead)).not.toContain(waId);
    const [pending] = (await subjectDocuments(world.t.services, tenant.tenantId, waId)).filter((d) => d.type === 'message');
    expect(pending).toMatchObject({ syncState: 'pending', ttl: 7 * 86_400 });
    expect(channelMessages(world, tenant)).toEqual([]);
  });
});

describe('erasure of a subject whose messages were published', () => {
  it('leaves nothing in HubSpot: the thread is archived and the contact, with its messages, GDPR-deleted; a late webhook or sync does not bring them back', async () => {
    const { t, hubspot } = world;
    const tenant = await createHubSpotTenant(world, { messageStorage: 'hubspot' });
    const waId = newWaId();
    const tag = tagged();
    const name = `Ysolde Penhaligon-${tag}`;
    const texts = [`my deposit reference is ${tag}`, `please call after six ${tag}`];
    const first = messages.text(waId, texts[0]!, new Date(Date.now() - 30_000));
    await post(tenant, waId, first, name);
    await post(tenant, waId, messages.text(waId, texts[1]!), name);
    const published = await waitForChannel(world, tenant, 2);
    // Attached to the contact through preResolvedContacts (no legacy associateWithContactId).
    const contactId = published[0]!.contactId!;
    expect(hubspot.messagesOfContact(contactId)).toHaveLength(2);
    const threadId = published[0]!.threadId;
    for (const r of hubspot.requests.filter((x) => x.token === tenant.token && x.path.endsWith('/messages') && x.method === 'POST')) {
      expect(r.body).toMatchObject({ preResolvedContacts: { contacts: [{ contactVid: Number(contactId), contactPropertiesLeadingToMatch: ['phone'] }] }, attachments: [], text: expect.any(String) });
      expect(r.body).not.toHaveProperty('associateWithContactId');
    }

    const response = await postRequest(t, { tenantId: tenant.tenantId, type: 'erasure', subject: { waId: `+${waId}` } });
    expect(response.status).toBe(202);
    const done = await waitForStatus(t, ((await response.json()) as { id: string }).id, ['completed', 'failed']);
    expect(done.status).toBe('completed');
    // One contact and one thread, both found from what Flowkeeper recorded.
    expect(done.tasks.find((x) => x.store === 'hubspot')).toMatchObject({ status: 'done', counts: { found: 2, deleted: 2 } });
    const archive = hubspot.requests.find((r) => r.method === 'DELETE' && r.path === `/conversations/v3/conversations/threads/${threadId}`);
    const gdpr = hubspot.requests.find((r) => r.path.endsWith('/gdpr-delete') && (r.body as { objectId?: string }).objectId === contactId);
    expect(archive?.status).toBe(204);
    expect(gdpr?.status).toBe(204);
    expect(archive!.at!).toBeLessThanOrEqual(gdpr!.at!);
    expect(hubspot.gdprDeleted).toContain(contactId);
    expect(hubspot.messagesOfContact(contactId)).toEqual([]);
    expect(channelMessages(world, tenant)).toEqual([]);
    expect([...hubspot.threads.values()].filter((x) => x.contactId === contactId)).toEqual([]);

    // Meta redelivers the first message (older than the erasure) and its sync message comes again.
    expect((await postWebhook(t.url, single(tenant.phoneNumberId, waId, first, name))).status).toBe(200);
    const subjectHash = await subjectHashOf(t.services, tenant.tenantId, waId);
    const stale = world.queue.sentTo('hubspot-sync', tenant.tenantId)[0]!;
    await world.queue.send('hubspot-sync', { messageId: `${stale.messageId}:late`, body: { ...(stale.body as object), subjectHash } });
    await syncIdle(world);

    const needles = [...phoneNeedles(waId), name, ...texts];
    const hits = await sweepForPii(needles, { cosmos: t.services.cosmos.subjects.database, queue: world.queue, hubspot, logs: t.logs, telemetry: t.services.telemetry });
    expect(hits).toEqual([]);
    const held = conversationsText().toLowerCase();
    for (const needle of needles) expect(held).not.toContain(needle.toLowerCase());
    expect(await subjectDocuments(t.services, tenant.tenantId, waId)).toEqual([]);
  });
});

describe('rate limits', () => {
  it('a burst of 200 messages under a limit of 100 requests per window all arrive in HubSpot, none twice', async () => {
    const { hubspot } = world;
    // HubSpot's 100 per 10 s with the window shortened to 2.5 s: the same rolling-window semantics, four
    // times faster, and still shorter than the webhook takes to ingest the burst (so the demand exceeds it).
    const windowMs = 2500;
    hubspot.requestsPerTenSeconds = 100;
    hubspot.rateLimitWindowMs = windowMs;
    try {
      const tenant = await createHubSpotTenant(world, { messageStorage: 'hubspot' });
      const waIds = new Set<string>();
      while (waIds.size < 20) waIds.add(newWaId());
      const subjects = [...waIds].map((waId) => ({ waId, name: `Subject ${tagged()}` }));
      // Ten deliveries at once, each with two subjects' ten messages.
      const deliveries = Array.from({ length: 10 }, (_, d) => {
        const pair = subjects.slice(2 * d, 2 * d + 2);
        return { contacts: pair, messages: pair.flatMap((s) => Array.from({ length: 10 }, (_, i) => messages.text(s.waId, `message ${i} ${tagged()}`, new Date(Date.now() - (10 - i) * 1000)))) };
      });
      const started = Date.now();
      const answers = await Promise.all(deliveries.map((d) => postWebhook(world.t.url, delivery([change({ phoneNumberId: tenant.phoneNumberId, ...d })]))));
      expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
      const ingestedMs = Date.now() - started;
      const rounds = deliveries.map((d) => d.messages);

      const published = await waitForChannel(world, tenant, 200, 60_000);
      const elapsedMs = Date.now() - started;
      const ids = published.map((m) => m.integrationIdempotencyId);
      expect(ids).toHaveLength(200);
      expect(new Set(ids)).toEqual(new Set(rounds.flat().map((m) => m.id)));
      expect(hubspot.republished.filter((id) => ids.includes(id))).toEqual([]);
      // One contact per subject, created once each.
      const phones = new Set(subjects.map((s) => `+${s.waId}`));
      expect([...hubspot.contacts.values()].filter((c) => phones.has(c.properties.phone ?? ''))).toHaveLength(20);
      for (const s of subjects) expect((await subjectDocuments(world.t.services, tenant.tenantId, s.waId)).filter((d) => d.type === 'message')).toEqual([]);

      const calls = hubspot.requests.filter((r) => r.token === tenant.token);
      const limited = calls.filter((r) => r.status === 429).length;
      // The demand was above the limit (the busiest window was full) and the pacing kept it there: at most
      // 100 accepted in any window (searches have their own limit), a handful of 429s at most (HubSpot
      // counts arrivals, we count departures).
      const busiest = hubspot.maxAcceptedInWindow(tenant.token, windowMs);
      expect(busiest).toBeGreaterThanOrEqual(90);
      expect(busiest).toBeLessThanOrEqual(100);
      expect(limited).toBeLessThanOrEqual(5);
      expect(elapsedMs).toBeGreaterThanOrEqual(Math.floor(calls.length / 100) * windowMs);
      console.log(JSON.stringify({ burst: 200, limitPerWindow: 100, windowMs, ingestedMs, elapsedMs, hubspotCalls: calls.length, searches: calls.filter((r) => r.path.endsWith('/search')).length, creates: calls.filter((r) => r.method === 'POST' && r.path === '/crm/v3/objects/contacts').length, busiestWindow: busiest, answered429: limited }));
    } finally {
      hubspot.requestsPerTenSeconds = 0;
      hubspot.rateLimitWindowMs = 10_000;
    }
  }, 90_000);

  it('when another integration of the same app uses up the window, the 429s are honoured (short ones waited out in place, longer ones by rescheduling) and every message still arrives once', async () => {
    const { hubspot } = world;
    hubspot.requestsPerTenSeconds = 100;
    hubspot.rateLimitWindowMs = 1000;
    try {
      const tenant = await createHubSpotTenant(world, { messageStorage: 'hubspot' });
      // The other integration: 100 calls with the same token right now.
      await Promise.all(Array.from({ length: 100 }, () => fetch(`${hubspot.url}/crm/v3/objects/contacts/1`, { headers: { authorization: `Bearer ${tenant.token}` } })));
      const waId = newWaId();
      const batch = Array.from({ length: 30 }, (_, i) => messages.text(waId, `message ${i} ${tagged()}`));
      expect((await postWebhook(world.t.url, delivery([change({ phoneNumberId: tenant.phoneNumberId, contacts: [{ waId, name: 'Jo Bloggs' }], messages: batch })]))).status).toBe(200);

      const published = await waitForChannel(world, tenant, 30, 30_000);
      expect(new Set(published.map((m) => m.integrationIdempotencyId))).toEqual(new Set(batch.map((m) => m.id)));
      expect(published).toHaveLength(30);
      // The other integration's calls show in Remaining: the client holds back instead of meeting 429 after 429.
      expect(hubspot.requests.filter((r) => r.token === tenant.token && r.status === 429).length).toBeLessThanOrEqual(5);
      expect(hubspot.maxAcceptedInWindow(tenant.token, 1000)).toBeLessThanOrEqual(100);
      const rescheduled = world.t.services.telemetry.metrics.filter((m) => m.name === 'hubspot.sync' && m.dimensions.tenantId === tenant.tenantId && m.dimensions.outcome === 'rescheduled');
      expect(rescheduled.every((m) => m.dimensions.reason === 'rate-limited:TEN_SECONDLY_ROLLING' || m.dimensions.reason === 'rate-limited')).toBe(true);
      // Each reschedule completed its message and sent a new one with a delay (no handler slept).
      const retries = world.queue.sentTo('hubspot-sync', tenant.tenantId).filter((m) => m.scheduledAt);
      expect(retries.length).toBe(rescheduled.length);
      expect((await world.queue.peekDeadLetters('hubspot-sync', 1000)).filter((d) => (d.body as { tenantId?: string }).tenantId === tenant.tenantId)).toEqual([]);
    } finally {
      hubspot.requestsPerTenSeconds = 0;
      hubspot.rateLimitWindowMs = 10_000;
    }
  }, 60_000);
});

describe('telemetry', () => {
  it('sync telemetry carries tenant ids, outcomes and reasons only', () => {
    const text = telemetryText(world.t.services);
    expect(text).toContain('hubspot.sync');
    for (const m of world.t.services.telemetry.metrics.filter((x) => x.name === 'hubspot.sync')) {
      expect(Object.keys(m.dimensions).sort()).toEqual(['outcome', 'reason', 'tenantId']);
    }
  });
});
