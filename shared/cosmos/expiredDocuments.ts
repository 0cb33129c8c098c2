import type { Container } from '@azure/cosmos';
import { z } from 'zod';
import type { ExpiredDocumentSource } from '../retention/expiredDocuments';
import { isNotFound, isPreconditionFailed } from './cosmosStore';

const found = z.object({ id: z.string(), pk: z.string(), kind: z.string().optional(), _etag: z.string() });

/**
 * Over a Cosmos container (`subjects` or `markers`). The query is cross-partition by nature (expired
 * documents are spread over every subject), filtered on `tenantId` and the `expiresAt` range; the delete
 * is a point operation on id + partition key, conditional on the etag the query saw.
 */
export function cosmosExpiredDocuments(container: Container, kindField: 'type' | 'kind'): ExpiredDocumentSource {
  return {
    async findExpired(tenantId, now, max) {
      const { resources } = await container.items
        .query<Record<string, unknown>>(
          {
            query: `SELECT TOP @max c.id, c.pk, c.${kindField} AS kind, c._etag FROM c WHERE c.tenantId = @tenantId AND c.expiresAt <= @now`,
            parameters: [
              { name: '@max', value: max },
              { name: '@tenantId', value: tenantId },
              { name: '@now', value: now.toISOString() },
            ],
          },
          { maxItemCount: max },
        )
        .fetchNext();
      return resources.map((r) => {
        const doc = found.parse(r);
        return { id: doc.id, pk: doc.pk, kind: doc.kind ?? 'unknown', etag: doc._etag };
      });
    },
    async delete(document) {
      try {
        await container.item(document.id, document.pk).delete({ accessCondition: { type: 'IfMatch', condition: document.etag } });
        return 'deleted';
      } catch (error) {
        if (isNotFound(error)) return 'gone';
        if (isPreconditionFailed(error)) return 'changed';
        throw error;
      }
    },
  };
}
