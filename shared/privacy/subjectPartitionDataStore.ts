import { decryptText, keyIdOf } from '../crypto/dataEncryption';
import { openSealed } from '../crypto/subjectKeys';
import type { Clock } from '../domain/clock';
import type { IdentityLinkStore } from '../identity/identityLinks';
import { markPerson } from '../identity/person';
import { SUBJECT_DOCUMENT_TYPES } from '../subjects/documents';
import { step } from './errors';
import type { ErasureScope } from './privacyRequest';
import type { Keyring, PrivacyMarkers, SubjectDocumentStore } from './ports';
import { documentTypesFor, SUBJECT_DOCUMENT_POLICIES, type ErasureOutcome, type PersonalDataStore } from './registry';

const INTERNAL_FIELDS = ['pk', 'ttl', 'expiresAt', 'tenantId', '_rid', '_self', '_etag', '_attachments', '_ts', 'ciphertext', 'keyId'];

/**
 * The registry's entry for the person's partitions of documents (one per identifier, shared/identity) (contact, flow responses, stored
 * messages, media references, consents: the Cosmos `subjects` container in the app). Erasure lists the
 * ids of the scope's document types and deletes them (the store batches; a document already gone counts
 * as done, so a re-run after a partial failure finishes the job). The `marketing` scope also puts the
 * subject on the suppression list (a keyed hash), so they are not messaged again.
 */
export function subjectPartitionDataStore(deps: { subjects: SubjectDocumentStore; markers: PrivacyMarkers; links: IdentityLinkStore; clock: Clock; keyring: Keyring }): PersonalDataStore {
  const { subjects } = deps;
  return {
    name: 'cosmos',
    description: "The subject's partition in the Cosmos `subjects` container",
    holds: [...new Set(Object.values(SUBJECT_DOCUMENT_POLICIES).flatMap((p) => p.holds))],
    retention: 'per-item ttl by document type (SUBJECT_DOCUMENT_POLICIES), refreshed on activity; the retention sweep removes what TTL missed',
    scopes: ['all', 'messages', 'media', 'flow_responses', 'marketing'],
    notApplicable: () => undefined,

    async exportSubject(subject) {
      const docs = await step('Cosmos DB', 'subject export query', () => subjects.readAll(subject));
      const keyring = await deps.keyring();
      const byType: Record<string, unknown[]> = Object.fromEntries(SUBJECT_DOCUMENT_TYPES.map((t) => [t, []]));
      for (const doc of docs) {
        const type = String(doc.type);
        const readable: Record<string, unknown> = Object.fromEntries(Object.entries(doc).filter(([k]) => !INTERNAL_FIELDS.includes(k)));
        if (type === 'message' && typeof doc.ciphertext === 'string') {
          try {
            readable.content = JSON.parse(keyring.all.has(keyIdOf(doc.ciphertext) ?? '') ? decryptText(keyring, doc.ciphertext, String(doc.id)) : await openSealed(deps.keyring, doc.ciphertext, String(doc.id))) as unknown;
          } catch {
            readable.content = null;
            readable.contentUnavailable = 'encrypted with a key that has since been retired';
          }
        }
        (byType[type] ??= []).push(readable);
      }
      return { records: docs.length, data: byType };
    },

    async eraseSubject(subject, scope: ErasureScope): Promise<ErasureOutcome> {
      const types = documentTypesFor(scope);
      const ids = await step('Cosmos DB', 'subject partition query', () => subjects.list(subject, types));
      const deleted = await step('Cosmos DB', 'transactional batch delete', () => subjects.delete(subject, ids));
      if (scope === 'marketing') {
        await step('Cosmos DB', 'suppression marker write', async () => {
          const existing = await deps.markers.get('suppression', subject.tenantId, subject.subjectHash);
          if (!existing) await markPerson(deps, subject.tenantId, subject.subjectHashes, 'suppression', { ttlSeconds: -1, data: { since: deps.clock.now().toISOString(), source: 'erasure' } });
        });
      }
      return { found: ids.length, deleted };
    },

    async verifyErased(subject, scope) {
      const left = await step('Cosmos DB', 'verification query', () => subjects.list(subject, documentTypesFor(scope)));
      return left.length;
    },
  };
}
