import type { Container } from '@azure/cosmos';
import type { RequestDeadlineSource } from '../retention/deadlineWatch';

/**
 * Over the `privacyRequests` container: a cross-partition range query on `dueAt`, so a run reads the
 * requests near their deadline, not every request ever received.
 */
export function cosmosRequestDeadlines(container: Container): RequestDeadlineSource {
  return {
    async *openDueBefore(dueBefore, pageSize) {
      const iterator = container.items.query<Record<string, unknown>>(
        {
          query:
            "SELECT c.id, c.tenantId, c.type, c.status, c.dueAt, c.receivedAt FROM c WHERE c.dueAt <= @dueBefore AND c.status != 'completed'",
          parameters: [{ name: '@dueBefore', value: dueBefore.toISOString() }],
        },
        { maxItemCount: pageSize },
      );
      while (iterator.hasMoreResults()) {
        const { resources } = await iterator.fetchNext();
        if (resources.length > 0) yield resources;
      }
    },
  };
}
