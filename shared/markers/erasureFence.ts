import type { TenantId } from '../domain/ids';
import type { Marker, MarkerKind } from './markerStore';

/**
 * The per-subject ordering rule (docs/privacy-requests.md, "One ordering rule per subject"): an erasure
 * fences its subject from the moment it is received until it has completed. Anything about the subject
 * that arrives in between is included in the erasure: not stored, or removed again by its writer. After
 * completion the tombstone takes over: whatever is dated at or before `erasedAt` is dropped.
 *
 * Every writer follows the same two steps, so a check-then-write race cannot leave a copy:
 *   1. before writing, `erasureCovering` — covered: write nothing;
 *   2. after writing, `erasureCovering` again — covered now: delete what it wrote.
 * The erasure keeps the fence until after "completed" and writes the tombstone before that, so at every
 * moment from the fence on at least one of the two is there for step 2 to see.
 */
export interface FenceMarkers {
  get(kind: MarkerKind, tenantId: TenantId, key: string): Promise<Marker | undefined>;
  put(kind: MarkerKind, tenantId: TenantId, key: string, options?: { ttlSeconds?: number; data?: Marker['data'] }): Promise<Marker>;
  delete(kind: MarkerKind, tenantId: TenantId, key: string): Promise<void>;
}

export interface ErasureCover {
  requestId: string;
  /** `in-progress`: the fence; `erased`: the tombstone of a completed erasure at or after the data's time. */
  state: 'in-progress' | 'erased';
}

/** The fence of one erasure: written when it is received and again (idempotently) when it is planned. */
export async function fenceSubject(markers: FenceMarkers, tenantId: TenantId, subjectHash: string, fence: { requestId: string; since: string; scope: string }): Promise<void> {
  await markers.put('fence', tenantId, subjectHash, { ttlSeconds: -1, data: fence });
}

/**
 * Whether an erasure covers data of this subject dated `dataAt` (a message's timestamp, an export's read
 * time): an erasure in flight covers everything; a completed one covers what is dated at or before it.
 */
export async function erasureCovering(markers: Pick<FenceMarkers, 'get'>, tenantId: TenantId, subjectHash: string, dataAt: Date): Promise<ErasureCover | undefined> {
  const [fence, tombstone] = await Promise.all([markers.get('fence', tenantId, subjectHash), markers.get('tombstone', tenantId, subjectHash)]);
  return coverOf(fence, tombstone, dataAt);
}

/** `erasureCovering` for a caller that read the fence and the tombstone already. */
export function coverOf(fence: Marker | undefined, tombstone: Marker | undefined, dataAt: Date): ErasureCover | undefined {
  if (fence) return { requestId: String(fence.data?.requestId ?? ''), state: 'in-progress' };
  if (tombstone && !(dataAt.getTime() > erasedAtOf(tombstone))) return { requestId: String(tombstone.data?.requestId ?? ''), state: 'erased' };
  return undefined;
}

export function erasedAtOf(tombstone: Marker): number {
  return Date.parse(String(tombstone.data?.erasedAt ?? tombstone.at));
}

/**
 * Lifts this request's fence once it has completed (after the tombstone). A fence another erasure of the
 * subject wrote since stays: it is that erasure's to lift.
 */
export async function liftFence(markers: FenceMarkers, tenantId: TenantId, subjectHash: string, requestId: string): Promise<void> {
  const fence = await markers.get('fence', tenantId, subjectHash);
  if (fence && fence.data?.requestId === requestId) await markers.delete('fence', tenantId, subjectHash);
}
