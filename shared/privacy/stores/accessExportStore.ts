import type { BlobItem, ContainerClient } from '@azure/storage-blob';
import { exportPrefixFor } from '../../storage/blobStore';
import { step } from '../errors';
import type { PrivacyRequestRepository } from '../requestRepository';
import type { PersonalDataStore, SubjectContext } from '../registry';

/** Where the access export of a request is written: `exports/<tenantId>/<subject-hash>/<requestId>.json`. */
export function exportBlobName(tenantId: string, subjectHash: string, requestId: string): string {
  return `${exportPrefixFor(tenantId, subjectHash)}${requestId}.json`;
}

/**
 * Access exports (Art. 15/20) in the Blob `exports` container: a full copy of what every store held, so
 * they expire (tenant.retention.exportDays) and an erasure removes the subject's exports too. A
 * subject's exports are one prefix (keyed hash): finding, deleting and verifying them is one listing,
 * with snapshots, and no query over the privacy requests.
 */
export function accessExportStore(deps: { exports: ContainerClient; requests: PrivacyRequestRepository }): PersonalDataStore {
  async function list(subject: Pick<SubjectContext, 'tenantId' | 'subjectHash'>): Promise<BlobItem[]> {
    const items: BlobItem[] = [];
    for await (const item of deps.exports.listBlobsFlat({ prefix: exportPrefixFor(subject.tenantId, subject.subjectHash), includeSnapshots: true })) items.push(item);
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
      const requests = await step('Cosmos DB', 'access request query', () => deps.requests.listForSubject(subject.tenantId, subject.subjectHash, { type: 'access', limit: 1000 }));
      const earlier = requests.filter((r) => r.export).map((r) => ({ requestId: r.id, expiresAt: r.export!.expiresAt }));
      return { records: earlier.length, data: earlier };
    },

    async eraseSubject(subject) {
      const items = await step('Blob Storage', 'export listing', () => list(subject));
      const names = [...new Set(items.map((i) => i.name))];
      let deleted = 0;
      await step('Blob Storage', 'export delete', async () => {
        for (const name of names) {
          // The base blob with its snapshots; "not found" is done (another run or the retention sweep).
          const response = await deps.exports.deleteBlob(name, { deleteSnapshots: 'include' }).catch((error: unknown) => {
            if ((error as { statusCode?: number }).statusCode === 404) return undefined;
            throw error;
          });
          if (response) deleted += 1;
        }
      });
      return { found: names.length, deleted };
    },

    async verifyErased(subject) {
      return (await step('Blob Storage', 'export verification listing', () => list(subject))).length;
    },
  };
}
