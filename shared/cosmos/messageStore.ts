import type { Container } from '@azure/cosmos';
import type { TenantId } from '../domain/ids';
import type { MessageStore } from '../messages/messageStore';
import { messageDocument, type MessageDocument } from '../subjects/documents';
import type { ReplaceOutcome, VersionedDocument } from '../subjects/subjectStore';
import { isNotFound } from './cosmosStore';
import { CosmosSubjectRepository } from './subjectRepository';

/** Message documents in the Cosmos `subjects` container, in the subject's partition. */
export class CosmosMessageStore implements MessageStore {
  private readonly subjects: CosmosSubjectRepository;

  constructor(private readonly container: Container) {
    this.subjects = new CosmosSubjectRepository(container);
  }

  find(tenantId: TenantId, id: string): Promise<VersionedDocument<MessageDocument> | undefined> {
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

  async listForSubject(_tenantId: TenantId, partitions: readonly string[]): Promise<MessageDocument[]> {
    const found = await Promise.all(
      partitions.map(async (pk) => {
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
        return resources;
      }),
    );
    return found.flat().map((r) => messageDocument.parse(r)).sort((a, b) => a.sentAt.localeCompare(b.sentAt) || a.id.localeCompare(b.id));
  }
}
