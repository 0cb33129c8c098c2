import type { TenantId } from '../domain/ids';
import type { PrivacyDeps } from './deps';
import { createPrivacyRequest } from './createPrivacyRequest';
import type { PrivacyRequestStatus } from './privacyRequest';

/**
 * Account cancellation: every subject of the tenant is erased (one erasure request per subject, through
 * the same pipeline as any other), then what is left under the tenant's blob prefixes, then the
 * tenant's configuration, last. What stays, and why:
 * - audit events: the legal record that each right was honoured (CCPA: 24 months); they hold keyed
 *   hashes, ids, counts and timings, no personal data;
 * - erasure tombstones and the suppression list: keyed hashes only; after a backup restore they are
 *   how every erasure is re-applied, and they stop a late webhook from bringing data back;
 * - the completed privacy-request records: type, dates, outcome, keyed hash (wiped of the subject).
 * The tenant's HubSpot token lives in Key Vault, where the app cannot delete (operators remove it).
 *
 * Progress is a `checkpoint` marker, so the work is paged (at most `pageSize` new requests per step)
 * and resumes wherever it stopped: each step re-reads which subjects still have data.
 */
export const CANCELLATION_CHECKPOINT = 'tenant-cancellation';
const DEFAULT_PAGE_SIZE = 100;

export interface CancellationProgress {
  tenantId: TenantId;
  status: 'erasing' | 'blocked' | 'completed';
  cancelledAt: string;
  completedAt?: string;
  subjectsRequested: number;
  subjectsRemaining: number;
  requests: Record<PrivacyRequestStatus, number>;
  /** Why it cannot finish by itself (failed erasures to retry), when blocked. */
  reason?: string;
}

interface CancellationState {
  status: 'erasing' | 'completed';
  cancelledAt: string;
  actor: string;
  requested: number;
  completedAt?: string;
}

export type CancelResult = { kind: 'started' | 'in-progress'; progress: CancellationProgress } | { kind: 'not-found' };

export async function cancelTenant(deps: PrivacyDeps, tenantId: TenantId, actor: string): Promise<CancelResult> {
  const state = await readState(deps, tenantId);
  const tenant = await deps.tenants.get(tenantId);
  if (!tenant) return state ? { kind: 'in-progress', progress: (await cancellationProgress(deps, tenantId, state))! } : { kind: 'not-found' };
  if (state) {
    await advanceCancellation(deps, tenantId);
    return { kind: 'in-progress', progress: (await cancellationProgress(deps, tenantId))! };
  }
  const now = deps.clock.now().toISOString();
  await deps.tenants.save({ ...tenant, cancelledAt: tenant.cancelledAt ?? now });
  await writeState(deps, tenantId, { status: 'erasing', cancelledAt: now, actor, requested: 0 });
  await deps.audit.record({ tenantId, type: 'tenant.cancellation.started', actor, details: { phoneNumberIds: tenant.phoneNumberIds.length } });
  deps.telemetry.event('tenant.cancellation.started', { tenantId });
  await advanceCancellation(deps, tenantId);
  return { kind: 'started', progress: (await cancellationProgress(deps, tenantId))! };
}

/** One step: request erasure of the next page of subjects, or finish when none is left. */
export async function advanceCancellation(deps: PrivacyDeps, tenantId: TenantId, pageSize = DEFAULT_PAGE_SIZE): Promise<void> {
  const state = await readState(deps, tenantId);
  if (!state) return;
  if (state.status === 'completed') {
    await deps.tenants.delete(tenantId); // a crash between the checkpoint and the delete
    return;
  }
  const waIds = await deps.subjects.subjectsWithData(tenantId, pageSize);
  let requested = 0;
  for (const subject of waIds) {
    const result = await createPrivacyRequest(deps, { tenantId, subject, type: 'erasure', scope: 'all', channel: 'admin', actor: state.actor });
    if (result.kind === 'created') requested += 1;
    if (result.kind === 'unknown-tenant') return;
  }
  if (requested > 0) {
    const latest = (await readState(deps, tenantId)) ?? state;
    await writeState(deps, tenantId, { ...latest, requested: latest.requested + requested });
  }
  if (waIds.length > 0) return;

  const open = await openSince(deps, tenantId, state.cancelledAt);
  if (open.received + open.in_progress + open.verifying + open.failed > 0) return;

  // Nothing of a subject is left: what remains under the tenant's prefixes (media whose references
  // expired, old exports), then the configuration.
  const blobs = await deps.tenantFiles.deleteAll(tenantId);
  // Documents no contact names any more (their identifier is known only as a hash, so no request could
  // be made for them): the account is going, they go with it.
  const orphanDocuments = await deps.subjects.deleteRemaining(tenantId);
  // The HubSpot ids Flowkeeper still held for subjects whose data had already expired (no personal data;
  // what they point to is the tenant's CRM, under the tenant's HubSpot policy).
  const hubspotRecords = await deps.crmRecords.forgetTenant(tenantId);
  const completedAt = deps.clock.now().toISOString();
  await deps.audit.record({
    tenantId,
    type: 'tenant.cancellation.completed',
    actor: state.actor,
    details: { subjectsErased: state.requested, orphanBlobsDeleted: blobs, orphanDocumentsDeleted: orphanDocuments, hubspotRecordsDeleted: hubspotRecords, cancelledAt: state.cancelledAt, completedAt, kept: 'audit events, tombstones, suppression list, request records (keyed hashes only)' },
  });
  await writeState(deps, tenantId, { ...state, status: 'completed', completedAt });
  await deps.tenants.delete(tenantId);
  deps.telemetry.event('tenant.cancellation.completed', { tenantId, subjects: state.requested });
}

export async function cancellationProgress(deps: PrivacyDeps, tenantId: TenantId, known?: CancellationState): Promise<CancellationProgress | undefined> {
  const state = known ?? (await readState(deps, tenantId));
  if (!state) return undefined;
  const [requests, remaining, since] = await Promise.all([
    deps.requests.countByStatus(tenantId),
    deps.subjects.countSubjects(tenantId),
    openSince(deps, tenantId, state.cancelledAt),
  ]);
  const blocked = state.status !== 'completed' && since.failed > 0;
  return {
    tenantId,
    status: state.status === 'completed' ? 'completed' : blocked ? 'blocked' : 'erasing',
    cancelledAt: state.cancelledAt,
    ...(state.completedAt ? { completedAt: state.completedAt } : {}),
    subjectsRequested: state.requested,
    subjectsRemaining: remaining,
    requests,
    ...(blocked ? { reason: `${since.failed} erasure(s) failed: retry them (POST /api/privacy-requests/{id}/retry)` } : {}),
  };
}

/** Tenants whose cancellation is under way (the reconciler advances each by one step per run). */
export async function cancelledTenants(deps: PrivacyDeps): Promise<TenantId[]> {
  return (await deps.tenants.list()).filter((t) => t.cancelledAt).map((t) => t.id);
}

async function readState(deps: PrivacyDeps, tenantId: TenantId): Promise<CancellationState | undefined> {
  const marker = await deps.markers.get('checkpoint', tenantId, CANCELLATION_CHECKPOINT);
  if (!marker?.data) return undefined;
  const d = marker.data;
  return {
    status: d.status === 'completed' ? 'completed' : 'erasing',
    cancelledAt: String(d.cancelledAt),
    actor: String(d.actor),
    requested: Number(d.requested ?? 0),
    ...(d.completedAt ? { completedAt: String(d.completedAt) } : {}),
  };
}

async function writeState(deps: PrivacyDeps, tenantId: TenantId, state: CancellationState): Promise<void> {
  await deps.markers.put('checkpoint', tenantId, CANCELLATION_CHECKPOINT, { ttlSeconds: -1, data: { ...state } });
}

async function openSince(deps: PrivacyDeps, tenantId: TenantId, since: string): Promise<Record<PrivacyRequestStatus, number>> {
  const docs = await deps.requests.listByStatus(['received', 'in_progress', 'verifying', 'failed'], { tenantId, limit: 100_000 });
  const counts: Record<PrivacyRequestStatus, number> = { received: 0, in_progress: 0, verifying: 0, completed: 0, failed: 0 };
  for (const d of docs) if (d.status !== 'failed' || d.receivedAt >= since) counts[d.status] += 1;
  return counts;
}
