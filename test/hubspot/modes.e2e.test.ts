import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyringFrom } from '../../shared/crypto';
import type { StoredMessage } from '../../shared/messages';
import { hubspotTokenSecret } from '../../shared/secrets';
import { messages, newMediaId, newWaId, single } from '../fixtures/whatsapp/payloads';
import { adminHeaders, operatorHeaders } from '../support/principals';
import { eventually } from '../support/testServices';
import { everyCosmosDocument, postWebhook, subjectDocuments } from '../whatsapp/support';
import { postRequest, waitForStatus } from '../privacy/support';
import { channelMessages, createHubSpotTenant, putTenant, startHubSpotWorld, syncIdle, waitForChannel, type HubSpotTenant, type HubSpotWorld } from './support';
import { CosmosAuditLog } from '../../shared/cosmos';

let world: HubSpotWorld;
beforeAll(async () => {
  world = await startHubSpotWorld();
});
afterAll(async () => {
  await world?.close();
});

const tag = () => randomBytes(3).toString('hex');

async function post(tenant: HubSpotTenant, waId: string, message: Record<string, unknown>, name = 'Jo Bloggs'): Promise<void> {
  const response = await postWebhook(world.t.url, single(tenant.phoneNumberId, waId, message, name));
  if (response.status !== 200) throw new Error(`webhook answered ${response.status}: ${await response.text()}`);
}

type MessagesBody = { tenantId: string; messageStorage: string; messages: StoredMessage[] };

async function readMessages(tenantId: string, waId: string, headers = adminHeaders()): Promise<{ status: number; body: MessagesBody & { error?: { field?: string } } }> {
  const response = await fetch(`${world.t.url}/api/tenants/${tenantId}/subjects/${encodeURIComponent(waId)}/messages`, { headers });
  return { status: response.status, body: (await response.json()) as MessagesBody & { error?: { field?: string } } };
}

function bodies(list: StoredMessage[]): string[] {
  return list.map((m) => {
    const c = m.content as { type: string; text?: { body: string }; image?: { caption?: string } } | null;
    return c?.text?.body ?? c?.image?.caption ?? `[${c?.type ?? 'unavailable'}]`;
  });
}

describe('encrypted mode: Cosmos holds ciphertext only, readable through the admin API and the access export', () => {
  it('no plaintext substring of any message is in any document; the admin API decrypts them and audits who read them', async () => {
    const tenant = await createHubSpotTenant(world, { messageStorage: 'encrypted', retention: { messageDays: 14 } });
    const waId = newWaId();
    const t = tag();
    const texts = [`The boiler in flat 7 leaks again ${t}`, `My neighbour Gwendolyn has a key ${t}`, `photo of the leaking boiler ${t}`];
    const mediaId = newMediaId();
    const { webhookSha256 } = world.graph.addMedia(mediaId, { bytes: randomBytes(256), mimeType: 'image/jpeg' });
    await post(tenant, waId, messages.text(waId, texts[0]!, new Date(Date.now() - 2000)));
    await post(tenant, waId, messages.text(waId, texts[1]!, new Date(Date.now() - 1000)));
    await post(tenant, waId, messages.image(waId, { id: mediaId, sha256: webhookSha256 }, texts[2]));

    const stored = (await subjectDocuments(world.t.services, tenant.tenantId, waId)).filter((d) => d.type === 'message');
    expect(stored).toHaveLength(3);
    const keyId = keyringFrom(world.t.services.env.DATA_ENCRYPTION_KEY!).current.id;
    for (const doc of stored) {
      expect(doc).toMatchObject({ keyId, ttl: 14 * 86_400, direction: 'inbound' });
      expect(doc.syncState).toBeUndefined();
      expect(String(doc.ciphertext)).toMatch(new RegExp(`^v1\\.${keyId}\\.`));
    }
    // No plaintext anywhere: every message whole, and every word of it that is not a common one.
    const everything = (await everyCosmosDocument(world.t.services)).toLowerCase();
    const words = texts.flatMap((x) => x.split(' ')).filter((w) => w.length >= 5 && !['photo', 'again'].includes(w));
    for (const needle of [...texts, ...words]) expect(everything, needle).not.toContain(needle.toLowerCase());

    const read = await readMessages(tenant.tenantId, `+${waId}`, adminHeaders('11111111-2222-3333-4444-555555555555'));
    expect(read.status).toBe(200);
    expect(read.body.messageStorage).toBe('encrypted');
    expect(bodies(read.body.messages)).toEqual(texts);
    expect(read.body.messages.every((m) => m.state === 'stored' && m.keyId === keyId && m.direction === 'inbound')).toBe(true);
    const audited = await new CosmosAuditLog(world.t.services.cosmos.audit, world.t.services.clock).query(tenant.tenantId, new Date(Date.now() - 60_000), new Date(Date.now() + 1000), { type: 'subject.messages-read' });
    expect(audited).toHaveLength(1);
    expect(audited[0]).toMatchObject({ actor: '11111111-2222-3333-4444-555555555555', details: { messages: 3, pendingSync: 0, unavailable: 0, messageStorage: 'encrypted' } });
    expect(audited[0]!.subjectHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(audited[0])).not.toContain(waId);
    expect(world.t.logs.join('\n')).not.toContain(t);
    expect(channelMessages(world, tenant)).toEqual([]);
  });

  it('the admin route answers 401 without a principal, 404 for a tenant the operator may not see, 400 naming waId for a bad number', async () => {
    const tenant = await createHubSpotTenant(world, { messageStorage: 'encrypted' });
    const noPrincipal = await fetch(`${world.t.url}/api/tenants/${tenant.tenantId}/subjects/447700900123/messages`);
    expect(noPrincipal.status).toBe(401);
    expect((await readMessages(tenant.tenantId, '447700900123', operatorHeaders(['someone-else']))).status).toBe(404);
    const bad = await readMessages(tenant.tenantId, 'not-a-number');
    expect(bad.status).toBe(400);
    expect(bad.body.error?.field).toBe('waId');
    expect((await readMessages('no-such-tenant', '447700900123')).status).toBe(404);
    const empty = await readMessages(tenant.tenantId, '447700900123', operatorHeaders([tenant.tenantId]));
    expect(empty).toMatchObject({ status: 200, body: { messages: [] } });
  });

  it('the access export returns the messages as plaintext', async () => {
    const tenant = await createHubSpotTenant(world, { messageStorage: 'encrypted' });
    const waId = newWaId();
    const text = `please send the tenancy agreement ${tag()}`;
    await post(tenant, waId, messages.text(waId, text));
    const response = await postRequest(world.t, { tenantId: tenant.tenantId, type: 'access', subject: { waId } });
    const { id } = (await response.json()) as { id: string };
    expect((await waitForStatus(world.t, id, ['completed', 'failed'])).status).toBe('completed');
    const exported = await fetch(`${world.t.url}/api/privacy-requests/${id}/export`, { headers: adminHeaders() });
    expect(exported.status).toBe(200);
    const document = (await exported.json()) as { stores: { cosmos: { data: { message: { content: { text: { body: string } } }[] } } } };
    expect(document.stores.cosmos.data.message.map((m) => m.content.text.body)).toEqual([text]);
    expect(JSON.stringify(document.stores.cosmos.data.message)).not.toContain('ciphertext');
  });

  it('after DATA_ENCRYPTION_KEY rotates, messages of both keys read back while the previous key is set; without it the old ones say why they cannot', async () => {
    const tenant = await createHubSpotTenant(world, { messageStorage: 'encrypted' });
    const waId = newWaId();
    const env = world.t.services.env;
    const original = env.DATA_ENCRYPTION_KEY!;
    const before = `written before the rotation ${tag()}`;
    const after = `written after the rotation ${tag()}`;
    await post(tenant, waId, messages.text(waId, before, new Date(Date.now() - 1000)));
    const next = randomBytes(32).toString('base64');
    env.DATA_ENCRYPTION_KEY = next;
    env.DATA_ENCRYPTION_KEY_PREVIOUS = original;
    try {
      await post(tenant, waId, messages.text(waId, after));
      const both = await readMessages(tenant.tenantId, waId);
      expect(bodies(both.body.messages)).toEqual([before, after]);
      expect(both.body.messages.map((m) => m.keyId)).toEqual([keyringFrom(original).current.id, keyringFrom(next).current.id]);

      delete env.DATA_ENCRYPTION_KEY_PREVIOUS;
      const retired = await readMessages(tenant.tenantId, waId);
      expect(retired.body.messages[0]).toMatchObject({ content: null, contentUnavailable: 'encrypted with a key that has since been retired' });
      expect(bodies(retired.body.messages.slice(1))).toEqual([after]);
    } finally {
      env.DATA_ENCRYPTION_KEY = original;
      delete env.DATA_ENCRYPTION_KEY_PREVIOUS;
    }
  });
});

describe('switching a tenant between modes loses no message in flight', () => {
  it('hubspot -> encrypted: a message waiting for a HubSpot retry is kept as a stored message, with its original expiry, and is not published', async () => {
    const tenant = await createHubSpotTenant(world, { messageStorage: 'hubspot' });
    const waId = newWaId();
    const text = `waiting for HubSpot ${tag()}`;
    world.hubspot.failNext(1, 503, /custom-channels/);
    await post(tenant, waId, messages.text(waId, text));
    // The publish failed: the sync rescheduled itself with backoff (about 2 s).
    await eventually(() => world.t.services.telemetry.metrics.find((m) => m.name === 'hubspot.sync' && m.dimensions.tenantId === tenant.tenantId && m.dimensions.outcome === 'rescheduled'));
    const [pending] = (await subjectDocuments(world.t.services, tenant.tenantId, waId)).filter((d) => d.type === 'message');
    expect(pending).toMatchObject({ syncState: 'pending' });

    expect((await putTenant(world, tenant, { messageStorage: 'encrypted' }, 'switching-operator')).status).toBe(200);
    await syncIdle(world);
    const [kept] = (await subjectDocuments(world.t.services, tenant.tenantId, waId)).filter((d) => d.type === 'message');
    expect(kept!.syncState).toBeUndefined();
    expect(kept!.expiresAt).toBe(pending!.expiresAt);
    expect(kept!.ttl).toBeLessThanOrEqual(pending!.ttl as number);
    expect(kept!.ttl).toBeGreaterThan((pending!.ttl as number) - 60);
    expect(bodies((await readMessages(tenant.tenantId, waId)).body.messages)).toEqual([text]);
    expect(channelMessages(world, tenant)).toEqual([]);
    const switched = await new CosmosAuditLog(world.t.services.cosmos.audit, world.t.services.clock).query(tenant.tenantId, new Date(Date.now() - 60_000), new Date(Date.now() + 1000), { type: 'tenant.message-storage-changed' });
    expect(switched).toEqual([expect.objectContaining({ actor: 'switching-operator', details: { from: 'hubspot', to: 'encrypted' } })]);
  });

  it('hubspot -> none: a dead-lettered message replayed after the switch deletes its content instead of publishing it', async () => {
    const tenant = await createHubSpotTenant(world, { messageStorage: 'hubspot' });
    const waId = newWaId();
    world.hubspot.revokeToken(tenant.token);
    await post(tenant, waId, messages.text(waId, `token revoked ${tag()}`));
    const dead = await eventually(async () => (await world.queue.peekDeadLetters('hubspot-sync', 1000)).find((d) => (d.body as { tenantId?: string }).tenantId === tenant.tenantId));
    expect(dead).toMatchObject({ reason: 'HubSpotPermanentFailure', description: expect.stringContaining(`check the tenant's HubSpot token (${hubspotTokenSecret(tenant.tenantId)})`) });
    expect((await subjectDocuments(world.t.services, tenant.tenantId, waId)).filter((d) => d.type === 'message')).toHaveLength(1);

    expect((await putTenant(world, tenant, { messageStorage: 'none' })).status).toBe(200);
    world.hubspot.allowToken(tenant.token);
    await world.queue.replayDeadLetters('hubspot-sync');
    await syncIdle(world);
    expect((await subjectDocuments(world.t.services, tenant.tenantId, waId)).filter((d) => d.type === 'message')).toEqual([]);
    expect(channelMessages(world, tenant)).toEqual([]);
    expect(world.t.services.telemetry.metrics).toContainEqual({ name: 'hubspot.sync', value: 1, dimensions: { tenantId: tenant.tenantId, outcome: 'dropped', reason: 'mode-none' } });
  });

  it('encrypted -> hubspot: new messages are published, stored ones are not back-filled and stay readable until they expire', async () => {
    const tenant = await createHubSpotTenant(world, { messageStorage: 'encrypted' });
    const waId = newWaId();
    const old = `stored before the switch ${tag()}`;
    const fresh = `sent after the switch ${tag()}`;
    await post(tenant, waId, messages.text(waId, old, new Date(Date.now() - 1000)));
    expect((await putTenant(world, tenant, { messageStorage: 'hubspot' })).status).toBe(200);
    await post(tenant, waId, messages.text(waId, fresh));
    const published = await waitForChannel(world, tenant, 1);
    expect(published.map((m) => m.text)).toEqual([fresh]);
    const left = await readMessages(tenant.tenantId, waId);
    expect(bodies(left.body.messages)).toEqual([old]);
    expect(left.body.messages[0]!.state).toBe('stored');
  });
});

describe('rectification', () => {
  it('a rectified profile name reaches the HubSpot contact at once, and WhatsApp\'s profile name on the next message does not undo it', async () => {
    const tenant = await createHubSpotTenant(world, { messageStorage: 'hubspot' });
    const waId = newWaId();
    await post(tenant, waId, messages.text(waId, `hello ${tag()}`, new Date(Date.now() - 1000)), 'Jo Blogs');
    const [first] = await waitForChannel(world, tenant, 1);
    expect(world.hubspot.contacts.get(first!.contactId!)!.properties).toMatchObject({ firstname: 'Jo', lastname: 'Blogs' });

    const response = await postRequest(world.t, { tenantId: tenant.tenantId, type: 'rectification', subject: { waId }, rectification: { profileName: 'Joanna Bloggs-Smith' } });
    expect((await waitForStatus(world.t, ((await response.json()) as { id: string }).id, ['completed', 'failed'])).status).toBe('completed');
    expect(world.hubspot.contacts.get(first!.contactId!)!.properties).toMatchObject({ firstname: 'Joanna', lastname: 'Bloggs-Smith' });
    // The next message carries WhatsApp's (old) profile name: the rectified name stays.
    await post(tenant, waId, messages.text(waId, `follow-up ${tag()}`), 'Jo Blogs');
    await waitForChannel(world, tenant, 2);
    expect(world.hubspot.contacts.get(first!.contactId!)!.properties).toMatchObject({ firstname: 'Joanna', lastname: 'Bloggs-Smith' });
    const contact = (await subjectDocuments(world.t.services, tenant.tenantId, waId)).find((d) => d.type === 'contact');
    expect(contact?.profileName).toBe('Joanna Bloggs-Smith');
  });
});
