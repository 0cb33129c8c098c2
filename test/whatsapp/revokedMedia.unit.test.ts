import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashSubject } from '../../shared/crypto';
import { mediaPrefixFor, type TenantId, type WaId } from '../../shared/domain';
import { inboundMessage, messagesChange, webhookDelivery } from '../../shared/whatsapp/envelope';
import { tenantSchema, type Tenant } from '../../shared/tenants';
import { newMediaId, newPhoneNumberId, newWaId } from '../fixtures/whatsapp/payloads';
import { inMemoryWebhookWorld } from '../doubles';

/**
 * A `revoke` (Meta, "Revoke messages", May 21 2026: the user deleted the message for everyone) takes the
 * message's media file from Blob as well as its reference from Cosmos, and a Blob failure on the way is
 * an outage for Meta to retry, never a revoke half done with the file left and its reference gone.
 * In-memory stores: the end-to-end case against Azurite is in test/identity/identity.e2e.test.ts.
 */
function world() {
  const now = new Date().toISOString();
  const tenant: Tenant = tenantSchema.parse({ id: `u-${randomBytes(4).toString('hex')}`, name: 'Unit', phoneNumberIds: [newPhoneNumberId()], messageStorage: 'encrypted', createdAt: now, updatedAt: now });
  const w = inMemoryWebhookWorld({ tenant });
  const deliver = (waId: string, message: Record<string, unknown>) => w.post(webhookDelivery([[messagesChange({ phoneNumberId: tenant.phoneNumberIds[0]!, contacts: [{ waId, name: 'Robin' }], messages: [message as never] })]]));
  /** A photo from `waId`, as the media download leaves it once the file is in Blob. */
  const storedPhoto = async (waId: string) => {
    const mediaId = newMediaId();
    const message = inboundMessage(waId, { type: 'image', image: { id: mediaId, sha256: randomBytes(32).toString('base64'), mime_type: 'image/jpeg' }, at: new Date(Date.now() - 60_000) });
    expect(await deliver(waId, message)).toMatchObject({ kind: 'accepted' });
    const subjectHash = await hashSubject(w.deps.secrets, tenant.id as TenantId, waId as WaId);
    const blobName = `${mediaPrefixFor(tenant.id, subjectHash)}${mediaId}`;
    const refs = (await w.subjects.readAll({ tenantId: tenant.id as TenantId, subjectHash, subjectHashes: [subjectHash], identifier: { kind: 'waId', value: waId as WaId } } as never)).filter((d) => d.type === 'mediaRef' && d.messageId === message.id);
    expect(refs).toHaveLength(1);
    await w.subjects.upsert({ ...(refs[0] as Record<string, unknown>), status: 'stored', blobName } as never);
    return { message, blobName, subjectHash };
  };
  const mediaRefs = async (subjectHash: string, waId: string) =>
    (await w.subjects.readAll({ tenantId: tenant.id as TenantId, subjectHash, subjectHashes: [subjectHash], identifier: { kind: 'waId', value: waId as WaId } } as never)).filter((d) => d.type === 'mediaRef');
  const revoke = (waId: string, originalId: unknown) => deliver(waId, inboundMessage(waId, { type: 'revoke', revoke: { original_message_id: originalId }, at: new Date() }));
  return { ...w, deliver, storedPhoto, mediaRefs, revoke };
}

describe('a revoked media message', () => {
  it('loses its file in Blob and its reference in Cosmos; the same user’s other photo keeps both', async () => {
    const w = world();
    const waId = newWaId();
    const revoked = await w.storedPhoto(waId);
    const kept = await w.storedPhoto(waId);
    expect(await w.revoke(waId, revoked.message.id)).toMatchObject({ kind: 'accepted' });
    expect(w.deletedFiles).toEqual([revoked.blobName]);
    expect((await w.mediaRefs(revoked.subjectHash, waId)).map((d) => d.blobName)).toEqual([kept.blobName]);
  });

  it('a Blob outage while the file is deleted answers 503 and keeps the reference, so Meta’s retry finds the file and finishes', async () => {
    const w = world();
    const waId = newWaId();
    const photo = await w.storedPhoto(waId);
    const working = w.deps.media.deleteFile;
    w.deps.media.deleteFile = async () => {
      throw Object.assign(new Error('Service Unavailable'), { name: 'RestError', statusCode: 503, request: { url: 'http://127.0.0.1:10000/devstoreaccount1/media/x' } });
    };
    expect(await w.revoke(waId, photo.message.id)).toMatchObject({ kind: 'unavailable' });
    expect(await w.mediaRefs(photo.subjectHash, waId)).toHaveLength(1);

    w.deps.media.deleteFile = working;
    expect(await w.revoke(waId, photo.message.id)).toMatchObject({ kind: 'accepted' });
    expect(w.deletedFiles).toEqual([photo.blobName]);
    expect(await w.mediaRefs(photo.subjectHash, waId)).toEqual([]);
  });
});
