import { describe, expect, it } from 'vitest';
import type { SubjectHash, TenantId } from '../../shared/domain';
import type { SubjectContext } from '../../shared/privacy/registry';
import { accessExportDataStore, blobExportStore, blobMediaDataStore, blobTenantFiles, mediaBlobsOf, revokedMediaOf } from '../../shared/storage';
import { drillMediaOf } from '../../shared/storage/drillMedia';
import type { PrivacyRequestRepository } from '../../shared/privacy/ports';
import type { Tenant } from '../../shared/tenants';
import { VersionedBlobContainer } from '../fakes/versionedBlobContainer';

/**
 * Flowkeeper's accounts keep no versions (infra/modules/storage.bicep), but an account an operator
 * switched versioning on for must lose everything too: deleting a blob there turns its current version
 * into a previous one, which the erasers must then delete by its id.
 */
const tenantId = 'versioned-t' as TenantId;
const [mine, linked, other] = ['a'.repeat(64), 'b'.repeat(64), 'c'.repeat(64)] as SubjectHash[];
const subject = { tenant: { id: tenantId } as Tenant, tenantId, identifier: { kind: 'waId', value: '447700900123' }, subjectHash: mine, subjectHashes: [mine, linked] } as unknown as SubjectContext;

function account(): VersionedBlobContainer {
  const media = new VersionedBlobContainer();
  for (const hash of [mine, linked, other]) {
    media.write(`${tenantId}/${hash}/photo.jpg`);
    media.write(`${tenantId}/${hash}/photo.jpg`); // rewritten: one previous version, one current
    media.snapshot(`${tenantId}/${hash}/photo.jpg`);
    media.write(`${tenantId}/${hash}/voice.ogg`);
  }
  return media;
}

describe('on a storage account with blob versioning on', () => {
  it("a media erasure leaves no version of the person's files, the current one's included, and verifies empty", async () => {
    const media = account();
    const store = blobMediaDataStore({ media: media.client() });
    const outcome = await store.eraseSubject(subject, 'all');
    expect(media.left(`${tenantId}/${mine}/`)).toEqual([]);
    expect(media.left(`${tenantId}/${linked}/`)).toEqual([]);
    expect(await store.verifyErased(subject, 'all')).toBe(0);
    expect(outcome.found).toBeGreaterThan(0);
    expect(media.left(`${tenantId}/${other}/`)).toHaveLength(4);
  });

  it("a revoke deletes every version and snapshot of the message's file and nothing else", async () => {
    const media = account();
    await revokedMediaOf(media.client()).deleteFile(`${tenantId}/${mine}/photo.jpg`);
    expect(media.left(`${tenantId}/${mine}/photo.jpg`)).toEqual([]);
    expect(media.left(`${tenantId}/${mine}/voice.ogg`)).toEqual([`${tenantId}/${mine}/voice.ogg current`]);
  });

  it("an erasure of the person's access exports leaves no version of them and verifies empty", async () => {
    const exports = new VersionedBlobContainer();
    for (const hash of [mine, linked, other]) {
      exports.write(`${tenantId}/${hash}/req-1.json`);
      exports.write(`${tenantId}/${hash}/req-1.json`);
      exports.snapshot(`${tenantId}/${hash}/req-1.json`);
    }
    const store = accessExportDataStore({ exports: exports.client(), requests: {} as PrivacyRequestRepository });
    await store.eraseSubject(subject, 'all');
    expect(exports.left(`${tenantId}/${mine}/`)).toEqual([]);
    expect(exports.left(`${tenantId}/${linked}/`)).toEqual([]);
    expect(await store.verifyErased(subject, 'all')).toBe(0);
    expect(exports.left(`${tenantId}/${other}/`)).toHaveLength(3);
  });

  it('a single file taken back (an export made beside an erasure, a download the erasure overtook, a drill clean-up) leaves no version', async () => {
    const container = account();
    const [photo, voice] = [`${tenantId}/${mine}/photo.jpg`, `${tenantId}/${mine}/voice.ogg`];
    expect(await blobExportStore(container.client()).delete(photo)).toBe(true);
    expect(container.left(photo)).toEqual([]);
    await mediaBlobsOf(container.client()).delete(voice);
    expect(container.left(voice)).toEqual([]);
    const linkedPhoto = `${tenantId}/${linked}/photo.jpg`;
    await drillMediaOf(container.client()).remove(linkedPhoto);
    expect(container.left(linkedPhoto)).toEqual([]);
    expect(await blobExportStore(container.client()).delete(photo)).toBe(false);
  });

  it("a tenant purge leaves no version of any of the tenant's files", async () => {
    const [media, exports] = [account(), new VersionedBlobContainer()];
    exports.write(`${tenantId}/${mine}/req-1.json`);
    exports.write(`${tenantId}/${mine}/req-1.json`);
    exports.write('another-tenant/x/req-2.json');
    // More than a listing page (256): groups of versions and snapshots split across pages.
    for (let i = 0; i < 90; i += 1) {
      media.write(`${tenantId}/${other}/f-${i}.jpg`);
      media.write(`${tenantId}/${other}/f-${i}.jpg`);
      media.snapshot(`${tenantId}/${other}/f-${i}.jpg`);
    }
    await blobTenantFiles({ media: media.client(), exports: exports.client() }).deleteAll(tenantId);
    expect(media.left(`${tenantId}/`)).toEqual([]);
    expect(exports.left(`${tenantId}/`)).toEqual([]);
    expect(exports.left('another-tenant/')).toHaveLength(1);
  });
});
