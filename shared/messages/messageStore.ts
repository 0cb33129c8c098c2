import type { SubjectHash, TenantId } from '../domain/ids';
import type { MessageDocument } from '../subjects/documents';
import type { ReplaceOutcome, VersionedDocument } from '../subjects/subjectStore';

/**
 * Message documents of the subjects container (`type: 'message'`, in the subject's partition; the
 * adapter is shared/cosmos/messageStore.ts): content as AES-256-GCM ciphertext with its key id. In the `encrypted` mode they are the store of messages; in
 * the `hubspot` mode a document waits as `syncState: 'pending'` until HubSpot confirms, then goes.
 */
export interface MessageStore {
  /** A message document by id in whichever partition it is (queue messages carry ids only). */
  find(tenantId: TenantId, id: string): Promise<VersionedDocument<MessageDocument> | undefined>;
  replace(doc: MessageDocument, etag: string): Promise<ReplaceOutcome>;
  upsert(doc: MessageDocument): Promise<void>;
  /** 'gone' when it was not there (deleted by someone else, or erased). */
  delete(doc: Pick<MessageDocument, 'id' | 'pk'>): Promise<'deleted' | 'gone'>;
  /** Every message document of these partitions (a person's), oldest first. */
  listForSubject(tenantId: TenantId, partitions: readonly string[]): Promise<MessageDocument[]>;
}

export type { SubjectHash };
