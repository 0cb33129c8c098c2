import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashSubject } from '../../shared/crypto';
import { type TenantId } from '../../shared/domain';
import { SettingsSecretProvider } from '../../shared/secrets';
import { tenantSchema, type Tenant } from '../../shared/tenants';
import { parseFlowCompletion, parseMessage, PROCESSING_LEASE_SECONDS, signBody, verifySignature } from '../../shared/whatsapp';
import { change, delivery, messages, newMediaId, newPhoneNumberId, newWaId, single, unixSeconds } from '../fixtures/whatsapp/payloads';
import { inMemoryWebhookWorld, ManualClock } from '../doubles';

const SECRET = 'unit-app-secret';

function tenantWith(messageStorage: Tenant['messageStorage']): Tenant {
  const now = new Date().toISOString();
  return tenantSchema.parse({ id: `u-${randomBytes(4).toString('hex')}`, name: 'Unit', phoneNumberIds: [newPhoneNumberId()], messageStorage, flowScreens: ['PRIVACY'], createdAt: now, updatedAt: now });
}

function world(messageStorage: Tenant['messageStorage'] = 'encrypted') {
  const clock = new ManualClock(new Date());
  const tenant = tenantWith(messageStorage);
  // Waiting for another delivery's lease: the manual clock moves on, and the other delivery gets its turn.
  const sleep = async (ms: number) => {
    clock.advance(ms);
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { tenant, ...inMemoryWebhookWorld({ tenant, clock, sleep, appSecret: SECRET }) };
}

describe('payload schemas', () => {
  const waId = '447700900123';
  const media = { id: '1234567890', sha256: 'abc=' };
  it('reads every message type Meta documents, and keeps only the fields it knows', () => {
    const all = [
      messages.text(waId, 'hi'),
      messages.image(waId, media, 'c'),
      messages.audio(waId, media),
      messages.video(waId, media),
      messages.document(waId, media, 'f.pdf'),
      messages.sticker(waId, media),
      messages.location(waId),
      messages.contacts(waId),
      messages.buttonReply(waId, 'Yes'),
      messages.listReply(waId, 'Slot'),
      messages.flowCompletion(waId, { a: 1 }),
      messages.button(waId, 'Confirm'),
      messages.reaction(waId, 'wamid.x'),
      messages.order(waId, 'note'),
      messages.system(waId),
      messages.unsupported(waId),
    ];
    expect(all.map((m) => parseMessage(m).type)).toEqual([
      'text', 'image', 'audio', 'video', 'document', 'sticker', 'location', 'contacts', 'interactive', 'interactive', 'interactive', 'button', 'reaction', 'order', 'system', 'unsupported',
    ]);
    const withExtras = parseMessage({ ...messages.text(waId, 'hi'), referral: { source_url: 'https://ad' }, surprise: true, text: { body: 'hi', extra: 1 } });
    expect(withExtras).toEqual(expect.objectContaining({ type: 'text', text: { body: 'hi' } }));
    expect(withExtras).not.toHaveProperty('surprise');
    expect(parseMessage({ ...messages.text(waId, 'old'), type: 'unknown' }).type).toBe('unsupported');
  });

  it('an unknown type is accepted and ignored; a known type in an unexpected shape is ignored, not fatal', () => {
    expect(parseMessage(messages.future(waId))).toEqual({ type: 'unknown', reportedType: 'hologram' });
    expect(parseMessage({ ...messages.text(waId, 'x'), text: 42 })).toEqual({ type: 'invalid', reportedType: 'text' });
    expect(parseMessage('nonsense')).toEqual({ type: 'unknown', reportedType: 'missing' });
  });

  it('a flow completion is parsed into answers, token and screen; a data request is recognised with its scope', () => {
    expect(parseFlowCompletion('{"flow_token":"t1","screen":"END","budget":"900"}')).toEqual({ ok: true, completion: { flowToken: 't1', screen: 'END', answers: { budget: '900' } } });
    const erase = parseFlowCompletion(JSON.stringify({ action: 'data_deletion_request', user_id: '1234567890', scope: 'all', flow_token: 'compliance_prod_001', timestamp: 1715602400 }));
    expect(erase).toMatchObject({ ok: true, completion: { dataRequest: { type: 'erasure', scope: 'all' } } });
    expect(parseFlowCompletion('{"action":"data_access_request"}')).toMatchObject({ ok: true, completion: { dataRequest: { type: 'access', scope: 'all' } } });
    expect(parseFlowCompletion('{"action":"data_deletion_request","scope":"media"}')).toMatchObject({ ok: true, completion: { dataRequest: { scope: 'media' } } });
    expect(parseFlowCompletion('{"action":"data_deletion_request","scope":"evrything"}')).toEqual({ ok: false, reason: 'unknown-scope', field: 'scope' });
    expect(parseFlowCompletion('{"action":"data_rectification_request"}')).toEqual({ ok: false, reason: 'incomplete-request' });
    expect(parseFlowCompletion('not json')).toEqual({ ok: false, reason: 'not-json' });
    expect(parseFlowCompletion('[1]')).toEqual({ ok: false, reason: 'not-an-object' });
  });
});

describe('signature', () => {
  it('accepts the current and the previous secret, in constant time, and says why it refuses', async () => {
    const body = Buffer.from('{"object":"whatsapp_business_account","entry":[]}');
    const secrets = new SettingsSecretProvider({ WHATSAPP_APP_SECRET: 'new', WHATSAPP_APP_SECRET_PREVIOUS: 'old' });
    expect(await verifySignature(secrets, body, signBody('new', body))).toEqual({ ok: true, secret: 'current' });
    expect(await verifySignature(secrets, body, signBody('old', body))).toEqual({ ok: true, secret: 'previous' });
    expect(await verifySignature(secrets, body, signBody('older', body))).toEqual({ ok: false, reason: 'mismatch' });
    expect(await verifySignature(secrets, body, null)).toEqual({ ok: false, reason: 'missing' });
    expect(await verifySignature(secrets, body, 'sha256=zz')).toEqual({ ok: false, reason: 'malformed' });
    expect(await verifySignature(new SettingsSecretProvider({ WHATSAPP_APP_SECRET: 'new' }), body, signBody('old', body))).toEqual({ ok: false, reason: 'mismatch' });
  });
});

describe('flow completions', () => {
  it('a flow asking for erasure creates the privacy request through the port and stores no answers', async () => {
    const w = world();
    const waId = newWaId();
    const result = await w.post(single(w.tenant.phoneNumberIds[0]!, waId, messages.flowCompletion(waId, { action: 'data_deletion_request', scope: 'all', flow_token: 'compliance_prod_001', screen: 'PRIVACY' })));
    expect(result).toMatchObject({ kind: 'accepted', summary: { privacyRequests: 1 } });
    expect(w.privacyCalls).toEqual([{ tenantId: w.tenant.id, subject: { kind: 'waId', value: waId }, type: 'erasure', scope: 'all', channel: 'flow', screen: 'PRIVACY' }]);
    expect(w.deps.subjects.all().map((d) => d.type)).toEqual(['contact']);
    expect(w.deps.telemetry.events).toContainEqual({ name: 'webhook.privacy_request', dimensions: { tenantId: w.tenant.id, type: 'erasure', scope: 'all', requestId: 'pr-1' } });
  });

  it('when the privacy module fails the delivery gets a retry, and the retry creates the request', async () => {
    const w = world();
    const waId = newWaId();
    const payload = single(w.tenant.phoneNumberIds[0]!, waId, messages.flowCompletion(waId, { action: 'data_access_request' }));
    const working = w.deps.requestPrivacy;
    w.deps.requestPrivacy = async () => {
      throw Object.assign(new Error('503'), { code: 503 });
    };
    expect(await w.post(payload)).toMatchObject({ kind: 'unavailable' });
    w.deps.requestPrivacy = working;
    expect(await w.post(payload)).toMatchObject({ kind: 'accepted', summary: { privacyRequests: 1, duplicates: 0 } });
    expect(w.privacyCalls.map((c) => c.type)).toEqual(['access']);
  });

  it('an ordinary flow completion is stored as a flow response with its own TTL', async () => {
    const w = world('none');
    const waId = newWaId();
    await w.post(single(w.tenant.phoneNumberIds[0]!, waId, messages.flowCompletion(waId, { flow_token: 'lead-1', bedrooms: '2' })));
    const flow = w.deps.subjects.all().find((d) => d.type === 'flowResponse');
    expect(flow).toMatchObject({ answers: { bedrooms: '2' }, flowToken: 'lead-1', ttl: w.tenant.retention.flowResponseDays * 86_400 });
    expect(w.privacyCalls).toEqual([]);
  });
});

describe('failure semantics', () => {
  it('a write failing half-way answers unavailable, releases the message id, and the retry finishes the job', async () => {
    const w = world('hubspot');
    const waId = newWaId();
    const mediaId = newMediaId();
    const payload = delivery([change({ phoneNumberId: w.tenant.phoneNumberIds[0]!, messages: [messages.text(waId, 'first'), messages.image(waId, { id: mediaId, sha256: 'x' })] })]);
    const send = w.deps.queue.send.bind(w.deps.queue);
    let failures = 1;
    w.deps.queue.send = async (queue, message) => {
      if (queue === 'media-downloads' && failures-- > 0) throw new Error('ServiceBusError: namespace unreachable');
      return send(queue, message);
    };
    const first = await w.post(payload);
    expect(first).toMatchObject({ kind: 'unavailable', summary: { stored: 1 } });
    // The mediaRef exists, its queue message does not: half-way. The retry must complete it.
    expect(w.deps.subjects.all().filter((d) => d.type === 'mediaRef')).toHaveLength(1);
    expect(w.deps.queue.sent.filter((s) => s.queue === 'media-downloads')).toEqual([]);
    const second = await w.post(payload);
    expect(second).toMatchObject({ kind: 'accepted', summary: { stored: 1, duplicates: 1 } });
    expect(w.deps.queue.sent.filter((s) => s.queue === 'media-downloads').map((s) => s.message.messageId)).toEqual([mediaId]);
    expect(w.deps.queue.sent.filter((s) => s.queue === 'hubspot-sync')).toHaveLength(2); // one per message, none twice
    expect(w.deps.telemetry.events).toContainEqual(expect.objectContaining({ name: 'webhook.unavailable' }));
  });

  it('if even releasing the lease fails, the lease runs out and a later retry processes the message', async () => {
    const w = world('encrypted');
    const waId = newWaId();
    const payload = single(w.tenant.phoneNumberIds[0]!, waId, messages.text(waId, 'hello'));
    const upsert = w.deps.subjects.upsert.bind(w.deps.subjects);
    const del = w.deps.markers.delete.bind(w.deps.markers);
    w.deps.subjects.upsert = async () => {
      throw Object.assign(new Error('down'), { code: 'ECONNREFUSED' });
    };
    w.deps.markers.delete = async () => {
      throw new Error('down');
    };
    expect(await w.post(payload)).toMatchObject({ kind: 'unavailable', dependency: 'network' });
    w.deps.subjects.upsert = upsert;
    w.deps.markers.delete = del;
    // Meta's retry meets the stale lease: 503 again (a 200 "duplicate" would end the retries and lose the message).
    expect(await w.post(payload)).toMatchObject({ kind: 'unavailable', dependency: 'message-lease' });
    w.clock.advance((PROCESSING_LEASE_SECONDS + 1) * 1000);
    expect(await w.post(payload)).toMatchObject({ kind: 'accepted', summary: { stored: 1 } });
    expect(w.deps.subjects.all().filter((d) => d.type === 'message')).toHaveLength(1);
  });

  it('two concurrent deliveries of one message: one processes it, the other is a duplicate', async () => {
    const w = world('encrypted');
    const waId = newWaId();
    const payload = single(w.tenant.phoneNumberIds[0]!, waId, messages.text(waId, 'hello'));
    const results = await Promise.all([w.post(payload), w.post(payload)]);
    const summaries = results.map((r) => (r.kind === 'accepted' ? r.summary : undefined));
    expect(summaries.map((s) => s?.stored).sort()).toEqual([0, 1]);
    expect(summaries.map((s) => s?.duplicates).sort()).toEqual([0, 1]);
  });
});

describe('order within a delivery', () => {
  it('messages are handled oldest first: a START sent after a STOP wins even when listed first', async () => {
    const w = world('none');
    const waId = newWaId();
    const t0 = Date.now() - 10_000;
    const start = messages.text(waId, 'START', new Date(t0 + 2000));
    const stop = messages.text(waId, 'STOP', new Date(t0));
    await w.post(delivery([change({ phoneNumberId: w.tenant.phoneNumberIds[0]!, messages: [start, stop] })]));
    const contact = w.deps.subjects.all().find((d) => d.type === 'contact');
    expect(contact).toMatchObject({ optIn: 'opted_in' });
    expect(w.deps.audit.events.map((e) => e.type)).toEqual(['subject.opted-out', 'subject.opted-in']);
  });

  it('a cancelled tenant accepts no new data', async () => {
    const w = world('encrypted');
    (w.tenant as { cancelledAt?: string }).cancelledAt = new Date().toISOString();
    const waId = newWaId();
    expect(await w.post(single(w.tenant.phoneNumberIds[0]!, waId, messages.text(waId, 'hi')))).toMatchObject({ kind: 'accepted', summary: { unknownNumbers: 1 } });
    expect(w.deps.subjects.all()).toEqual([]);
  });

  it('message timestamps as Meta sends them (seconds) decide the erasure cut-off', async () => {
    const w = world('encrypted');
    const waId = newWaId();
    const hash = await hashSubject(w.deps.secrets, w.tenant.id as TenantId, waId as never);
    const erasedAt = new Date(Number(unixSeconds()) * 1000);
    await w.deps.markers.put('tombstone', w.tenant.id as TenantId, hash, { data: { erasedAt: erasedAt.toISOString() } });
    const same = await w.post(single(w.tenant.phoneNumberIds[0]!, waId, messages.text(waId, 'same second', erasedAt)));
    expect(same).toMatchObject({ summary: { droppedAfterErasure: 1 } });
    const later = await w.post(single(w.tenant.phoneNumberIds[0]!, waId, messages.text(waId, 'next second', new Date(erasedAt.getTime() + 1000))));
    expect(later).toMatchObject({ summary: { stored: 1 } });
    expect(w.deps.audit.events.map((e) => e.type)).toEqual(['subject.reengaged']);
  });
});
