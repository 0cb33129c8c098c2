import type { ContainerClient } from '@azure/storage-blob';
import type { MediaBlobs } from '../whatsapp/mediaDownload';

/** The media download worker's file store on the Blob `media` container. */
export function mediaBlobsOf(container: ContainerClient): MediaBlobs {
  return {
    upload: async (name, bytes, contentType) => {
      await container.getBlockBlobClient(name).uploadData(bytes, { blobHTTPHeaders: contentType ? { blobContentType: contentType } : {} });
    },
    delete: async (name) => {
      await container.getBlockBlobClient(name).deleteIfExists({ deleteSnapshots: 'include' });
    },
  };
}
