import type { Container, OperationInput } from '@azure/cosmos';
import { decryptText, type DataKeyring } from '../../crypto/dataEncryption';
import { isNotFound } from '../../cosmos/cosmosStore';
import type { Clock } from '../../domain/clock';
import { subjectPartitionKey } from '../../domain/ids';
import type { MarkerStore } from '../../markers/markerStore';
import { SUBJECT_DOCUMENT_TYPES, type SubjectDocumentType } from '../../subjects/documents';
import { step } from '../errors';
import type { ErasureScope } from '../privacyRequest';
import { documentTypesFor, SUBJECT_DOCUMENT_POLICIES, type ErasureOutcome, type PersonalDataStore, type SubjectContext } from '../registry';

/** Cosmos' limit of operations in one transactional batch. */
export const MAX_BATCH_OPERATIONS = 100;

const INTERNAL_FIELDS = ['pk', 'ttl', 'expiresAt', 'tenantId', '_rid', '_self', '_etag', '_attachments', '_ts', 'ciphertext', 'keyId'];

/**
 * The subject's Cosmos partition (`subjects`, `/pk` = `<tenantId>|<waId>`): contact, flow responses,
 * stored messages, media references, consents. Erasure is one single-partition query for the ids and
 * transactional batches of at most 100 deletes; a delete that finds nothing counts as done, so a re-run
 * after a partial failure finishes the job. The `marketing` scope also puts the subject on the
 * suppression list (a keyed hash), so they are not messaged again.
 */
export function cosmosSubjectStore(deps: { subjects: Container; markers: MarkerStore; clock: Clock; keyring: () => Promise<DataKeyring> }): PersonalDataStore {
  const { subjects } = deps;

  async function idsOf(subject: SubjectContext, types: readonly SubjectDocumentType[]): Promise<{ id: string; type: SubjectDocumentType }[]> {
    const pk = subjectPartitionKey(subject.tenantId, subject.waId);
    const all = types.length === SUBJECT_DOCUMENT_TYPES.length;
    const typeParams = types.map((type, i) => ({ name: `@t${i}`, value: type }));
    const { resources } = await subjects.items
      .query<{ id: string; type: SubjectDocumentType }>(
        {
          // The emulator ignores the partitionKey option: the WHERE clause names the partition too.
          query: `SELECT c.id, c.type FROM c WHERE c.pk = @pk${all ? '' : ` AND c.type IN (${typeParams.map((p) => p.name).join(', ')})`}`,
          parameters: [{ name: '@pk', value: pk }, ...(all ? [] : typeParams)],
        },
        { partitionKey: pk },
      )
      .fetchAll();
    return resources;
  }

  async function deleteAll(subject: SubjectContext, ids: readonly string[]): Promise<number> {
    const pk = subjectPartitionKey(subject.tenantId, subject.waId);
    let deleted = 0;
    for (let i = 0; i < ids.length; i += MAX_BATCH_OPERATIONS) {
      const chunk = ids.slice(i, i + MAX_BATCH_OPERATIONS);
      const operations: OperationInput[] = chunk.map((id) => ({ operationType: 'Delete', id, partitionKey: pk }));
      const response = await subjects.items.batch(operations, pk);
      const codes = response.result?.map((r) => r.statusCode) ?? [];
      if (codes.length === chunk.length && codes.every((c) => c === 204)) {
        deleted += chunk.length;
        continue;
      }
      // A batch is all-or-nothing in Cosmos: one document already gone (404) fails the rest (424).
      // Delete that chunk one by one, where "not found" means done.
      for (const id of chunk) {
        try {
          await subjects.item(id, pk).delete();
          deleted += 1;
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
      }
    }
    return deleted;
  }

  return {
    name: 'cosmos',
    description: "The subject's partition in the Cosmos `subjects` container",
    holds: [...new Set(Object.values(SUBJECT_DOCUMENT_POLICIES).flatMap((p) => p.holds))],
    retention: 'per-item ttl by document type (SUBJECT_DOCUMENT_POLICIES), refreshed on activity; the retention sweep removes what TTL missed',
    scopes: ['all', 'messages', 'media', 'flow_responses', 'marketing'],
    notApplicable: () => undefined,

    async exportSubject(subject) {
      const pk = subjectPartitionKey(subject.tenantId, subject.waId);
      const docs = await step('Cosmos DB', 'subject export query', async () => {
        const { resources } = await subjects.items
          .query<Record<string, unknown>>({ query: 'SELECT * FROM c WHERE c.pk = @pk', parameters: [{ name: '@pk', value: pk }] }, { partitionKey: pk })
          .fetchAll();
        return resources;
      });
      const keyring = await deps.keyring();
      const byType: Record<string, unknown[]> = Object.fromEntries(SUBJECT_DOCUMENT_TYPES.map((t) => [t, []]));
      for (const doc of docs) {
        const type = String(doc.type);
        const readable: Record<string, unknown> = Object.fromEntries(Object.entries(doc).filter(([k]) => !INTERNAL_FIELDS.includes(k)));
        if (type === 'message' && typeof doc.ciphertext === 'string') {
          try {
            readable.content = JSON.parse(decryptText(keyring, doc.ciphertext, String(doc.id))) as unknown;
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
      const ids = await step('Cosmos DB', 'subject partition query', () => idsOf(subject, types));
      const deleted = await step('Cosmos DB', 'transactional batch delete', () => deleteAll(subject, ids.map((d) => d.id)));
      if (scope === 'marketing') {
        await step('Cosmos DB', 'suppression marker write', async () => {
          const existing = await deps.markers.get('suppression', subject.tenantId, subject.subjectHash);
          if (!existing) await deps.markers.put('suppression', subject.tenantId, subject.subjectHash, { ttlSeconds: -1, data: { since: deps.clock.now().toISOString(), source: 'erasure' } });
        });
      }
      return { found: ids.length, deleted };
    },

    async verifyErased(subject, scope) {
      const left = await step('Cosmos DB', 'verification query', () => idsOf(subject, documentTypesFor(scope)));
      return left.length;
    },
  };
}
