import { erasureCovering } from '../markers/erasureFence';
import type { PrivacyDeps } from './deps';
import type { PrivacyRequestDocument } from './privacyRequest';

export type ExportResult =
  | { kind: 'ok'; request: PrivacyRequestDocument; content: Buffer }
  | { kind: 'not-found' }
  | { kind: 'not-ready'; request: PrivacyRequestDocument }
  | { kind: 'expired'; request: PrivacyRequestDocument }
  /** An erasure of the subject, in flight or completed after the export was made, covers it. */
  | { kind: 'erased'; request: PrivacyRequestDocument; erasureId: string };

/**
 * GET /api/privacy-requests/{id}/export: the JSON export of a completed access request, until it
 * expires (410 afterwards, also when an erasure or the retention sweep removed it).
 */
export async function readAccessExport(deps: PrivacyDeps, requestId: string): Promise<ExportResult> {
  const request = await deps.requests.get(requestId);
  if (!request || request.type !== 'access') return { kind: 'not-found' };
  if (request.status !== 'completed' || !request.export) return { kind: 'not-ready', request };
  if (request.export.erasedBy) return { kind: 'erased', request, erasureId: request.export.erasedBy };
  if (Date.parse(request.export.expiresAt) <= deps.clock.now().getTime()) return { kind: 'expired', request };
  // Looked at when served as well: the export's data was read at its start, and an erasure since covers it.
  const madeAt = new Date(request.startedAt ?? request.receivedAt);
  const cover = await erasureCovering(deps.markers, request.tenantId, request.subjectHash, madeAt);
  if (cover) return { kind: 'erased', request, erasureId: cover.requestId };
  const content = await deps.exports.read(request.export.blobName);
  return content ? { kind: 'ok', request, content } : { kind: 'expired', request };
}

/**
 * Deletes the access exports past their `expiresAt` (for the retention sweep: an export is a full copy
 * of a subject's data and must not outlive the tenant's `exportDays`). Returns how many were deleted.
 */
export async function sweepExpiredExports(deps: PrivacyDeps, limit = 500): Promise<number> {
  const now = deps.clock.now().toISOString();
  const resources = await deps.requests.listExpiredExports(now, limit);
  let deleted = 0;
  for (const request of resources) {
    if (await deps.exports.delete(request.export!.blobName)) deleted += 1;
    await deps.requests.mutate(request.id, (d) => (d.export && !d.export.deletedAt ? { ...d, export: { ...d.export, deletedAt: now } } : undefined));
  }
  return deleted;
}
