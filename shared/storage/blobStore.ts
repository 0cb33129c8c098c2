import type { TokenCredential } from '@azure/identity';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { lazyDefaultCredential } from '../cosmos/cosmosStore';

export const BLOB_CONTAINERS = {
  /** Media under `<tenantId>/<subject-hash>/...`: a subject's media is one prefix. */
  media: 'media',
  /** Access exports under `<tenantId>/<subject-hash>/<requestId>.json`, deleted after the tenant's export retention. */
  exports: 'exports',
} as const;

export type BlobContainerName = keyof typeof BLOB_CONTAINERS;
export type BlobContainers = Record<BlobContainerName, ContainerClient>;

export type BlobConnection = { connectionString: string } | { serviceUri: string; credential?: TokenCredential };

export function blobServiceFor(connection: BlobConnection): BlobServiceClient {
  if ('connectionString' in connection) return BlobServiceClient.fromConnectionString(connection.connectionString);
  return new BlobServiceClient(connection.serviceUri, connection.credential ?? lazyDefaultCredential());
}

export function blobContainers(service: BlobServiceClient): BlobContainers {
  return {
    media: service.getContainerClient(BLOB_CONTAINERS.media),
    exports: service.getContainerClient(BLOB_CONTAINERS.exports),
  };
}

/** Creates the containers when missing (locally and in tests; in Azure the Bicep does it). Never public. */
export async function ensureBlobContainers(service: BlobServiceClient): Promise<BlobContainers> {
  const containers = blobContainers(service);
  await Promise.all(Object.values(containers).map((c) => c.createIfNotExists()));
  return containers;
}

// Where a subject's media and exports live is a naming rule of the core (shared/domain), re-exported here.
export { mediaPrefixFor, exportPrefixFor } from '../domain/subjectPrefixes';
