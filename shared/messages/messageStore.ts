import type { Container } from '@azure/cosmos';
import { isNotFound } from '../cosmos/cosmosStore';
import { subjectPartitionKey, type TenantId, type WaId } from '../domain/ids';
import { messageDocument, type MessageDocument } from '../subjects/documents';
import { CosmosSubjectStore, type ReplaceOutcome, type Versioned } from '../subjects/subjectStore';

/**
 * Message documents of the subjects container (`type: 'message'`, in the subject's partition): content
 * as AES-256-GCM ciphertext with its key id. In the `encrypted` mode they are the store of messages; in
 * the `hubspot` mode a document waits as `syncState: 'pending'` until HubSpot confirms, then goes.
 */
export interface MessageStore {
  /** A message document by id in whichever partition it is (queue messages carry ids only). */
  find(tenantId: TenantId, id: string): Promise<Versioned<MessageDocument> | undefined>;
  replace(doc: MessageDocument, etag: string): Promise<ReplaceOutcome>;
  upsert(doc: MessageDocument): Promise<void>;
  /** 'gone' when it was not there (deleted by someone else, or erased). */
  delete(doc: Pick<MessageDocument, 'id' | 'pk'>): Promise<'deleted' | 'gone'>;
  /** Every message document of one subject, oldest first. */
  listForSubject(tenantId: TenantId, waId: WaId): Promise<MessageDocument[]>;
}

export class CosmosMessageStore implements MessageStore {
  private readonly subjects: CosmosSubjectStore;

  constructor(private readonly container: Container) {
    this.subjects = new CosmosSubjectStore(container);
  }

  find(tenantId: TenantId, id: string): Promise<Versioned<MessageDocument> | undefined> {
    return this.subjects.findById(tenantId, 'message', id);
  }

  replace(doc: MessageDocument, etag: string): Promise<ReplaceOutcome> {
    return this.subjects.replace(doc, etag);
  }

  upsert(doc: MessageDocument): Promise<void> {
    return this.subjects.upsert(doc);
  }

  async delete(doc: Pick<MessageDocument, 'id' | 'pk'>): Promise<'deleted' | 'gone'> {
    try {
      await this.container.item(doc.id, doc.pk).delete();
      return 'deleted';
    } catch (error) {
      if (isNotFound(error)) return 'gone';
      throw error;
    }
  }

  async listForSubject(tenantId: TenantId, waId: WaId): Promise<MessageDocument[]> {
    const pk = subjectPartitionKey(tenantId, waId);
    const { resources } = await this.container.items
      .query<Record<string, unknown>>(
        {
          // The emulator ignores the partitionKey option: the WHERE clause names the partition too.
          query: "SELECT * FROM c WHERE c.pk = @pk AND c.type = 'message'",
          parameters: [{ name: '@pk', value: pk }],
        },
        { partitionKey: pk },
      )
      .fetchAll();
    return resources.map((r) => messageDocument.parse(r)).sort((a, b) => a.sentAt.localeCompare(b.sentAt) || a.id.localeCompare(b.id));
  }
}

/** The wa_id of a subject partition key (`<tenantId>|<waId>`). */
export function waIdOfPartition(pk: string): string {
  return pk.slice(pk.indexOf('|') + 1);
}
