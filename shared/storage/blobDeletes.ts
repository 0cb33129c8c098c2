import { RestError, type BlobItem, type ContainerClient } from '@azure/storage-blob';

/**
 * Deleting what a listing with snapshots and versions found, so that nothing of it stays: the bases
 * first (with their snapshots), then every version by its id, the current one's included, since deleting
 * a base turns its current version into a previous one on an account that keeps versions ("Blob
 * versioning", Microsoft Learn); a snapshot on its own only when its base was already gone.
 * Returns how many files (bases) were there and how many entries in all (with snapshots and versions);
 * "not found" is done.
 */
export async function deleteListed(container: ContainerClient, items: readonly BlobItem[]): Promise<{ files: number; entries: number }> {
  const bases = items.filter((i) => !i.snapshot && (i.versionId === undefined || i.isCurrentVersion !== false));
  const files = await deleteInBatches(container, bases.map((item) => item.name));
  const basesGone = new Set(bases.map((item) => item.name));
  const rest = await Promise.all(
    items.map(async (item) => {
      if (item.snapshot) {
        // Deleted with its base blob ("include"); on its own only when the base was already gone.
        if (basesGone.has(item.name) && !(await container.getBlobClient(item.name).withSnapshot(item.snapshot).exists())) return true;
        return gone(() => container.getBlobClient(item.name).withSnapshot(item.snapshot!).delete());
      }
      if (item.versionId !== undefined) return gone(() => container.getBlobClient(item.name).withVersion(item.versionId!).delete());
      return false;
    }),
  );
  return { files, entries: files + rest.filter(Boolean).length };
}

/**
 * One file with every snapshot and version (the same rule as above): true when anything of it was there.
 * A listing first, so it costs a call more than a plain delete: for the rare paths (a revoke, a write
 * undone because an erasure began, a drill's clean-up), not for the erasers' bulk.
 */
export async function deleteFileEntirely(container: ContainerClient, name: string): Promise<boolean> {
  const items: BlobItem[] = [];
  for await (const item of container.listBlobsFlat({ prefix: name, includeSnapshots: true, includeVersions: true })) if (item.name === name) items.push(item);
  const { entries } = await deleteListed(container, items);
  return entries > 0;
}

/** Blob Storage's limit of sub-requests in one batch ("Blob Batch", REST API reference). */
const MAX_BATCH_DELETES = 256;
/**
 * Below this many files a delete each is cheaper: @azure/storage-blob 12.34 reads every batch answer into
 * a fresh 4 MiB buffer (BatchUtils.getBodyAsText), about 2 ms of CPU and a major GC's worth of garbage
 * per call, measured in bench:erasure, where a subject has 5 files.
 */
const MIN_BATCH = 16;

/**
 * Deletes blobs (with their snapshots): in Blob batches of up to 256 when there are many (one call where
 * a delete each cost a call per file), else one delete each, in parallel. Returns how many were there;
 * "not found" is done. Any other answer of a sub-request fails the step with that status, so the task's
 * retry decides as for a single delete.
 */
export async function deleteInBatches(container: ContainerClient, names: readonly string[]): Promise<number> {
  if (names.length < MIN_BATCH) {
    const results = await Promise.all(names.map((name) => gone(() => container.deleteBlob(name, { deleteSnapshots: 'include' }))));
    return results.filter(Boolean).length;
  }
  let deleted = 0;
  for (let i = 0; i < names.length; i += MAX_BATCH_DELETES) {
    const chunk = names.slice(i, i + MAX_BATCH_DELETES);
    const response = await container.getBlobBatchClient().deleteBlobs(chunk.map((name) => container.getBlobClient(name)), { deleteSnapshots: 'include' });
    for (const sub of response.subResponses) {
      if (sub.status === 202) deleted += 1;
      else if (sub.status !== 404) throw new RestError(`Blob Storage answered ${sub.status} to a delete in a batch`, { statusCode: sub.status, code: sub.errorCode });
    }
  }
  return deleted;
}

/** Runs a delete: true when it deleted, false when the thing was already gone. */
async function gone(run: () => Promise<unknown>): Promise<boolean> {
  try {
    await run();
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}
