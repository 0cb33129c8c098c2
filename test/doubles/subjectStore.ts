import { identifierOf, subjectPartitionKey, type SubjectHash, type SubjectIdentifier, type TenantId } from '../../shared/domain';
import type { SubjectDocumentKey, SubjectDocumentStore, SubjectDocumentSummary, SubjectRef } from '../../shared/privacy';
import { partitionsOf } from '../../shared/identity';
import type { AnySubjectDocument, ConsentDocument, DocumentOf, ReplaceOutcome, StoredContact, SubjectDocumentType, SubjectStore, VersionedDocument } from '../../shared/subjects';

/**
 * A subject's documents in memory: the webhook's `SubjectStore` and the privacy core's
 * `SubjectDocumentStore`, with the Cosmos adapter's semantics (documents copied in and out, etags,
 * "already gone" counts as deleted). Used by the unit tests and by bench/webhook.ts.
 */
export class InMemorySubjectStore implements SubjectStore, SubjectDocumentStore {
  private readonly docs = new Map<string, { doc: AnySubjectDocument; etag: string }>();
  private version = 0;

  /** Every document, for assertions. */
  all(): AnySubjectDocument[] {
    return [...this.docs.values()].map((v) => copyDoc(v.doc));
  }

  /** Deletes a subject's partition, as an erasure would. */
  erasePartition(pk: string): number {
    let removed = 0;
    for (const [key, value] of this.docs) {
      if (value.doc.pk === pk) {
        this.docs.delete(key);
        removed += 1;
      }
    }
    return removed;
  }

  async getContact(tenantId: TenantId, subjectHash: SubjectHash): Promise<StoredContact | undefined> {
    const found = this.docs.get(key(subjectPartitionKey(tenantId, subjectHash), 'contact'));
    return found ? (copyDoc(found.doc) as StoredContact) : undefined;
  }

  async updateContact(
    tenantId: TenantId,
    subjectHash: SubjectHash,
    change: (current: StoredContact | undefined) => StoredContact | undefined,
  ): Promise<{ contact: StoredContact | undefined; created: boolean }> {
    const current = await this.getContact(tenantId, subjectHash);
    const next = change(current);
    if (next === undefined) return { contact: current, created: false };
    this.write(next);
    return { contact: copyDoc(next), created: current === undefined };
  }

  async upsert(doc: AnySubjectDocument): Promise<void> {
    this.write(doc);
  }

  async createIfAbsent<T extends AnySubjectDocument>(doc: T): Promise<{ created: true } | { created: false; existing: T }> {
    const found = this.docs.get(key(doc.pk, doc.id));
    if (found) return { created: false, existing: copyDoc(found.doc) as T };
    this.write(doc);
    return { created: true };
  }

  async findById<T extends SubjectDocumentType>(tenantId: TenantId, type: T, id: string): Promise<VersionedDocument<DocumentOf<T>> | undefined> {
    for (const value of this.docs.values()) {
      if (value.doc.id === id && value.doc.tenantId === tenantId && value.doc.type === type) {
        return { doc: copyDoc(value.doc) as DocumentOf<T>, etag: value.etag };
      }
    }
    return undefined;
  }

  async replace(doc: AnySubjectDocument, etag: string): Promise<ReplaceOutcome> {
    const found = this.docs.get(key(doc.pk, doc.id));
    if (!found) return 'gone';
    if (found.etag !== etag) return 'changed';
    this.write(doc);
    return 'replaced';
  }

  async list(subject: SubjectRef, types?: readonly SubjectDocumentType[]): Promise<SubjectDocumentKey[]> {
    return this.inPartition(subject)
      .filter((d) => !types || types.includes(d.type))
      .map((d) => ({ id: d.id, pk: d.pk, type: d.type }));
  }

  async delete(_subject: SubjectRef, docs: readonly SubjectDocumentKey[]): Promise<number> {
    return docs.filter((d) => this.docs.delete(key(d.pk, d.id))).length;
  }

  async mediaFilesOfMessage(pk: string, messageId: string): Promise<string[]> {
    return [...this.docs.values()]
      .map(({ doc }) => doc as { pk: string; type: string; messageId?: string; blobName?: string })
      .filter((doc) => doc.pk === pk && doc.type === 'mediaRef' && doc.messageId === messageId && doc.blobName)
      .map((doc) => doc.blobName!);
  }

  async removeByMessageId(pk: string, messageId: string, ids: readonly string[]): Promise<number> {
    let removed = 0;
    for (const [k, { doc }] of this.docs) {
      if (doc.pk !== pk) continue;
      if (ids.includes(doc.id) || (doc as { messageId?: string }).messageId === messageId) {
        this.docs.delete(k);
        removed += 1;
      }
    }
    return removed;
  }

  async readAll(subject: SubjectRef): Promise<Record<string, unknown>[]> {
    return this.inPartition(subject).map((d) => copyDoc(d) as unknown as Record<string, unknown>);
  }

  async summary(subject: SubjectRef): Promise<SubjectDocumentSummary[]> {
    return this.inPartition(subject).map((d) => {
      const r = d as Record<string, unknown>;
      return { type: d.type, ...pick(r, ['firstSeenAt', 'lastSeenAt', 'profileName', 'optIn']), ...(typeof r.restricted === 'boolean' ? { restricted: r.restricted } : {}), ...(typeof r.granted === 'boolean' ? { granted: r.granted } : {}) };
    });
  }

  async consents(subject: SubjectRef): Promise<ConsentDocument[]> {
    return this.inPartition(subject).filter((d): d is ConsentDocument => d.type === 'consent').map((d) => copyDoc(d));
  }

  async subjectsWithData(tenantId: TenantId, max: number): Promise<SubjectIdentifier[]> {
    const found = new Map<string, SubjectIdentifier>();
    for (const { doc } of this.docs.values()) {
      if (doc.tenantId !== tenantId || doc.type !== 'contact' || found.size >= max) continue;
      const identifier = identifierOf(doc.userId ?? doc.waId ?? doc.pk.slice(tenantId.length + 1));
      if (identifier) found.set(identifier.value, identifier);
    }
    return [...found.values()];
  }

  async deleteRemaining(tenantId: TenantId): Promise<number> {
    let deleted = 0;
    for (const [k, { doc }] of this.docs) {
      if (doc.tenantId !== tenantId) continue;
      this.docs.delete(k);
      deleted += 1;
    }
    return deleted;
  }

  async countSubjects(tenantId: TenantId): Promise<number> {
    return new Set([...this.docs.values()].filter(({ doc }) => doc.tenantId === tenantId && doc.type === 'contact').map(({ doc }) => doc.pk)).size;
  }

  private inPartition(subject: SubjectRef): AnySubjectDocument[] {
    const pks = partitionsOf(subject);
    return [...this.docs.values()].filter((v) => pks.includes(v.doc.pk)).map((v) => v.doc);
  }

  private write(doc: AnySubjectDocument): void {
    this.version += 1;
    this.docs.set(key(doc.pk, doc.id), { doc: copyDoc(doc), etag: `"${this.version}"` });
  }
}

/** Only flow responses nest (their answers); the other documents are flat, so a shallow copy is a copy. */
function copyDoc<T extends AnySubjectDocument>(doc: T): T {
  return doc.type === 'flowResponse' ? structuredClone(doc) : { ...doc };
}

function key(pk: string, id: string): string {
  return `${pk}\u0000${id}`;
}

function pick(record: Record<string, unknown>, fields: string[]): Record<string, string> {
  return Object.fromEntries(fields.filter((f) => typeof record[f] === 'string').map((f) => [f, record[f] as string]));
}
