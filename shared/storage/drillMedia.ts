import type { ContainerClient } from '@azure/storage-blob';
import { deleteFileEntirely } from './blobDeletes';

/** The media container as the erasure drill uses it: write one file, list and delete a prefix (snapshots too). */
export interface DrillMedia {
  put(name: string, bytes: Buffer, contentType: string): Promise<void>;
  list(prefix: string): Promise<string[]>;
  remove(name: string): Promise<void>;
}

export function drillMediaOf(media: ContainerClient): DrillMedia {
  return {
    async put(name, bytes, contentType) {
      await media.getBlockBlobClient(name).upload(bytes, bytes.length, { blobHTTPHeaders: { blobContentType: contentType } });
    },
    async list(prefix) {
      const names: string[] = [];
      for await (const blob of media.listBlobsFlat({ prefix, includeSnapshots: true })) names.push(blob.name);
      return names;
    },
    async remove(name) {
      await deleteFileEntirely(media, name);
    },
  };
}
