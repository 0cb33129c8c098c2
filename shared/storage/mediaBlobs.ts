import type { ContainerClient } from '@azure/storage-blob';
import { deleteFileEntirely } from './blobDeletes';
import type { MediaBlobs } from '../whatsapp/mediaDownload';
import type { RevokedMedia } from '../whatsapp/ports';

/** The media download worker's file store on the Blob `media` container. */
export function mediaBlobsOf(container: ContainerClient): MediaBlobs {
  return {
    upload: async (name, bytes, contentType) => {
      await container.getBlockBlobClient(name).uploadData(bytes, { blobHTTPHeaders: contentType ? { blobContentType: contentType } : {} });
    },
    delete: async (name) => {
      await deleteFileEntirely(container, name);
    },
  };
}

/**
 * The webhook's `revoke`: one media file goes with every snapshot and, on an account that keeps versions,
 * every version, the current one's included: a delete of the base turns the current version into a
 * previous one and leaves the others ("Blob versioning", Microsoft Learn). "Not found" is done.
 */
export function revokedMediaOf(container: ContainerClient): RevokedMedia {
  return {
    deleteFile: async (name) => {
      await deleteFileEntirely(container, name);
    },
  };
}
