import type { TenantId } from '../domain/ids';
import type { Marker, MarkerStore } from '../markers/markerStore';

export type CheckpointData = NonNullable<Marker['data']>;

/**
 * Where a paged job stopped, per scope (a tenant id, or `system` for the run itself). Kept as `checkpoint`
 * markers with a TTL of a few days: rewritten after every page, so only an abandoned one ever expires.
 */
export interface CheckpointStore {
  get(scope: TenantId | 'system', key: string): Promise<CheckpointData | undefined>;
  put(scope: TenantId | 'system', key: string, data: CheckpointData): Promise<void>;
  delete(scope: TenantId | 'system', key: string): Promise<void>;
}

const CHECKPOINT_TTL_SECONDS = 7 * 86_400;

export function markerCheckpoints(markers: MarkerStore): CheckpointStore {
  // 'system' is not a tenant: its checkpoints use keys no tenant checkpoint uses (see retentionSweep.ts).
  const asTenant = (scope: TenantId | 'system') => scope as TenantId;
  return {
    async get(scope, key) {
      return (await markers.get('checkpoint', asTenant(scope), key))?.data;
    },
    async put(scope, key, data) {
      await markers.put('checkpoint', asTenant(scope), key, { ttlSeconds: CHECKPOINT_TTL_SECONDS, data });
    },
    async delete(scope, key) {
      await markers.delete('checkpoint', asTenant(scope), key);
    },
  };
}
