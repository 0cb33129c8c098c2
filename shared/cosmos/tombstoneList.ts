import type { Container } from '@azure/cosmos';
import type { TenantId } from '../domain/ids';
import type { TombstoneEntry, TombstoneList } from '../operations/tombstones';
import { ERASURE_SCOPES } from '../privacy/privacyRequest';

/** Every erasure tombstone of a tenant, from the `markers` container: the keyed hash, when, which scope. */
export function cosmosTombstoneList(markers: Container): TombstoneList {
  return {
    async list(tenantId: TenantId): Promise<TombstoneEntry[]> {
      const iterator = markers.items.query<{ key: string; at: string; data?: { erasedAt?: unknown; scope?: unknown } | null }>(
        { query: "SELECT c.key, c.at, c.data FROM c WHERE c.kind = 'tombstone' AND c.tenantId = @tenantId", parameters: [{ name: '@tenantId', value: tenantId }] },
        { maxItemCount: 1000 },
      );
      const out: TombstoneEntry[] = [];
      while (iterator.hasMoreResults()) {
        const { resources } = await iterator.fetchNext();
        for (const r of resources) {
          const erasedAt = typeof r.data?.erasedAt === 'string' ? r.data.erasedAt : r.at;
          const scope = ERASURE_SCOPES.find((s) => s === r.data?.scope);
          out.push({ subjectHash: r.key, erasedAt, ...(scope ? { scope } : {}) });
        }
      }
      return out;
    },
  };
}
