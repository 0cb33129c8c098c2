import { encryptText } from '../crypto/dataEncryption';
import { dataKeyring } from '../crypto/subjectKeys';
import type { Clock } from '../domain/clock';
import { mediaPrefixFor, subjectPartitionKey, toE164 } from '../domain';
import type { DrillStores, DrillSubject } from '../drills/erasureDrill';
import type { HubSpotContacts } from '../hubspot/contacts';
import type { MarkerStore } from '../markers/markerStore';
import type { SubjectDocumentStore } from '../privacy/ports';
import type { SecretProvider } from '../secrets/secretProvider';
import type { DrillMedia } from '../storage/drillMedia';
import type { AnySubjectDocument } from '../subjects/subjectStore';
import type { Tenant } from '../tenants/tenant';

/** A planted document outlives a drill that crashed by at most a day: TTL removes it. */
const DRILL_TTL_SECONDS = 86_400;

/**
 * The erasure drill's stores, through the app's own adapters: a contact and an encrypted message in the
 * subject's Cosmos DB partition, a media blob under the subject's prefix with its `mediaRef`, and a HubSpot
 * contact holding the number (when the tenant uses HubSpot). What the erasure must find and remove is what the
 * webhook, the media worker and the HubSpot sync would have written.
 */
export function drillStores(deps: {
  subjects: SubjectDocumentStore;
  markers: MarkerStore;
  media: DrillMedia;
  contacts: HubSpotContacts;
  secrets: SecretProvider;
  clock: Clock;
}): DrillStores {
  const ref = (s: DrillSubject) => ({ tenantId: s.tenantId, identifier: { kind: 'waId' as const, value: s.waId }, subjectHash: s.subjectHash, subjectHashes: [s.subjectHash] });
  const blobNames = (s: DrillSubject) => deps.media.list(mediaPrefixFor(s.tenantId, s.subjectHash));
  const hubspotUsed = (tenant: Tenant) => tenant.hubspot.enabled;
  return {
    async plant(tenant, s) {
      const now = deps.clock.now();
      const base = { pk: subjectPartitionKey(s.tenantId, s.subjectHash), tenantId: s.tenantId, ttl: DRILL_TTL_SECONDS, expiresAt: new Date(now.getTime() + DRILL_TTL_SECONDS * 1000).toISOString(), createdAt: now.toISOString() };
      const at = now.toISOString();
      const messageId = `wamid.${s.drillId}`;
      const blobName = `${mediaPrefixFor(s.tenantId, s.subjectHash)}${s.drillId}.jpg`;
      const keyring = await dataKeyring(deps.secrets);
      const messageDocId = `msg-${s.drillId}`;
      const docs: AnySubjectDocument[] = [
        { ...base, id: 'contact', type: 'contact', waId: s.waId, profileName: 'Erasure drill', optIn: 'unknown', restricted: false, firstSeenAt: at, lastSeenAt: at },
        { ...base, id: messageDocId, type: 'message', messageId, direction: 'inbound', messageType: 'text', ciphertext: encryptText(keyring, JSON.stringify({ text: { body: `erasure drill ${s.drillId}` } }), messageDocId), keyId: keyring.current.id, sentAt: at },
        { ...base, id: `media-${s.drillId}`, type: 'mediaRef', mediaId: s.drillId, messageId, mimeType: 'image/jpeg', blobName, status: 'stored' },
      ];
      const bytes = Buffer.from(`erasure drill ${s.drillId}`);
      await deps.media.put(blobName, bytes, 'image/jpeg');
      for (const doc of docs) await deps.subjects.upsert(doc);
      const stores = ['cosmos', 'blob'];
      if (hubspotUsed(tenant)) {
        await deps.contacts.create(s.tenantId, { phone: toE164(s.waId), firstname: 'Erasure drill', lastname: s.drillId });
        stores.push('hubspot');
      }
      return stores;
    },
    async leftovers(tenant, s) {
      const [cosmos, blob, hubspot] = await Promise.all([
        deps.subjects.list(ref(s)).then((docs) => docs.length),
        blobNames(s).then((names) => names.length),
        hubspotUsed(tenant) ? deps.contacts.findByPhone(s.tenantId, s.waId).then((found) => found.length) : Promise.resolve(undefined),
      ]);
      return { cosmos, blob, ...(hubspot !== undefined ? { hubspot } : {}) };
    },
    async remove(tenant, s) {
      const docs = await deps.subjects.list(ref(s));
      if (docs.length > 0) await deps.subjects.delete(ref(s), docs);
      for (const name of await blobNames(s)) await deps.media.remove(name);
      if (hubspotUsed(tenant)) for (const contact of await deps.contacts.findByPhone(s.tenantId, s.waId)) await deps.contacts.gdprDelete(s.tenantId, contact.id);
      // The erasure's tombstone names a subject that never existed: it would only count as an erasure. A
      // failed erasure keeps its fence (shared/markers/erasureFence.ts): the drill's subject needs none.
      await deps.markers.delete('tombstone', s.tenantId, s.subjectHash);
      await deps.markers.delete('fence', s.tenantId, s.subjectHash);
    },
    async taken(_tenant, s) {
      const [contact, tombstone, fence] = await Promise.all([
        deps.subjects.getContact(s.tenantId, s.subjectHash),
        deps.markers.get('tombstone', s.tenantId, s.subjectHash),
        deps.markers.get('fence', s.tenantId, s.subjectHash),
      ]);
      return contact !== undefined || tombstone !== undefined || fence !== undefined;
    },
  };
}
