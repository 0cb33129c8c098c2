import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encryptText, hashSubject, keyringFrom } from '../../shared/crypto';
import { type SubjectHash, type TenantId, type WaId } from '../../shared/domain';
import { HubSpotConversations, syncMessageToHubSpot, type HubSpotObjectRegistry, type HubSpotSyncDeps } from '../../shared/hubspot';
import { readStoredMessages, recordOutboundMessage } from '../../shared/messages';
import { DeadLetterError } from '../../shared/queue';
import { hubspotTokenSecret } from '../../shared/secrets';
import { lifetime, type MessageDocument } from '../../shared/subjects';
import { type StoredContact } from '../../shared/subjects';
import { tenantInputSchema, ttlSeconds, type Tenant } from '../../shared/tenants';
import { startHubSpotFake, type HubSpotFake } from '../fakes/hubspot';
import { newWaId, wamid } from '../fixtures/whatsapp/payloads';
import { testServices, uniqueTenantId, type TestServices } from '../support/testServices';
import { buildHubSpotSyncDeps, rootOf } from '../../shared/runtime';
import { CosmosHubSpotObjectRegistry, CosmosMessageStore, CosmosSubjectRepository } from '../../shared/cosmos';
import { ManualClock } from '../doubles';
import { pkOfWaId } from '../support/subjects';

const clock = new ManualClock(new Date());
let s: TestServices;
let fake: HubSpotFake;
beforeAll(async () => {
  fake = await startHubSpotFake();
  s = await testServices({ HUBSPOT_API_BASE_URL: fake.url, SECRET_CACHE_SECONDS: '0' }, { clock });
});
afterAll(async () => {
  await s?.close();
  await fake?.close();
});

interface World {
  tenant: Tenant;
  token: string;
  channelId: string;
  channelAccountId: string;
  deps: HubSpotSyncDeps;
}

async function world(config: { messageStorage?: 'none' | 'hubspot' | 'encrypted'; channel?: boolean } = {}, overrides: Partial<HubSpotSyncDeps> = {}): Promise<World> {
  const tenantId = uniqueTenantId('sy') as TenantId;
  const token = `pat-eu1-${randomBytes(8).toString('hex')}`;
  const channelId = String(2000 + Math.floor(Math.random() * 7000));
  const channelAccountId = `acct-${randomBytes(4).toString('hex')}`;
  s.env[hubspotTokenSecret(tenantId)] = token;
  fake.addCustomChannel(channelId, channelAccountId);
  const { tenant } = await rootOf(s).tenants.put(
    tenantId,
    tenantInputSchema.parse({
      name: 'Acme Lettings',
      phoneNumberIds: [String(Date.now()).slice(-12)],
      messageStorage: config.messageStorage ?? 'hubspot',
      hubspot: { enabled: true, ...(config.channel === false ? {} : { customChannelId: channelId, channelAccountId }) },
    }),
  );
  return { tenant, token, channelId, channelAccountId, deps: buildHubSpotSyncDeps(s, { random: () => 0, ...overrides }) };
}

async function setMode(w: World, messageStorage: 'none' | 'hubspot' | 'encrypted'): Promise<void> {
  const { id: _id, createdAt: _c, updatedAt: _u, cancelledAt: _x, ...input } = w.tenant;
  await rootOf(s).tenants.put(w.tenant.id, { ...input, messageStorage });
}

async function contactDoc(w: World, waId: string, change: Partial<StoredContact> = {}): Promise<void> {
  const now = clock.now().toISOString();
  await new CosmosSubjectRepository(s.cosmos.subjects).upsert({
    id: 'contact',
    pk: pkOfWaId(w.tenant.id, waId),
    tenantId: w.tenant.id,
    type: 'contact',
    waId,
    profileName: 'Jo Bloggs',
    optIn: 'unknown',
    restricted: false,
    firstSeenAt: now,
    lastSeenAt: now,
    createdAt: now,
    ...lifetime(clock.now(), 86_400),
    ...change,
  } as StoredContact);
}

/** A pending message document and its sync message body, exactly as the webhook writes them. */
async function pending(w: World, waId: string, text: string, options: { sentAt?: Date } = {}): Promise<{ doc: MessageDocument; body: { tenantId: string; subjectHash: string; messageDocId: string } }> {
  const keyring = keyringFrom(s.env.DATA_ENCRYPTION_KEY!);
  const id = `msg-${randomBytes(20).toString('hex')}`;
  const now = clock.now();
  const doc: MessageDocument = {
    id,
    pk: pkOfWaId(w.tenant.id, waId),
    tenantId: w.tenant.id,
    type: 'message',
    messageId: wamid(waId),
    direction: 'inbound',
    messageType: 'text',
    ciphertext: encryptText(keyring, JSON.stringify({ type: 'text', text: { body: text } }), id),
    keyId: keyring.current.id,
    sentAt: (options.sentAt ?? now).toISOString(),
    createdAt: now.toISOString(),
    ...lifetime(now, ttlSeconds(30)),
    syncState: 'pending',
  };
  await new CosmosMessageStore(s.cosmos.subjects).upsert(doc);
  // The webhook writes the contact before the content: it names the identifier the sync addresses.
  const now2 = now.toISOString();
  await new CosmosSubjectRepository(s.cosmos.subjects).createIfAbsent({
    id: 'contact', pk: doc.pk, tenantId: w.tenant.id, type: 'contact', waId, optIn: 'unknown', restricted: false, firstSeenAt: now2, lastSeenAt: now2, createdAt: now2, ...lifetime(now, 86_400),
  } as StoredContact);
  return { doc, body: { tenantId: w.tenant.id, subjectHash: await hashSubject(s.secrets, w.tenant.id, waId as WaId), messageDocId: id } };
}

async function messageDocs(w: World, waId: string): Promise<MessageDocument[]> {
  return new CosmosMessageStore(s.cosmos.subjects).listForSubject(w.tenant.id, [pkOfWaId(w.tenant.id, waId)]);
}

function calls(w: World): number {
  return fake.requests.filter((r) => r.token === w.token).length;
}

async function deadLetterOf(promise: Promise<unknown>): Promise<DeadLetterError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DeadLetterError) return error;
    throw error;
  }
  throw new Error('expected a DeadLetterError');
}

describe('the hubspot-sync use case', () => {
  it('publishes, deletes the document, and answers "gone" to a redelivery; unknown tenants and bad messages are handled', async () => {
    const w = await world();
    const waId = newWaId();
    await contactDoc(w, waId);
    const { doc, body } = await pending(w, waId, 'hello there');
    expect(await syncMessageToHubSpot(w.deps, body)).toBe('published');
    expect(await messageDocs(w, waId)).toEqual([]);
    const [published] = [...fake.conversationMessages.values()].filter((m) => m.channelId === w.channelId);
    expect(published).toMatchObject({ text: 'hello there', integrationIdempotencyId: doc.messageId, timestamp: doc.sentAt, direction: 'INCOMING' });
    expect(await syncMessageToHubSpot(w.deps, body)).toBe('gone');
    expect(await syncMessageToHubSpot(w.deps, { ...body, tenantId: 'no-such-tenant' })).toBe('tenant-gone');
    expect(await deadLetterOf(syncMessageToHubSpot(w.deps, { tenantId: w.tenant.id, phone: waId }))).toMatchObject({ reason: 'InvalidMessage' });
    const other = await pending(w, newWaId(), 'not yours');
    expect(await deadLetterOf(syncMessageToHubSpot(w.deps, { ...other.body, subjectHash: body.subjectHash }))).toMatchObject({ reason: 'SubjectMismatch' });
  });

  it('a message HubSpot confirmed but whose delete failed is published again with the same idempotency id: HubSpot keeps one', async () => {
    const w = await world();
    const waId = newWaId();
    const { doc, body } = await pending(w, waId, 'only once please');
    const store = new CosmosMessageStore(s.cosmos.subjects);
    let failDelete = true;
    const messages = Object.assign(Object.create(store) as CosmosMessageStore, {
      delete: async (d: Pick<MessageDocument, 'id' | 'pk'>) => {
        if (failDelete) {
          failDelete = false;
          throw Object.assign(new Error('service unavailable'), { code: 503 });
        }
        return store.delete(d);
      },
    });
    const deps = { ...w.deps, messages };
    await expect(syncMessageToHubSpot(deps, body)).rejects.toThrow('service unavailable');
    expect(await syncMessageToHubSpot(deps, body)).toBe('published');
    expect([...fake.conversationMessages.values()].filter((m) => m.integrationIdempotencyId === doc.messageId)).toHaveLength(1);
    expect(fake.republished).toContain(doc.messageId);
    expect(await messageDocs(w, waId)).toEqual([]);
  });

  it('5xx: completes and reschedules with exponential backoff; 429: after Retry-After, counted apart; too many failures dead-letter and keep the content pending', async () => {
    const w = await world();
    const waId = newWaId();
    const { body } = await pending(w, waId, 'try again later');
    const before = (await s.queue.peekMessages('hubspot-sync')).length;
    fake.failNext(1, 503);
    expect(await syncMessageToHubSpot(w.deps, body)).toBe('rescheduled');
    fake.rateLimitNext(1, 3);
    expect(await syncMessageToHubSpot(w.deps, { ...body, attempt: 1 })).toBe('rescheduled');
    const sent = (await s.queue.peekMessages('hubspot-sync')).slice(before);
    expect(sent.map((m) => [m.messageId, m.body])).toEqual([
      [`${body.messageDocId}:retry1`, { ...body, attempt: 1, rateLimited: 0 }],
      [`${body.messageDocId}:retry2`, { ...body, attempt: 1, rateLimited: 1 }],
    ]);
    expect(s.telemetry.metrics.filter((m) => m.name === 'hubspot.sync' && m.dimensions.tenantId === w.tenant.id).map((m) => m.dimensions.reason)).toEqual(['http-503', 'rate-limited:TEN_SECONDLY_ROLLING']);

    fake.failNext(1, 502);
    const dead = await deadLetterOf(syncMessageToHubSpot(w.deps, { ...body, attempt: 9 }));
    expect(dead.reason).toBe('HubSpotUnavailable');
    expect(dead.description).toMatch(/^HubSpot answered 502 on (contact search|custom channel publish) \(gave up after 10 failures/);
    expect((await messageDocs(w, waId)).map((d) => d.syncState)).toEqual(['pending']);
  });

  it('the backoff is scheduled, not slept: 2 s after the first failure, Retry-After after a 429', async () => {
    const w = await world();
    const { body } = await pending(w, newWaId(), 'scheduled');
    const sendTimes: { scheduledAt?: Date }[] = [];
    const deps = { ...w.deps, queue: { send: async (_q: string, m: unknown) => void sendTimes.push(m as { scheduledAt?: Date }) } };
    fake.failNext(1, 500);
    const started = Date.now();
    await syncMessageToHubSpot(deps, body);
    fake.rateLimitNext(1, 7);
    await syncMessageToHubSpot(deps, body);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(sendTimes.map((m) => m.scheduledAt!.getTime() - clock.now().getTime())).toEqual([2000, 7000]);
  });

  it('an erased subject (tombstone after the message) is never synced: the content is deleted and no contact is created', async () => {
    const w = await world();
    const waId = newWaId();
    const { body } = await pending(w, waId, 'before the erasure', { sentAt: new Date(clock.now().getTime() - 60_000) });
    await rootOf(s).markers.put('tombstone', w.tenant.id, body.subjectHash, { ttlSeconds: -1, data: { erasedAt: clock.now().toISOString() } });
    expect(await syncMessageToHubSpot(w.deps, body)).toBe('erased');
    expect(await messageDocs(w, waId)).toEqual([]);
    expect(calls(w)).toBe(0);

    // A newer message is a new relationship: published, under a contact looked up afresh.
    const { body: newer } = await pending(w, waId, 'after the erasure', { sentAt: new Date(clock.now().getTime() + 1000) });
    expect(await syncMessageToHubSpot(w.deps, newer)).toBe('published');
  });

  it('an opted-out subject is not synced (content deleted); a restricted one is held, encrypted, untouched', async () => {
    const w = await world();
    const out = newWaId();
    await contactDoc(w, out, { optIn: 'opted_out' });
    const { body: outBody } = await pending(w, out, 'stop');
    expect(await syncMessageToHubSpot(w.deps, outBody)).toBe('suppressed');
    expect(await messageDocs(w, out)).toEqual([]);

    const suppressed = newWaId();
    const { body: supBody } = await pending(w, suppressed, 'suppressed by objection');
    await rootOf(s).markers.put('suppression', w.tenant.id, supBody.subjectHash, { ttlSeconds: -1 });
    expect(await syncMessageToHubSpot(w.deps, supBody)).toBe('suppressed');

    const restricted = newWaId();
    await contactDoc(w, restricted, { restricted: true });
    const { body: resBody } = await pending(w, restricted, 'restricted');
    expect(await syncMessageToHubSpot(w.deps, resBody)).toBe('restricted');
    expect((await messageDocs(w, restricted)).map((d) => d.syncState)).toEqual(['pending']);
    expect(calls(w)).toBe(0);
  });

  it('the mode at processing time decides: encrypted keeps the content (same expiry), none deletes it, a stored message is left alone', async () => {
    const w = await world();
    const a = newWaId();
    const { doc, body } = await pending(w, a, 'keep me');
    await setMode(w, 'encrypted');
    clock.advance(3_600_000);
    try {
      expect(await syncMessageToHubSpot(w.deps, body)).toBe('kept-encrypted');
      const [kept] = await messageDocs(w, a);
      expect(kept!.syncState).toBeUndefined();
      expect(kept!.expiresAt).toBe(doc.expiresAt);
      expect(kept!.ttl).toBe(doc.ttl - 3600);
      expect(await syncMessageToHubSpot(w.deps, body)).toBe('already-stored');
      const read = await readStoredMessages({ messages: new CosmosMessageStore(s.cosmos.subjects), secrets: s.secrets }, w.tenant.id, a as WaId);
      expect(read).toMatchObject([{ state: 'stored', content: { type: 'text', text: { body: 'keep me' } } }]);

      const b = newWaId();
      const { body: dropBody } = await pending(w, b, 'drop me');
      await setMode(w, 'none');
      expect(await syncMessageToHubSpot(w.deps, dropBody)).toBe('dropped');
      expect(await messageDocs(w, b)).toEqual([]);
      expect(calls(w)).toBe(0);
    } finally {
      clock.advance(-3_600_000);
    }
  });

  it('a 409 from HubSpot is "already published"; a cached contact HubSpot no longer has is looked up again', async () => {
    const w = await world();
    const waId = newWaId();
    const { body } = await pending(w, waId, 'first');
    expect(await syncMessageToHubSpot(w.deps, body)).toBe('published');
    const [first] = [...fake.conversationMessages.values()].filter((m) => m.channelId === w.channelId);
    // Someone deleted the contact in HubSpot by hand: the cached id is refused, a new contact is made.
    fake.contacts.delete(first!.contactId!);
    const { body: second } = await pending(w, waId, 'second');
    expect(await syncMessageToHubSpot(w.deps, second)).toBe('published');
    const both = [...fake.conversationMessages.values()].filter((m) => m.channelId === w.channelId);
    expect(both).toHaveLength(2);
    expect(both[1]!.contactId).not.toBe(first!.contactId);
    expect(fake.contacts.has(both[1]!.contactId!)).toBe(true);

    fake.route('POST', `/conversations/v3/custom-channels/${w.channelId}/messages`, () => ({ status: 409, body: { status: 'error', message: 'duplicate', category: 'CONFLICT' } }));
    const { body: third } = await pending(w, waId, 'third');
    expect(await syncMessageToHubSpot(w.deps, third)).toBe('already-published');
    expect(await messageDocs(w, waId)).toEqual([]);
  });

  it('an erasure that runs while a message is being published: what was published is GDPR-deleted with the contact', async () => {
    const real = new HubSpotConversations(rootOf(s).hubspot);
    const w = await world();
    const waId = newWaId();
    await contactDoc(w, waId);
    const { doc, body } = await pending(w, waId, 'raced');
    const conversations = Object.assign(Object.create(real) as HubSpotConversations, {
      publish: async (...args: Parameters<HubSpotConversations['publish']>) => {
        const published = await real.publish(...args);
        // The Cosmos eraser ran meanwhile: the subject's partition is empty.
        await s.cosmos.subjects.item(doc.id, doc.pk).delete();
        await s.cosmos.subjects.item('contact', doc.pk).delete();
        return published;
      },
    });
    expect(await syncMessageToHubSpot({ ...w.deps, conversations }, body)).toBe('erased-during-sync');
    const contactId = fake.gdprDeleted.at(-1)!;
    expect(fake.messagesOfContact(contactId)).toEqual([]);
    expect([...fake.conversationMessages.values()].filter((m) => m.channelId === w.channelId)).toEqual([]);
    expect(s.telemetry.events).toContainEqual({ name: 'hubspot.sync.raced_erasure', dimensions: { tenantId: w.tenant.id } });
  });
});

describe('what the sync records of what it created or used in HubSpot', () => {
  const searches = (w: World) => fake.requests.filter((r) => r.token === w.token && r.path.endsWith('/search')).length;
  /** The sync of another process: its own contact cache and its own record adapter on the same Cosmos. */
  const otherProcess = (_w: World, overrides: Partial<HubSpotSyncDeps> = {}) => buildHubSpotSyncDeps(s, { random: () => 0, registry: new CosmosHubSpotObjectRegistry(s.cosmos.markers, clock), ...overrides });

  it('records the contact it creates and the thread its message lands in under the keyed hash, before the document goes; another process then needs no search', async () => {
    const w = await world();
    const waId = newWaId();
    await contactDoc(w, waId);
    const { body } = await pending(w, waId, 'first');
    expect(await syncMessageToHubSpot(w.deps, body)).toBe('published');
    const [published] = [...fake.conversationMessages.values()].filter((m) => m.channelId === w.channelId);
    const record = await rootOf(s).hubspotObjects.get(w.tenant.id, body.subjectHash as SubjectHash);
    expect(record).toEqual({
      contacts: [{ id: published!.contactId, origin: 'created', matchedBy: ['phone'], at: expect.any(String) }],
      threads: [{ id: published!.threadId, channelAccountId: w.channelAccountId, at: expect.any(String) }],
    });
    const before = searches(w);
    const { body: second } = await pending(w, waId, 'second');
    expect(await syncMessageToHubSpot(otherProcess(w), second)).toBe('published');
    expect(searches(w)).toBe(before);
    const both = [...fake.conversationMessages.values()].filter((m) => m.channelId === w.channelId);
    expect(both.map((m) => m.contactId)).toEqual([published!.contactId, published!.contactId]);
    expect(both.map((m) => m.threadId)).toEqual([published!.threadId, published!.threadId]);
  });

  it('uses a contact someone else made (found in hs_whatsapp_phone_number, national format) with the property that matched, and records it as found', async () => {
    const w = await world();
    const waId = newWaId();
    const theirs = fake.addContact({ hs_whatsapp_phone_number: `0${waId.slice(2, 6)} ${waId.slice(6)}`, firstname: 'Jo' });
    await contactDoc(w, waId);
    const { body } = await pending(w, waId, 'hello');
    expect(await syncMessageToHubSpot(w.deps, body)).toBe('published');
    const publish = fake.requests.filter((r) => r.token === w.token && r.method === 'POST' && r.path.endsWith('/messages')).at(-1)!;
    expect(publish.body).toMatchObject({ preResolvedContacts: { contacts: [{ contactVid: Number(theirs.id), contactPropertiesLeadingToMatch: ['hs_whatsapp_phone_number'] }] } });
    expect(fake.messagesOfContact(theirs.id)).toHaveLength(1);
    expect((await rootOf(s).hubspotObjects.get(w.tenant.id, body.subjectHash as SubjectHash))?.contacts).toEqual([{ id: theirs.id, origin: 'found', matchedBy: ['hs_whatsapp_phone_number'], at: expect.any(String) }]);
  });

  it('a recorded contact HubSpot no longer has (someone deleted it) is dropped from the record, the subject is looked up again, and the message is published once', async () => {
    const w = await world();
    const waId = newWaId();
    await contactDoc(w, waId);
    const { body } = await pending(w, waId, 'first');
    expect(await syncMessageToHubSpot(w.deps, body)).toBe('published');
    const gone = [...fake.conversationMessages.values()].find((m) => m.channelId === w.channelId)!.contactId!;
    fake.contacts.delete(gone);
    const { body: second, doc } = await pending(w, waId, 'second');
    expect(await syncMessageToHubSpot(otherProcess(w), second)).toBe('published');
    const record = await rootOf(s).hubspotObjects.get(w.tenant.id, body.subjectHash as SubjectHash);
    expect(record?.contacts.map((c) => c.id)).not.toContain(gone);
    expect(record?.contacts).toHaveLength(1);
    expect([...fake.conversationMessages.values()].filter((m) => m.integrationIdempotencyId === doc.messageId)).toHaveLength(1);
  });

  it('when the thread cannot be recorded the document stays pending, and the redelivery publishes idempotently and records it', async () => {
    const w = await world();
    const waId = newWaId();
    await contactDoc(w, waId);
    const real = rootOf(s).hubspotObjects;
    let fail = true;
    const registry: HubSpotObjectRegistry = Object.assign(Object.create(real) as HubSpotObjectRegistry, {
      recordThread: async (...args: Parameters<HubSpotObjectRegistry['recordThread']>) => {
        if (fail) {
          fail = false;
          throw Object.assign(new Error('service unavailable'), { code: 503 });
        }
        return real.recordThread(...args);
      },
    });
    const deps = { ...w.deps, registry };
    const { body, doc } = await pending(w, waId, 'keep me until recorded');
    await expect(syncMessageToHubSpot(deps, body)).rejects.toThrow('service unavailable');
    expect((await messageDocs(w, waId)).map((d) => d.id)).toEqual([doc.id]);
    expect(await syncMessageToHubSpot(deps, body)).toBe('published');
    expect(await messageDocs(w, waId)).toEqual([]);
    expect([...fake.conversationMessages.values()].filter((m) => m.integrationIdempotencyId === doc.messageId)).toHaveLength(1);
    expect((await real.get(w.tenant.id, body.subjectHash as SubjectHash))?.threads).toHaveLength(1);
  });
});

describe('messages Flowkeeper sends', () => {
  it('take the inbound path: hubspot mode publishes them as OUTGOING from the channel account to the phone number, then forgets them', async () => {
    const w = await world();
    const waId = newWaId();
    await contactDoc(w, waId);
    const outDeps = { secrets: s.secrets, messages: new CosmosMessageStore(s.cosmos.subjects), subjects: new CosmosSubjectRepository(s.cosmos.subjects), markers: rootOf(s).markers, queue: s.queue, clock };
    const messageId = wamid(waId);
    const before = (await s.queue.peekMessages('hubspot-sync')).length;
    expect(await recordOutboundMessage(outDeps, w.tenant, waId as WaId, { messageId, content: { type: 'text', text: { body: 'Your viewing is confirmed for Thursday' } }, sentAt: clock.now() })).toBe('queued');
    expect(await recordOutboundMessage(outDeps, w.tenant, waId as WaId, { messageId, content: { type: 'text', text: { body: 'Your viewing is confirmed for Thursday' } }, sentAt: clock.now() })).toBe('queued');
    const queued = (await s.queue.peekMessages('hubspot-sync')).slice(before);
    expect(queued).toHaveLength(1); // the second send was a duplicate by message id
    expect(JSON.stringify(queued)).not.toContain(waId);
    expect(await syncMessageToHubSpot(w.deps, queued[0]!.body)).toBe('published');
    const [published] = [...fake.conversationMessages.values()].filter((m) => m.channelId === w.channelId);
    expect(published).toMatchObject({
      direction: 'OUTGOING',
      text: 'Your viewing is confirmed for Thursday',
      integrationIdempotencyId: messageId,
      senders: [{ deliveryIdentifier: { type: 'CHANNEL_SPECIFIC_OPAQUE_ID', value: w.channelAccountId }, name: 'Acme Lettings' }],
      recipients: [{ deliveryIdentifier: { type: 'HS_PHONE_NUMBER', value: `+${waId}` } }],
    });
    expect(await messageDocs(w, waId)).toEqual([]);
  });

  it('encrypted mode stores them (readable as outbound); none keeps nothing; a subject erased at or after the send is not recorded (the erasure confirmation)', async () => {
    const w = await world({ messageStorage: 'encrypted' });
    const waId = newWaId();
    const outDeps = { secrets: s.secrets, messages: new CosmosMessageStore(s.cosmos.subjects), subjects: new CosmosSubjectRepository(s.cosmos.subjects), markers: rootOf(s).markers, queue: s.queue, clock };
    expect(await recordOutboundMessage(outDeps, w.tenant, waId as WaId, { messageId: wamid(waId), content: { type: 'text', text: { body: 'Thanks, noted' } }, sentAt: clock.now() })).toBe('stored');
    const read = await readStoredMessages({ messages: outDeps.messages, secrets: s.secrets }, w.tenant.id, waId as WaId);
    expect(read).toMatchObject([{ direction: 'outbound', state: 'stored', content: { text: { body: 'Thanks, noted' } } }]);

    const erased = newWaId();
    await rootOf(s).markers.put('tombstone', w.tenant.id, await hashSubject(s.secrets, w.tenant.id, erased as WaId) as SubjectHash, { ttlSeconds: -1, data: { erasedAt: clock.now().toISOString() } });
    expect(await recordOutboundMessage(outDeps, w.tenant, erased as WaId, { messageId: wamid(erased), content: { type: 'text', text: { body: 'your data has been erased' } }, sentAt: clock.now() })).toBe('skipped-erased');
    expect(await messageDocs(w, erased)).toEqual([]);

    const none = await world({ messageStorage: 'none' });
    expect(await recordOutboundMessage(outDeps, none.tenant, waId as WaId, { messageId: wamid(waId), content: { type: 'text', text: { body: 'x' } }, sentAt: clock.now() })).toBe('not-stored');
  });
});
