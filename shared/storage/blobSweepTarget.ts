import type { ContainerClient } from '@azure/storage-blob';
import type { BlobSweepTarget } from '../retention/blobSweep';

/** The retention sweep's Blob target over a real container (Azure or Azurite). */
export function blobSweepTarget(container: ContainerClient): BlobSweepTarget {
  return {
    async listPage(prefix, { continuationToken, maxPageSize }) {
      const pages = container
        .listBlobsFlat({ prefix, includeSnapshots: true, includeVersions: true, includeMetadata: true })
        .byPage({ maxPageSize, ...(continuationToken ? { continuationToken } : {}) });
      const { value, done } = await pages.next();
      if (done || !value) return { items: [] };
      const items = value.segment.blobItems.map((b) => ({
        name: b.name,
        ...(b.snapshot ? { snapshot: b.snapshot } : {}),
        ...(b.versionId ? { versionId: b.versionId } : {}),
        ...(b.isCurrentVersion !== undefined ? { isCurrentVersion: b.isCurrentVersion } : {}),
        ...(b.properties.createdOn ? { createdOn: b.properties.createdOn } : {}),
        ...(b.metadata ? { metadata: b.metadata } : {}),
      }));
      return { items, ...(value.continuationToken ? { continuationToken: value.continuationToken } : {}) };
    },
    async deleteEntry({ name, snapshot, versionId }) {
      const blob = container.getBlobClient(name);
      if (snapshot) return (await blob.withSnapshot(snapshot).deleteIfExists()).succeeded;
      if (versionId) return (await blob.withVersion(versionId).deleteIfExists()).succeeded;
      return (await blob.deleteIfExists({ deleteSnapshots: 'include' })).succeeded;
    },
  };
}
