import { z } from 'zod';
import { hashIdentifier } from '../crypto/subjectKeys';
import type { SubjectIdentifier, TenantId } from '../domain/ids';
import type { MarkerStore } from '../markers/markerStore';
import { createPrivacyRequest, ERASURE_SCOPES, type PrivacyDeps } from '../privacy';

/**
 * Tombstones for restoring from a backup. A point-in-time restore of Cosmos DB brings back the documents of
 * subjects erased after the restore point, and loses their tombstones. Before the app is pointed at the
 * restored account, the operator exports the tombstones of the current account (keyed hashes and dates only:
 * no personal data, safe to keep in a file) and re-applies them to the restored one: every tombstone is
 * written again, and every tombstoned subject that has data again is erased again, through the normal
 * erasure path. Re-applying twice does nothing the second time (tombstones already there, an erasure in
 * progress is the open request that an identical one reuses, a subject with no data is not erased).
 */
export const TOMBSTONE_EXPORT_FORMAT = 'flowkeeper-tombstones/1';

export const tombstoneExportSchema = z
  .object({
    format: z.literal(TOMBSTONE_EXPORT_FORMAT, { error: `must be "${TOMBSTONE_EXPORT_FORMAT}"` }),
    tenantId: z.string(),
    exportedAt: z.string().datetime({ offset: true, error: 'must be an ISO 8601 date-time' }),
    tombstones: z
      .array(
        z
          .object({
            subjectHash: z.string().regex(/^[0-9a-f]{64}$/, 'must be a keyed hash (64 hex digits)'),
            erasedAt: z.string().datetime({ offset: true, error: 'must be an ISO 8601 date-time' }),
            scope: z.enum(ERASURE_SCOPES).optional(),
          })
          .strict(),
        { error: 'must be a list of {subjectHash, erasedAt, scope}' },
      )
      .max(1_000_000),
  })
  .strict();
export type TombstoneExport = z.infer<typeof tombstoneExportSchema>;
export type TombstoneEntry = TombstoneExport['tombstones'][number];

/** Reading every tombstone of a tenant (shared/cosmos/tombstoneList.ts). */
export interface TombstoneList {
  list(tenantId: TenantId): Promise<TombstoneEntry[]>;
}

export interface TombstonePorts {
  privacy: PrivacyDeps;
  markers: Pick<MarkerStore, 'get' | 'put'>;
  tombstones: TombstoneList;
}

export async function exportTombstones(ports: TombstonePorts, tenantId: TenantId): Promise<TombstoneExport> {
  const tombstones = (await ports.tombstones.list(tenantId)).sort((a, b) => a.erasedAt.localeCompare(b.erasedAt) || a.subjectHash.localeCompare(b.subjectHash));
  return { format: TOMBSTONE_EXPORT_FORMAT, tenantId, exportedAt: ports.privacy.clock.now().toISOString(), tombstones };
}

export interface ReapplyResult {
  tenantId: TenantId;
  tombstones: number;
  /** Tombstones that were missing (the restore lost them) and were written again. */
  restored: number;
  /** Subjects with data although tombstoned, each erased again: request ids and keyed hashes only. */
  erasures: { requestId: string; subjectHash: string; reused: boolean }[];
  /** Subjects the scan looked at (those with documents in Cosmos DB). */
  subjectsScanned: number;
}

/** How many subjects of a tenant one reapply looks at (in Cosmos DB: those with any document). */
const MAX_SUBJECTS = 100_000;

export async function reapplyTombstones(ports: TombstonePorts, tenantId: TenantId, file: TombstoneExport, actor: string): Promise<ReapplyResult | { kind: 'unknown-tenant' }> {
  const tenant = await ports.privacy.tenants.get(tenantId);
  if (!tenant) return { kind: 'unknown-tenant' };
  let restored = 0;
  for (const entry of file.tombstones) {
    if (await ports.markers.get('tombstone', tenantId, entry.subjectHash)) continue;
    await ports.markers.put('tombstone', tenantId, entry.subjectHash, { ttlSeconds: -1, at: new Date(entry.erasedAt), data: { erasedAt: entry.erasedAt, ...(entry.scope ? { scope: entry.scope } : {}), reappliedFrom: file.exportedAt } });
    restored += 1;
  }
  // The hash cannot be reversed: each subject that has data is hashed and looked up among the tombstones.
  const tombstoned = new Map(file.tombstones.map((t) => [t.subjectHash, t]));
  const subjects: SubjectIdentifier[] = await ports.privacy.subjects.subjectsWithData(tenantId, MAX_SUBJECTS);
  const erasures: ReapplyResult['erasures'] = [];
  for (const subject of subjects) {
    // Each identifier of a subject is its own partition; a tombstone names one of them (erasures write one per identifier).
    const subjectHash = await hashIdentifier(ports.privacy.secrets, tenantId, subject);
    const entry = tombstoned.get(subjectHash);
    if (!entry) continue;
    const created = await createPrivacyRequest(ports.privacy, { tenantId, subject, type: 'erasure', scope: entry.scope ?? 'all', channel: 'admin', actor });
    if (created.kind === 'unknown-tenant') return { kind: 'unknown-tenant' };
    erasures.push({ requestId: created.request.id, subjectHash, reused: created.kind === 'existing' });
  }
  return { tenantId, tombstones: file.tombstones.length, restored, erasures, subjectsScanned: subjects.length };
}
