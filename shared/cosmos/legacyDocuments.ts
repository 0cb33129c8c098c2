import type { Container } from '@azure/cosmos';
import { legacyWaIdOfPartitionKey, type TenantId } from '../domain/ids';
import type { LegacyDocumentStore } from '../identity/migration';
import { isConflict, isNotFound } from './cosmosStore';

/**
 * The identity migration's view of the `subjects` container: the tenant's documents still under a
 * legacy key (`<tenantId>|<waId>`), read a page at a time (a cross-partition query of ids and keys).
 */
export function cosmosLegacyDocuments(container: Container): LegacyDocumentStore {
  return {
    async *legacyKeys(tenantId: TenantId) {
      const iterator = container.items.query<{ id: string; pk: string }>(
        { query: 'SELECT c.id, c.pk FROM c WHERE c.tenantId = @tenantId', parameters: [{ name: '@tenantId', value: tenantId }] },
        { maxItemCount: 500 },
      );
      while (iterator.hasMoreResults()) {
        const { resources } = await iterator.fetchNext();
        const legacy = resources.filter((r) => legacyWaIdOfPartitionKey(tenantId, r.pk) !== undefined);
        if (legacy.length > 0) yield legacy;
      }
    },
    async idsIn(pk) {
      const { resources } = await container.items
        .query<{ id: string }>({ query: 'SELECT c.id FROM c WHERE c.pk = @pk', parameters: [{ name: '@pk', value: pk }] }, { partitionKey: pk })
        .fetchAll();
      return resources.map((r) => r.id);
    },
    async read(pk, id) {
      try {
        const { resource } = await container.item(id, pk).read<Record<string, unknown>>();
        return resource ?? undefined;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async createIfAbsent(doc) {
      try {
        await container.items.create(doc);
        return true;
      } catch (error) {
        if (isConflict(error)) return false;
        throw error;
      }
    },
    async replace(doc) {
      const { _etag, ...rest } = doc;
      await container.item(String(rest.id), String(rest.pk)).replace(rest, typeof _etag === 'string' ? { accessCondition: { type: 'IfMatch', condition: _etag } } : {});
    },
    async delete(pk, id) {
      try {
        await container.item(id, pk).delete();
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    },
  };
}
