import { z } from 'zod';
import type { SubjectHash, TenantId } from '../domain/ids';
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

/** The schema of each document type, for reading documents back (adapters parse what they read). */
export const subjectDocumentSchemas = {
  contact: storedContact,
  flowResponse: flowResponseDocument,
  message: messageDocument,
  mediaRef: mediaRefDocument,
  consent: consentDocument,
} as const;
type Schemas = typeof subjectDocumentSchemas;
export type DocumentOf<T extends SubjectDocumentType> = z.infer<Schemas[T]>;
export type AnySubjectDocument = DocumentOf<SubjectDocumentType>;

/** A document with the version it was read at, for a write that must not overwrite a newer one. */
export interface VersionedDocument<T> {
  doc: T;
  etag: string;
}

export type ReplaceOutcome = 'replaced' | 'gone' | 'changed';

/**
 * A subject's documents, as the webhook and the workers write them (shared/cosmos/subjectRepository.ts in
 * the app: the `subjects` container, one partition per subject). Writes are keyed
 * by ids derived from Meta's ids, so a retried delivery writes the same documents again, harmlessly.
 */
export interface SubjectStore {
  /** The contact of one identifier's partition (`subjectHash`: the identifier's keyed hash). */
  getContact(tenantId: TenantId, subjectHash: SubjectHash): Promise<StoredContact | undefined>;
  /**
   * Read-modify-write of the contact with optimistic concurrency (retried on a concurrent change).
   * `change` returns the new contact, or `undefined` to leave it as it is.
   */
  updateContact(
    tenantId: TenantId,
    subjectHash: SubjectHash,
    change: (current: StoredContact | undefined) => StoredContact | undefined,
  ): Promise<{ contact: StoredContact | undefined; created: boolean }>;
  upsert(doc: AnySubjectDocument): Promise<void>;
  /** Creates the document unless one with its id exists; returns the existing one then. */
  createIfAbsent<T extends AnySubjectDocument>(doc: T): Promise<{ created: true } | { created: false; existing: T }>;
  /**
   * A document by id, type and tenant, in whichever partition it is (a cross-partition query): queue
   * messages carry ids only. `undefined` when it is gone, for example because the subject was erased.
   */
  findById<T extends SubjectDocumentType>(tenantId: TenantId, type: T, id: string): Promise<VersionedDocument<DocumentOf<T>> | undefined>;
  /**
   * Deletes what one partition holds of one WhatsApp message (a `revoke`): the documents with these ids
   * and any whose `messageId` is it (a media reference). Returns how many were deleted.
   */
  removeByMessageId(pk: string, messageId: string, ids: readonly string[]): Promise<number>;
  /** The Blob names of the media files one partition holds of one WhatsApp message (read before a `revoke` removes their references). */
  mediaFilesOfMessage(pk: string, messageId: string): Promise<string[]>;
  /** Replaces a document only if it is still at `etag`. */
  replace(doc: AnySubjectDocument, etag: string): Promise<ReplaceOutcome>;
  /** Deletes these documents of the subject (a writer undoing its own write); one already gone counts as done. */
  delete(subject: { tenantId: TenantId }, docs: readonly { id: string; pk: string }[]): Promise<number>;
}

