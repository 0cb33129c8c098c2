import type { Container, OperationInput } from '@azure/cosmos';
import { hashOfPartitionKey, identifierOf, normaliseWaId, subjectPartitionKey, type SubjectHash, type SubjectIdentifier, type TenantId } from '../domain/ids';
import type { SubjectDocumentKey, SubjectDocumentStore, SubjectDocumentSummary, SubjectRef } from '../privacy/ports';
import { consentDocument, SUBJECT_DOCUMENT_TYPES, type ConsentDocument, type SubjectDocumentType } from '../subjects/documents';
import {
  storedContact,
  subjectDocumentSchemas,
  type AnySubjectDocument,
  type DocumentOf,
  type ReplaceOutcome,
  type StoredContact,
  type SubjectStore,
  type VersionedDocument,
} from '../subjects/subjectStore';
import { isConflict, isNotFound, isPreconditionFailed } from './cosmosStore';
import { partitionsOf } from '../identity/partitions';

/** Cosmos' limit of operations in one transactional batch. */
export const MAX_BATCH_OPERATIONS = 100;

const MAX_CONTACT_ATTEMPTS = 8;

/**
 * Subject documents in the Cosmos `subjects` container (partition `/pk` = `<tenantId>|<identifier
 * hash>`, one per identifier of a person): the webhook's and workers' `SubjectStore`, and the privacy
 * core's `SubjectDocumentStore` (list, delete in transactional batches, export, summary), which work on
 * every partition of the person (`partitionsOf`). Every partition query also names the partition in its
 * WHERE clause (the emulator ignores the partitionKey option).
 */
export class CosmosSubjectRepository implements SubjectStore, SubjectDocumentStore {
  constructor(private readonly container: Container) {}

  async getContact(tenantId: TenantId, subjectHash: SubjectHash): Promise<StoredContact | undefined> {
    return (await this.readContact(tenantId, subjectHash))?.doc;
  }

  async updateContact(
    tenantId: TenantId,
    subjectHash: SubjectHash,
    change: (current: StoredContact | undefined) => StoredContact | undefined,
  ): Promise<{ contact: StoredContact | undefined; created: boolean }> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.readContact(tenantId, subjectHash);
      const next = change(current?.doc);
      if (next === undefined) return { contact: current?.doc, created: false };
      try {
        if (current) {
          await this.container.item(next.id, next.pk).replace(next, { accessCondition: { type: 'IfMatch', condition: current.etag } });
        } else {
          await this.container.items.create(next);
        }
        return { contact: next, created: current === undefined };
      } catch (error) {
        const raced = current ? isPreconditionFailed(error) || isNotFound(error) : isConflict(error);
        if (!raced || attempt >= MAX_CONTACT_ATTEMPTS) throw error;
      }
    }
  }

  async upsert(doc: AnySubjectDocument): Promise<void> {
    await this.container.items.upsert(doc);
  }

  async createIfAbsent<T extends AnySubjectDocument>(doc: T): Promise<{ created: true } | { created: false; existing: T }> {
    try {
      await this.container.items.create(doc);
      return { created: true };
    } catch (error) {
      if (!isConflict(error)) throw error;
      const { resource } = await this.container.item(doc.id, doc.pk).read<Record<string, unknown>>();
      return { created: false, existing: subjectDocumentSchemas[doc.type].parse(resource) as T };
    }
  }

  async findById<T extends SubjectDocumentType>(tenantId: TenantId, type: T, id: string): Promise<VersionedDocument<DocumentOf<T>> | undefined> {
    const { resources } = await this.container.items
      .query<Record<string, unknown>>({
        query: 'SELECT * FROM c WHERE c.id = @id AND c.tenantId = @tenantId AND c.type = @type',
        parameters: [
          { name: '@id', value: id },
          { name: '@tenantId', value: tenantId },
          { name: '@type', value: type },
        ],
      })
      .fetchAll();
    const found = resources[0];
    if (!found) return undefined;
    return { doc: subjectDocumentSchemas[type].parse(found) as DocumentOf<T>, etag: String(found._etag) };
  }

  async removeByMessageId(pk: string, messageId: string, ids: readonly string[]): Promise<number> {
    const { resources } = await this.container.items
      .query<{ id: string }>({ query: 'SELECT c.id FROM c WHERE c.pk = @pk AND c.messageId = @messageId', parameters: [{ name: '@pk', value: pk }, { name: '@messageId', value: messageId }] }, { partitionKey: pk })
      .fetchAll();
    return this.deleteInPartition(pk, [...new Set([...ids, ...resources.map((r) => r.id)])]);
  }

  async mediaFilesOfMessage(pk: string, messageId: string): Promise<string[]> {
    const { resources } = await this.container.items
      .query<{ blobName?: string }>(
        { query: "SELECT c.blobName FROM c WHERE c.pk = @pk AND c.type = 'mediaRef' AND c.messageId = @messageId", parameters: [{ name: '@pk', value: pk }, { name: '@messageId', value: messageId }] },
        { partitionKey: pk },
      )
      .fetchAll();
    return resources.map((r) => r.blobName).filter((name): name is string => typeof name === 'string' && name !== '');
  }

  async replace(doc: AnySubjectDocument, etag: string): Promise<ReplaceOutcome> {
    try {
      await this.container.item(doc.id, doc.pk).replace(doc, { accessCondition: { type: 'IfMatch', condition: etag } });
      return 'replaced';
    } catch (error) {
      if (isNotFound(error)) return 'gone';
      if (isPreconditionFailed(error)) return 'changed';
      throw error;
    }
  }

  async list(subject: SubjectRef, types?: readonly SubjectDocumentType[]): Promise<SubjectDocumentKey[]> {
    const all = !types || types.length === SUBJECT_DOCUMENT_TYPES.length;
    const typeParams = (all ? [] : types).map((type, i) => ({ name: `@t${i}`, value: type }));
    const found = await Promise.all(
      partitionsOf(subject).map(async (pk) => {
        const { resources } = await this.container.items
          .query<SubjectDocumentKey>(
            {
              query: `SELECT c.id, c.pk, c.type FROM c WHERE c.pk = @pk${all ? '' : ` AND c.type IN (${typeParams.map((p) => p.name).join(', ')})`}`,
              parameters: [{ name: '@pk', value: pk }, ...typeParams],
            },
            { partitionKey: pk },
          )
          .fetchAll();
        return resources;
      }),
    );
    return found.flat();
  }

  /**
   * Transactional batches of at most 100 deletes per partition. A batch is all-or-nothing in Cosmos: one
   * document already gone (404) fails the rest (424); that chunk is then deleted one by one, "not found"
   * meaning done.
   */
  async delete(_subject: SubjectRef, docs: readonly SubjectDocumentKey[]): Promise<number> {
    const byPartition = new Map<string, string[]>();
    for (const d of docs) byPartition.set(d.pk, [...(byPartition.get(d.pk) ?? []), d.id]);
    let deleted = 0;
    for (const [pk, ids] of byPartition) deleted += await this.deleteInPartition(pk, ids);
    return deleted;
  }

  /** Deletes documents of one partition by id; "not found" is done. */
  async deleteInPartition(pk: string, ids: readonly string[]): Promise<number> {
    let deleted = 0;
    for (let i = 0; i < ids.length; i += MAX_BATCH_OPERATIONS) {
      const chunk = ids.slice(i, i + MAX_BATCH_OPERATIONS);
      const operations: OperationInput[] = chunk.map((id) => ({ operationType: 'Delete', id, partitionKey: pk }));
      const response = await this.container.items.batch(operations, pk);
      const codes = response.result?.map((r) => r.statusCode) ?? [];
      if (codes.length === chunk.length && codes.every((c) => c === 204)) {
        deleted += chunk.length;
        continue;
      }
      for (const id of chunk) {
        try {
          await this.container.item(id, pk).delete();
          deleted += 1;
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
      }
    }
    return deleted;
  }

  async readAll(subject: SubjectRef): Promise<Record<string, unknown>[]> {
    return this.queryPartitions<Record<string, unknown>>(subject, 'SELECT * FROM c WHERE c.pk = @pk');
  }

  async summary(subject: SubjectRef): Promise<SubjectDocumentSummary[]> {
    return this.queryPartitions<SubjectDocumentSummary>(subject, 'SELECT c.type, c.firstSeenAt, c.lastSeenAt, c.profileName, c.optIn, c.restricted, c.granted FROM c WHERE c.pk = @pk');
  }

  async consents(subject: SubjectRef): Promise<ConsentDocument[]> {
    const resources = await this.queryPartitions<Record<string, unknown>>(subject, "SELECT * FROM c WHERE c.pk = @pk AND c.type = 'consent'");
    return resources.map((c) => consentDocument.parse(c));
  }

  private async queryPartitions<T>(subject: SubjectRef, query: string): Promise<T[]> {
    const found = await Promise.all(
      partitionsOf(subject).map(async (pk) => (await this.container.items.query<T>({ query, parameters: [{ name: '@pk', value: pk }] }, { partitionKey: pk }).fetchAll()).resources),
    );
    return found.flat();
  }

  /**
   * Read in pages of contacts until `max` distinct subjects are found: the identifier a contact holds
   * (its partition's), or the phone number of a legacy partition's key.
   */
  async subjectsWithData(tenantId: TenantId, max: number): Promise<SubjectIdentifier[]> {
    const iterator = this.container.items.query<{ pk: string; waId?: string; userId?: string }>(
      { query: "SELECT c.pk, c.waId, c.userId FROM c WHERE c.tenantId = @tenantId AND c.type = 'contact'", parameters: [{ name: '@tenantId', value: tenantId }] },
      { maxItemCount: 1000 },
    );
    const found = new Map<string, SubjectIdentifier>();
    while (found.size < max && iterator.hasMoreResults()) {
      const { resources } = await iterator.fetchNext();
      for (const { pk, waId, userId } of resources) {
        const legacy = hashOfPartitionKey(tenantId, pk) === undefined && pk.startsWith(`${tenantId}|`) ? normaliseWaId(pk.slice(tenantId.length + 1)) : undefined;
        const identifier = legacy ? { kind: 'waId' as const, value: legacy } : identifierOf(userId ?? waId ?? '');
        if (identifier && found.size < max) found.set(identifier.value, identifier);
      }
    }
    return [...found.values()];
  }

  async deleteRemaining(tenantId: TenantId): Promise<number> {
    const { resources } = await this.container.items
      .query<{ id: string; pk: string }>({ query: 'SELECT c.id, c.pk FROM c WHERE c.tenantId = @tenantId', parameters: [{ name: '@tenantId', value: tenantId }] })
      .fetchAll();
    const byPartition = new Map<string, string[]>();
    for (const r of resources) byPartition.set(r.pk, [...(byPartition.get(r.pk) ?? []), r.id]);
    let deleted = 0;
    for (const [pk, ids] of byPartition) deleted += await this.deleteInPartition(pk, ids);
    return deleted;
  }

  async countSubjects(tenantId: TenantId): Promise<number> {
    const { resources } = await this.container.items
      .query<{ pk: string }>({ query: "SELECT c.pk FROM c WHERE c.tenantId = @tenantId AND c.type = 'contact'", parameters: [{ name: '@tenantId', value: tenantId }] })
      .fetchAll();
    return new Set(resources.map((r) => r.pk)).size;
  }

  private async readContact(tenantId: TenantId, subjectHash: SubjectHash): Promise<VersionedDocument<StoredContact> | undefined> {
    try {
      const { resource } = await this.container.item('contact', subjectPartitionKey(tenantId, subjectHash)).read<Record<string, unknown>>();
      return resource ? { doc: storedContact.parse(resource), etag: String(resource._etag) } : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}

