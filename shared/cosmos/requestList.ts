import type { Container } from '@azure/cosmos';
import type { RequestListSource } from '../metrics/requestList';

/** The operator's list of privacy requests over the `privacyRequests` container (cross-partition, newest first). */
export function cosmosRequestList(container: Container): RequestListSource {
  return {
    async list(filter, now) {
      const where = ["c.docType = 'request'"];
      const parameters: { name: string; value: string | string[] }[] = [];
      if (filter.tenants) {
        where.push('ARRAY_CONTAINS(@tenants, c.tenantId)');
        parameters.push({ name: '@tenants', value: [...filter.tenants] });
      }
      if (filter.status) {
        where.push('c.status = @status');
        parameters.push({ name: '@status', value: filter.status });
      }
      if (filter.overdue) {
        where.push("c.status != 'completed' AND c.dueAt <= @now");
        parameters.push({ name: '@now', value: now.toISOString() });
      }
      // The projection leaves out the encrypted subject and rectification references: a list never needs them.
      const iterator = container.items.query<unknown>(
        {
          query:
            'SELECT c.id, c.docType, c.tenantId, c.type, c.scope, c.channel, c.screen, c.actor, c.subjectHash, c.openKey, c.status, c.receivedAt, c.dueAt, ' +
            'c.enqueuedAt, c.startedAt, c.completedAt, c.failedAt, c.updatedAt, c.failure, c.attempts, c.tasks, c.verification, c.export, c.outcome, c.ttl ' +
            `FROM c WHERE ${where.join(' AND ')} ORDER BY c.receivedAt DESC`,
          parameters,
        },
        { maxItemCount: Math.min(filter.limit, 100) },
      );
      const out: unknown[] = [];
      while (out.length < filter.limit && iterator.hasMoreResults()) {
        const { resources } = await iterator.fetchNext();
        out.push(...resources);
      }
      return out.slice(0, filter.limit);
    },
  };
}
