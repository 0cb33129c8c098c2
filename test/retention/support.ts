import type { ContainerClient } from '@azure/storage-blob';
import type { TenantId } from '../../shared/domain';
import type { BlobSweepTarget, RetentionSweepPorts } from '../../shared/retention';
import { rootOf } from '../../shared/runtime';
import { CosmosAuditLog } from '../../shared/cosmos';
import { retentionSchema, type Retention } from '../../shared/tenants';
import type { TestServices } from '../support/testServices';
import { type ManualClock } from '../doubles';

export const DAY_MS = 86_400_000;

export function daysAgo(clock: ManualClock, days: number): string {
  return new Date(clock.now().getTime() - days * DAY_MS).toISOString();
}

/** Uploads a tiny blob; `createdAt` goes to the `createdat` metadata (Azurite sets createdOn to the real time). */
export async function putBlob(container: ContainerClient, name: string, createdAt?: string): Promise<void> {
  await container.getBlockBlobClient(name).upload('x', 1, createdAt ? { metadata: { createdat: createdAt } } : {});
}

/** A snapshot of a blob; `createdAt` (metadata) makes it older than its real snapshot time. */
export async function snapshot(container: ContainerClient, name: string, createdAt?: string): Promise<string> {
  const { snapshot: id } = await container.getBlobClient(name).createSnapshot(createdAt ? { metadata: { createdat: createdAt } } : {});
  if (!id) throw new Error('no snapshot id');
  return `${name}@${id}`;
}

/**
 * Every entry under a prefix as `name` or `name@snapshot`, in pages of 5000 (more than any test writes),
 * so Azurite's page-boundary quirk (see blobSweep.ts) cannot hide anything from the assertion itself.
 */
export async function entriesUnder(container: ContainerClient, prefix: string): Promise<string[]> {
  const entries: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix, includeSnapshots: true })) {
    entries.push(blob.snapshot ? `${blob.name}@${blob.snapshot}` : blob.name);
  }
  return entries.sort();
}

export function tenantWith(id: string, retention: Partial<Retention> = {}): { id: TenantId; retention: Retention } {
  return { id: id as TenantId, retention: retentionSchema.parse(retention) };
}

/** The sweep's real adapters over the test services, with the tenants given. */
export function sweepPorts(
  s: TestServices,
  tenants: { id: TenantId; retention: Retention }[],
  override: Partial<RetentionSweepPorts> = {},
): RetentionSweepPorts {
  return {
    ...rootOf(s).retentionSweep,
    tenants: { list: async () => tenants },
    ...override,
  };
}

/** A target whose deletes fail after `limit` successful ones: a crash in the middle of a page. */
export function crashingAfter(target: BlobSweepTarget, limit: number): BlobSweepTarget & { deletes: () => number } {
  let deletes = 0;
  return {
    listPage: (prefix, options) => target.listPage(prefix, options),
    deleteEntry: async (entry) => {
      if (deletes >= limit) throw new Error('simulated crash: the host stopped the worker');
      deletes += 1;
      return target.deleteEntry(entry);
    },
    deletes: () => deletes,
  };
}

export async function auditEvents(s: TestServices, tenantId: string, type: string) {
  return new CosmosAuditLog(s.cosmos.audit, s.clock).query(tenantId as TenantId, new Date(0), new Date(s.clock.now().getTime() + DAY_MS), { type });
}
