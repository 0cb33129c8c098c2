import type { BlobItem, ContainerClient } from '@azure/storage-blob';
import { deleteListed } from './blobDeletes';
import { mediaPrefixFor } from '../domain/subjectPrefixes';
import { step } from '../privacy/errors';
import type { PersonalDataStore, SubjectContext } from '../privacy/registry';

/** Media at most this large is embedded in an access export (base64); larger files are listed. */
const MAX_EMBEDDED_BYTES = 5 * 1024 * 1024;

/**
 * The subject's media in Blob Storage: one prefix per identifier of the person,
 * `<tenantId>/<identifier-hash>/`, in the `media` container. Listing includes snapshots and versions (an
 * account with versioning on keeps earlier versions after a delete); blobDeletes.ts deletes them all.
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
      const { entries } = await step('Blob Storage', 'media delete', () => deleteListed(media, items));
      return { found: items.length, deleted: entries };
    },

    async verifyErased(subject) {
      return (await step('Blob Storage', 'verification listing', () => list(subject))).length;
    },
  };
}
