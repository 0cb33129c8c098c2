import type { ContainerClient } from '@azure/storage-blob';

/**
 * A Blob container on a storage account with blob versioning on, in memory: Azurite does not keep
 * versions, and Flowkeeper's own accounts have versioning off (infra/modules/storage.bicep), but an
 * operator may turn it on, and an erasure must still leave nothing. Behaviour from Microsoft Learn,
 * "Blob versioning" (learn.microsoft.com/azure/storage/blobs/versioning-overview, read 2026-12-06; the
 * stored copy shows no update date):
 * - every write creates a version with its own id; the newest is the current version;
 * - deleting the blob (no version id) turns the current version into a previous version, and "there is
 *   no longer a current version"; earlier versions persist;
 * - a version is deleted by its id; snapshots are separate and go with `deleteSnapshots: 'include'`.
 * Only the calls the erasers make: listBlobsFlat (with versions and snapshots, by page), deleteBlob, a batch of deletes,
 * getBlobClient(name).{delete, deleteIfExists, withVersion, withSnapshot}, getBlockBlobClient(name).deleteIfExists.
 */
export class VersionedBlobContainer {
  private readonly blobs = new Map<string, { current?: string; previous: string[]; snapshots: string[] }>();
  private clock = Date.parse('2026-12-01T00:00:00Z');

  private nextId(): string {
    this.clock += 1000;
    return new Date(this.clock).toISOString().replace('Z', '0000Z');
  }

  /** Writes the blob (a new current version). */
  write(name: string): void {
    const blob = this.blobs.get(name) ?? { previous: [], snapshots: [] };
    if (blob.current) blob.previous.push(blob.current);
    blob.current = this.nextId();
    this.blobs.set(name, blob);
  }

  snapshot(name: string): void {
    this.blobs.get(name)!.snapshots.push(this.nextId());
  }

  /** Everything left under a prefix: bases, versions and snapshots. */
  left(prefix = ''): string[] {
    return [...this.blobs].filter(([name]) => name.startsWith(prefix)).flatMap(([name, b]) => [...(b.current ? [`${name} current`] : []), ...b.previous.map((v) => `${name} version ${v}`), ...b.snapshots.map((s) => `${name} snapshot ${s}`)]);
  }

  private notFound(): never {
    throw Object.assign(new Error('The specified blob does not exist.'), { name: 'RestError', statusCode: 404, code: 'BlobNotFound' });
  }

  private deleteBase(name: string, deleteSnapshots?: string): void {
    const blob = this.blobs.get(name);
    if (!blob?.current) this.notFound();
    if (blob.snapshots.length > 0 && deleteSnapshots !== 'include') {
      throw Object.assign(new Error('This operation is not permitted because the blob has snapshots.'), { name: 'RestError', statusCode: 409, code: 'SnapshotsPresent' });
    }
    blob.previous.push(blob.current);
    blob.current = undefined;
    if (deleteSnapshots === 'include') blob.snapshots = [];
  }

  private deleteVersion(name: string, versionId: string): void {
    const blob = this.blobs.get(name);
    if (!blob || !blob.previous.includes(versionId)) {
      // The page read does not say what the service answers to this, so the fake refuses to guess.
      if (blob?.current === versionId) throw new Error('not modelled: a delete of the current version by its id');
      this.notFound();
    }
    blob.previous = blob.previous.filter((v) => v !== versionId);
  }

  private deleteSnapshot(name: string, snapshot: string): void {
    const blob = this.blobs.get(name);
    if (!blob || !blob.snapshots.includes(snapshot)) this.notFound();
    blob.snapshots = blob.snapshots.filter((s) => s !== snapshot);
  }

  private ifExists(run: () => void): { succeeded: boolean } {
    try {
      run();
      return { succeeded: true };
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return { succeeded: false };
      throw error;
    }
  }

  /** The subset of ContainerClient the erasers call. */
  client(): ContainerClient {
    const blobClient = (name: string) => ({
      name,
      url: `https://account.blob.core.windows.net/media/${name}`,
      delete: async (o: { deleteSnapshots?: string } = {}) => this.deleteBase(name, o.deleteSnapshots),
      deleteIfExists: async (o: { deleteSnapshots?: string } = {}) => this.ifExists(() => this.deleteBase(name, o.deleteSnapshots)),
      withVersion: (versionId: string) => ({
        delete: async () => this.deleteVersion(name, versionId),
        deleteIfExists: async () => this.ifExists(() => this.deleteVersion(name, versionId)),
      }),
      withSnapshot: (snapshot: string) => ({
        delete: async () => this.deleteSnapshot(name, snapshot),
        deleteIfExists: async () => this.ifExists(() => this.deleteSnapshot(name, snapshot)),
        exists: async () => this.blobs.get(name)?.snapshots.includes(snapshot) ?? false,
      }),
    });
    const blobs = this.blobs;
    return {
      getBlobClient: blobClient,
      getBlockBlobClient: blobClient,
      deleteBlob: async (name: string, o: { deleteSnapshots?: string } = {}) => this.deleteBase(name, o.deleteSnapshots),
      // "Blob Batch" (REST reference): one answer per sub-request, 202 for a delete done, the error status otherwise.
      getBlobBatchClient: () => ({
        deleteBlobs: async (clients: { name: string }[], o: { deleteSnapshots?: string } = {}) => ({
          subResponses: clients.map((c) => {
            try {
              this.deleteBase(c.name, o.deleteSnapshots);
              return { status: 202 };
            } catch (error) {
              return { status: (error as { statusCode?: number }).statusCode ?? 500, errorCode: (error as { code?: string }).code };
            }
          }),
        }),
      }),
      // Listed per blob as the service does: snapshots (oldest first), then versions, the current last;
      // by page too (what a page held when the listing reached it; a page may end inside a blob's group).
      listBlobsFlat: (o: { prefix?: string; includeVersions?: boolean; includeSnapshots?: boolean } = {}) => {
        const listing = () =>
          [...blobs]
            .sort(([a], [z]) => a.localeCompare(z))
            .filter(([name]) => name.startsWith(o.prefix ?? ''))
            .flatMap(([name, b]) => {
              const properties = { contentLength: 1, createdOn: new Date() };
              return [
                ...(o.includeSnapshots ? b.snapshots.map((snapshot) => ({ name, snapshot, properties })) : []),
                ...(o.includeVersions ? b.previous.map((versionId) => ({ name, versionId, isCurrentVersion: false, properties })) : []),
                ...(b.current ? [{ name, ...(o.includeVersions ? { versionId: b.current, isCurrentVersion: true } : {}), properties }] : []),
              ];
            });
        return {
          async *[Symbol.asyncIterator]() {
            yield* listing();
          },
          async *byPage(p: { maxPageSize?: number } = {}) {
            const items = listing();
            const size = p.maxPageSize ?? 5000;
            for (let i = 0; i < items.length; i += size) yield { segment: { blobItems: items.slice(i, i + size) } };
          },
        };
      },
    } as unknown as ContainerClient;
  }
}
