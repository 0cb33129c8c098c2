import type { BlobItem, ContainerClient } from '@azure/storage-blob';
import { deleteFileEntirely, deleteListed } from './blobDeletes';
import type { TenantId } from '../domain/ids';
import { exportPrefixFor } from '../domain/subjectPrefixes';
import { step } from '../privacy/errors';
import type { ExportStore, PrivacyRequestRepository, TenantFiles } from '../privacy/ports';
import type { PersonalDataStore, SubjectContext } from '../privacy/registry';

/**
 * Access exports (Art. 15/20) in the Blob `exports` container: a full copy of what every store held, so
 * they expire (tenant.retention.exportDays) and an erasure removes the subject's exports too. A
 * subject's exports are one prefix (keyed hash): finding, deleting and verifying them is one listing,
 * with snapshots and versions, and no query over the privacy requests.
 */
export function accessExportDataStore(deps: { exports: ContainerClient; requests: PrivacyRequestRepository }): PersonalDataStore {
  /** An export is filed under the hash of the identifier its request named: every identifier of the person is listed. */
  async function list(subject: Pick<SubjectContext, 'tenantId' | 'subjectHash' | 'subjectHashes'>): Promise<BlobItem[]> {
    const items: BlobItem[] = [];
    for (const hash of new Set([subject.subjectHash, ...subject.subjectHashes])) {
      for await (const item of deps.exports.listBlobsFlat({ prefix: exportPrefixFor(subject.tenantId, hash), includeSnapshots: true, includeVersions: true })) items.push(item);
    }
    return items;
  }

  return {
    name: 'exports',
    description: 'Access exports of the subject, in the Blob `exports` container',
    holds: ['access-export'],
    retention: 'tenant.retention.exportDays (7 by default): GET .../export answers 410 after that and the retention sweep deletes the blob',
    scopes: ['all'],
    notApplicable: () => undefined,

    async holdsNothing(subject) {
      return (await step('Blob Storage', 'export listing', () => list(subject))).length === 0;
    },

    async exportSubject(subject) {
      // The exports are copies of the data this export already holds: list them, do not nest them.
      const lists = await step('Cosmos DB', 'access request query', () =>
        Promise.all([...new Set([subject.subjectHash, ...subject.subjectHashes])].map((h) => deps.requests.listForSubject(subject.tenantId, h, { type: 'access', limit: 1000 }))),
      );
      const requests = lists.flat();
      const earlier = requests.filter((r) => r.export).map((r) => ({ requestId: r.id, expiresAt: r.export!.expiresAt }));
      return { records: earlier.length, data: earlier };
    },

    async eraseSubject(subject) {
      const items = await step('Blob Storage', 'export listing', () => list(subject));
      // Each export with its snapshots and versions; "not found" is done (another run or the retention sweep).
      const { files } = await step('Blob Storage', 'export delete', () => deleteListed(deps.exports, items));
      return { found: new Set(items.map((i) => i.name)).size, deleted: files };
    },

    async verifyErased(subject) {
      return (await step('Blob Storage', 'export verification listing', () => list(subject))).length;
    },
  };
}

/** The privacy core's export files on the Blob `exports` container. */
export function blobExportStore(exports: ContainerClient): ExportStore {
  return {
    async write(name, content) {
      await exports.getBlockBlobClient(name).uploadData(content, { blobHTTPHeaders: { blobContentType: 'application/json' } });
    },
    async read(name) {
      try {
        return await exports.getBlobClient(name).downloadToBuffer();
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 404) return undefined;
        throw error;
      }
    },
    // With every snapshot and version: an export made beside an erasure must not survive as a version.
    delete: (name) => deleteFileEntirely(exports, name),
  };
}

/** Deletes in flight at once in a tenant purge (one Blob batch, or one list page's snapshots and versions). */
const PURGE_PAGE_SIZE = 256;

/** Everything under a tenant's prefix in the media and exports containers, snapshots and versions included. */
export function blobTenantFiles(containers: { media: ContainerClient; exports: ContainerClient }): TenantFiles {
  return {
    async deleteAll(tenantId: TenantId) {
      let deleted = 0;
      for (const container of [containers.media, containers.exports]) {
        // A page at a time through the erasers' deleter: a version or snapshot on one page whose base is
        // on the next is deleted by its own id, so where the page ends does not matter.
        const pages = container.listBlobsFlat({ prefix: `${tenantId}/`, includeSnapshots: true, includeVersions: true }).byPage({ maxPageSize: PURGE_PAGE_SIZE });
        for await (const page of pages) deleted += (await deleteListed(container, page.segment.blobItems)).entries;
      }
      return deleted;
    },
  };
}
