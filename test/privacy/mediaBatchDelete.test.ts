import { randomUUID } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyFailure } from '../../shared/failures';
import { deleteInBatches } from '../../shared/storage';
import { testServices, type TestServices } from '../support/testServices';

/**
 * The media eraser deletes many files in Blob batches ("Blob Batch", Azure Storage REST reference: up to 256
 * sub-requests a call, each answered on its own). Against Azurite: deleted, already gone, and more than
 * one batch. A sub-request answered otherwise (Azurite cannot be made to) is shown with a container whose
 * batch answers as the reference documents a failed sub-request.
 */
let t: TestServices;
beforeAll(async () => {
  t = await testServices();
});
afterAll(async () => {
  await t?.close();
});

describe('media deleted in Blob batches', () => {
  it('deletes every file in one call per 256, snapshots included, and counts a file already gone as done, not deleted', async () => {
    const prefix = `batch-${randomUUID()}/`;
    const names = Array.from({ length: 300 }, (_, i) => `${prefix}m-${i}`);
    const media = t.blobs.media;
    await Promise.all(names.slice(0, 299).map((name) => media.getBlockBlobClient(name).uploadData(Buffer.from('x'))));
    await media.getBlobClient(names[0]!).createSnapshot();
    expect(await deleteInBatches(media, names)).toBe(299);
    const left: string[] = [];
    for await (const item of media.listBlobsFlat({ prefix, includeSnapshots: true })) left.push(item.name);
    expect(left).toEqual([]);
  });

  it('a handful of files is deleted one by one, without a batch (the SDK reads each batch answer into a 4 MiB buffer)', async () => {
    const prefix = `few-${randomUUID()}/`;
    const names = Array.from({ length: 5 }, (_, i) => `${prefix}m-${i}`);
    const media = t.blobs.media;
    await Promise.all(names.map((name) => media.getBlockBlobClient(name).uploadData(Buffer.from('x'))));
    await media.getBlobClient(names[0]!).createSnapshot();
    const noBatch = new Proxy(media, {
      get: (target, key, receiver) => (key === 'getBlobBatchClient' ? () => expect.fail('a batch for 5 files') : Reflect.get(target, key, receiver)),
    });
    expect(await deleteInBatches(noBatch, [...names, `${prefix}never-there`])).toBe(5);
    const left: string[] = [];
    for await (const item of media.listBlobsFlat({ prefix, includeSnapshots: true })) left.push(item.name);
    expect(left).toEqual([]);
  });

  it('a sub-request Blob Storage answers 500 fails the step as a transient Blob failure, so the task is retried', async () => {
    const failing = {
      getBlobClient: (name: string) => ({ url: `http://127.0.0.1/devstoreaccount1/media/${name}` }),
      getBlobBatchClient: () => ({
        deleteBlobs: async (clients: unknown[]) => ({ subResponses: clients.map((_, i) => (i === 11 ? { status: 500, errorCode: 'InternalError' } : { status: 202 })), subResponsesSucceededCount: clients.length - 1, subResponsesFailedCount: 1 }),
      }),
    } as unknown as ContainerClient;
    const error = await deleteInBatches(failing, Array.from({ length: 20 }, (_, i) => `f-${i}`)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(classifyFailure(error)).toMatchObject({ class: 'transient', status: 500 });
  });
});
