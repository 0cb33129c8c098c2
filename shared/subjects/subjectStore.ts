import type { Container } from '@azure/cosmos';
import { z } from 'zod';
import { isConflict, isNotFound, isPreconditionFailed } from '../cosmos/cosmosStore';
import { subjectPartitionKey, type TenantId, type WaId } from '../domain/ids';
import {
  consentDocument,
  contactDocument,
  flowResponseDocument,
  mediaRefDocument,
  messageDocument,
  type SubjectDocumentType,
} from './documents';

/**
 * The contact as the webhook keeps it: the shared contact document plus when the last opt-in change
 * (STOP / START) happened by the message's own clock, so a STOP delivered after a newer START does not
 * win (Meta may deliver out of order).
 */
export const storedContact = contactDocument.extend({ optInEventAt: z.string().optional() });
export type StoredContact = z.infer<typeof storedContact>;

const schemas = {
  contact: storedContact,
  flowResponse: flowResponseDocument,
  message: messageDocument,
  mediaRef: mediaRefDocument,
  consent: consentDocument,
} as const;
type Schemas = typeof schemas;
export type DocumentOf<T extends SubjectDocumentType> = z.infer<Schemas[T]>;
export type AnySubjectDocument = DocumentOf<SubjectDocumentType>;

/** A document with the version it was read at, for a write that must not overwrite a newer one. */
export interface Versioned<T> {
  doc: T;
  etag: string;
}

export type ReplaceOutcome = 'replaced' | 'gone' | 'changed';

/**
 * A subject's documents in the `subjects` container (partition `<tenantId>|<waId>`). Writes are keyed
 * by ids derived from Meta's ids, so a retried delivery writes the same documents again, harmlessly.
 */
export interface SubjectStore {
  getContact(tenantId: TenantId, waId: WaId): Promise<StoredContact | undefined>;
  /**
   * Read-modify-write of the contact with optimistic concurrency (retried on a concurrent change).
   * `change` returns the new contact, or `undefined` to leave it as it is.
   */
  updateContact(
    tenantId: TenantId,
    waId: WaId,
    change: (current: StoredContact | undefined) => StoredContact | undefined,
  ): Promise<{ contact: StoredContact | undefined; created: boolean }>;
  upsert(doc: AnySubjectDocument): Promise<void>;
  /** Creates the document unless one with its id exists; returns the existing one then. */
  createIfAbsent<T extends AnySubjectDocument>(doc: T): Promise<{ created: true } | { created: false; existing: T }>;
  /**
   * A document by id, type and tenant, in whichever partition it is (a cross-partition query): queue
   * messages carry ids only. `undefined` when it is gone, for example because the subject was erased.
   */
  findById<T extends SubjectDocumentType>(tenantId: TenantId, type: T, id: string): Promise<Versioned<DocumentOf<T>> | undefined>;
  /** Replaces a document only if it is still at `etag`. */
  replace(doc: AnySubjectDocument, etag: string): Promise<ReplaceOutcome>;
}

const MAX_CONTACT_ATTEMPTS = 8;

export class CosmosSubjectStore implements SubjectStore {
  constructor(private readonly container: Container) {}

  async getContact(tenantId: TenantId, waId: WaId): Promise<StoredContact | undefined> {
    return (await this.readContact(tenantId, waId))?.doc;
  }

  async updateContact(
    tenantId: TenantId,
    waId: WaId,
    change: (current: StoredContact | undefined) => StoredContact | undefined,
  ): Promise<{ contact: StoredContact | undefined; created: boolean }> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.readContact(tenantId, waId);
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
      return { created: false, existing: schemas[doc.type].parse(resource) as T };
    }
  }

  async findById<T extends SubjectDocumentType>(tenantId: TenantId, type: T, id: string): Promise<Versioned<DocumentOf<T>> | undefined> {
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
    return { doc: schemas[type].parse(found) as DocumentOf<T>, etag: String(found._etag) };
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

  private async readContact(tenantId: TenantId, waId: WaId): Promise<Versioned<StoredContact> | undefined> {
    try {
      const { resource } = await this.container.item('contact', subjectPartitionKey(tenantId, waId)).read<Record<string, unknown>>();
      return resource ? { doc: storedContact.parse(resource), etag: String(resource._etag) } : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}

/** The same store in memory, for unit tests and the benchmark. Documents are copied in and out. */
export class InMemorySubjectStore implements SubjectStore {
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

  async getContact(tenantId: TenantId, waId: WaId): Promise<StoredContact | undefined> {
    const found = this.docs.get(key(subjectPartitionKey(tenantId, waId), 'contact'));
    return found ? (copyDoc(found.doc) as StoredContact) : undefined;
  }

  async updateContact(
    tenantId: TenantId,
    waId: WaId,
    change: (current: StoredContact | undefined) => StoredContact | undefined,
  ): Promise<{ contact: StoredContact | undefined; created: boolean }> {
    const current = await this.getContact(tenantId, waId);
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

  async findById<T extends SubjectDocumentType>(tenantId: TenantId, type: T, id: string): Promise<Versioned<DocumentOf<T>> | undefined> {
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
