import { RestError, type BlobItem, type ContainerClient } from '@azure/storage-blob';
import { mediaPrefixFor } from '../domain/subjectPrefixes';
import { step } from '../privacy/errors';
import type { PersonalDataStore, SubjectContext } from '../privacy/registry';

/** Media at most this large is embedded in an access export (base64); larger files are listed. */
const MAX_EMBEDDED_BYTES = 5 * 1024 * 1024;

/**
 * The subject's media in Blob Storage: one prefix per identifier of the person,
 * `<tenantId>/<identifier-hash>/`, in the `media` container. Listing includes snapshots and versions (a versioned account keeps earlier versions
 * after a delete): many files go in Blob batches (up to 256 deletes a call, snapshots included), a few
 * one by one, an earlier version or a lone snapshot by its own handle; "not found" counts as done.
 */
export function blobMediaDataStore(deps: { media: ContainerClient }): PersonalDataStore {
  const { media } = deps;

  /** Every identifier of the person has its own prefix. */
  async function list(subject: SubjectContext): Promise<BlobItem[]> {
    const items: BlobItem[] = [];
    for (const hash of new Set([subject.subjectHash, ...subject.subjectHashes])) {
      for await (const item of media.listBlobsFlat({ prefix: mediaPrefixFor(subject.tenantId, hash), includeSnapshots: true, includeVersions: true, includeMetadata: false })) {
        items.push(item);
      }
    }
    return items;
  }

  return {
    name: 'blob',
    description: 'Media files the subject sent, in the Blob `media` container under the subject prefix',
    holds: ['media'],
    retention: 'tenant.retention.mediaDays: the retention sweep deletes media older than that (and the storage lifecycle rule, in Azure)',
    scopes: ['all', 'media'],
    notApplicable: () => undefined,

    async exportSubject(subject) {
      const items = await step('Blob Storage', 'media listing', () => list(subject));
      const current = items.filter((i) => !i.snapshot && (i.versionId === undefined || i.isCurrentVersion !== false));
      const files = await step('Blob Storage', 'media download', () =>
        Promise.all(
          current.map(async (item) => {
            const size = item.properties.contentLength ?? 0;
            const base = { name: item.name.split('/').pop(), contentType: item.properties.contentType ?? null, bytes: size, createdAt: item.properties.createdOn?.toISOString() ?? null };
            if (size > MAX_EMBEDDED_BYTES) return { ...base, content: null, note: 'too large to embed: ask for it separately' };
            const content = await media.getBlobClient(item.name).downloadToBuffer();
            return { ...base, contentBase64: content.toString('base64') };
          }),
        ),
      );
      return { records: files.length, data: files };
    },

    async eraseSubject(subject) {
      const items = await step('Blob Storage', 'media listing', () => list(subject));
      let deleted = 0;
      await step('Blob Storage', 'media delete', async () => {
        const bases = items.filter((i) => !i.snapshot && (i.versionId === undefined || i.isCurrentVersion !== false));
        const basesGone = new Set<string>();
        deleted += await deleteInBatches(media, bases.map((item) => item.name));
        for (const item of bases) basesGone.add(item.name);
        const rest = await Promise.all(
          items.map(async (item) => {
            if (item.snapshot) {
              // Deleted with its base blob ("include"); on its own only when the base was already gone.
              if (basesGone.has(item.name) && !(await exists(media, item.name, item.snapshot))) return true;
              return gone(() => media.getBlobClient(item.name).withSnapshot(item.snapshot!).delete());
            }
            if (item.versionId !== undefined && item.isCurrentVersion === false) return gone(() => media.getBlobClient(item.name).withVersion(item.versionId!).delete());
            return false;
          }),
        );
        deleted += rest.filter(Boolean).length;
      });
      return { found: items.length, deleted };
    },

    async verifyErased(subject) {
      return (await step('Blob Storage', 'verification listing', () => list(subject))).length;
    },
  };
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

async function exists(container: ContainerClient, name: string, snapshot: string): Promise<boolean> {
  return container.getBlobClient(name).withSnapshot(snapshot).exists();
}

/** Blob Storage's limit of sub-requests in one batch ("Blob Batch", REST API reference). */
const MAX_BATCH_DELETES = 256;
/**
 * Below this many files a delete each is cheaper: @azure/storage-blob 12.34 reads every batch response
 * into a fresh 4 MiB buffer (BatchUtils.getBodyAsText), about 2 ms of CPU and a major GC's worth of
 * garbage per call, measured in bench:erasure, where a subject has 5 files.
 */
const MIN_BATCH = 16;

/**
 * Deletes blobs (with their snapshots): in Blob batches of up to 256 when there are many (one call where
 * a delete each cost a call per file), else one delete each, in parallel. Returns how many were there;
 * "not found" is done. Any other answer of a sub-request fails the step with that status, so the task's
 * retry decides as for a single delete.
 */
export async function deleteInBatches(media: ContainerClient, names: readonly string[]): Promise<number> {
  if (names.length < MIN_BATCH) {
    const results = await Promise.all(names.map((name) => gone(() => media.deleteBlob(name, { deleteSnapshots: 'include' }))));
    return results.filter(Boolean).length;
  }
  let deleted = 0;
  for (let i = 0; i < names.length; i += MAX_BATCH_DELETES) {
    const chunk = names.slice(i, i + MAX_BATCH_DELETES);
    const response = await media.getBlobBatchClient().deleteBlobs(chunk.map((name) => media.getBlobClient(name)), { deleteSnapshots: 'include' });
    for (const sub of response.subResponses) {
      if (sub.status === 202) deleted += 1;
      else if (sub.status !== 404) throw new RestError(`Blob Storage answered ${sub.status} to a delete in a batch`, { statusCode: sub.status, code: sub.errorCode });
    }
  }
  return deleted;
}
