import type { ContainerClient } from '@azure/storage-blob';
import { step } from '../errors';
import type { PrivacyRequestRepository } from '../requestRepository';
import type { PersonalDataStore, SubjectContext } from '../registry';

/** Where the access export of a request is written: `exports/<tenantId>/<requestId>.json`. */
export function exportBlobName(tenantId: string, requestId: string): string {
  return `${tenantId}/${requestId}.json`;
}

/**
 * Access exports (Art. 15/20) in the Blob `exports` container: a full copy of what every store held, so
 * they expire (tenant.retention.exportDays) and an erasure removes the subject's exports too. They are
 * found through the subject's access requests (keyed hash), not by listing the container.
 */
export function accessExportStore(deps: { exports: ContainerClient; requests: PrivacyRequestRepository }): PersonalDataStore {
  async function blobNames(subject: SubjectContext): Promise<string[]> {
    const requests = await deps.requests.listForSubject(subject.tenantId, subject.subjectHash, { type: 'access', limit: 1000 });
    return requests.map((r) => exportBlobName(subject.tenantId, r.id));
  }

  return {
    name: 'exports',
    description: 'Access exports of the subject, in the Blob `exports` container',
    holds: ['access-export'],
    retention: 'tenant.retention.exportDays (7 by default): GET .../export answers 410 after that and the retention sweep deletes the blob',
    scopes: ['all'],
    notApplicable: () => undefined,

    async holdsNothing(subject) {
      const requests = await deps.requests.listForSubject(subject.tenantId, subject.subjectHash, { type: 'access', limit: 1 });
      return requests.length === 0;
    },

    async exportSubject(subject) {
      // The exports are copies of the data this export already holds: list them, do not nest them.
      const requests = await step('Cosmos DB', 'access request query', () => deps.requests.listForSubject(subject.tenantId, subject.subjectHash, { type: 'access', limit: 1000 }));
      const earlier = requests.filter((r) => r.export).map((r) => ({ requestId: r.id, expiresAt: r.export!.expiresAt }));
      return { records: earlier.length, data: earlier };
    },

    async eraseSubject(subject) {
      const names = await step('Cosmos DB', 'access request query', () => blobNames(subject));
      let found = 0;
      await step('Blob Storage', 'export delete', async () => {
        for (const name of names) {
          const response = await deps.exports.deleteBlob(name, { deleteSnapshots: 'include' }).catch((error: unknown) => {
            if ((error as { statusCode?: number }).statusCode === 404) return undefined;
            throw error;
          });
          if (response) found += 1;
        }
      });
      return { found, deleted: found };
    },

    async verifyErased(subject) {
      const names = await step('Cosmos DB', 'access request query', () => blobNames(subject));
      let left = 0;
      await step('Blob Storage', 'export verification', async () => {
        for (const name of names) if (await deps.exports.getBlobClient(name).exists()) left += 1;
      });
      return left;
    },
  };
}
