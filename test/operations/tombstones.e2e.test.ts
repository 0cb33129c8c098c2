import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../cli/main';
import type { TenantId } from '../../shared/domain';
import { cli } from '../cli/support';
import { messages, single } from '../fixtures/whatsapp/payloads';
import { createPrivacyTenant, newSubject, postRequest, startPrivacyWorld, waitForStatus, type PrivacyWorld } from '../privacy/support';
import { adminHeaders } from '../support/principals';
import { eventually } from '../support/testServices';
import { postWebhook, subjectDocuments, subjectHashOf } from '../whatsapp/support';

/**
 * Restoring from a backup on the emulators: a subject erased after the restore point comes back with the
 * restored documents, and its tombstone is lost. `flowkeeper tombstones export` (taken from the current
 * account) holds keyed hashes and dates only; `flowkeeper tombstones reapply` writes the tombstones again and
 * erases again what the restore brought back, and a second run changes nothing.
 */
let world: PrivacyWorld;
let dir: string;
beforeAll(async () => {
  world = await startPrivacyWorld();
  dir = await mkdtemp(path.join(tmpdir(), 'flowkeeper-tombstones-'));
}, 60_000);
afterAll(async () => {
  await world?.close();
});

describe('flowkeeper tombstones export / reapply', () => {
  it('after a restore brought an erased subject back, reapply erases it again and restores its tombstone; a second reapply does nothing', async () => {
    const { t } = world;
    const tenant = await createPrivacyTenant(world, { hubspot: false, messageStorage: 'encrypted', prefix: 'ts' });
    const erased = newSubject();
    const kept = newSubject();
    for (const s of [erased, kept]) expect((await postWebhook(t.url, single(tenant.phoneNumberId, s.waId, messages.text(s.waId, s.text), s.name))).status).toBe(200);
    const backup = await subjectDocuments(t.services, tenant.tenantId, erased.waId); // what the backup holds
    expect(backup.length).toBeGreaterThan(0);

    const id = ((await (await postRequest(t, { tenantId: tenant.tenantId, type: 'erasure', subject: { waId: erased.waId } })).json()) as { id: string }).id;
    expect((await waitForStatus(t, id, ['completed', 'failed'])).status).toBe('completed');
    const hash = await subjectHashOf(t.services, tenant.tenantId as TenantId, erased.waId);

    // Export: keyed hashes and dates, nothing else.
    const file = path.join(dir, 'tombstones.json');
    const exported = await cli(t.url, ['tombstones', 'export', '--tenant', tenant.tenantId]);
    expect(exported.code).toBe(EXIT.ok);
    await writeFile(file, exported.stdout);
    const parsed = JSON.parse(exported.stdout) as { format: string; tenantId: string; tombstones: { subjectHash: string; erasedAt: string; scope?: string }[] };
    expect(parsed).toMatchObject({ format: 'flowkeeper-tombstones/1', tenantId: tenant.tenantId, tombstones: [{ subjectHash: hash, erasedAt: expect.any(String), scope: 'all' }] });
    for (const needle of [erased.waId, erased.waId.slice(2), erased.name, erased.text, kept.waId]) expect(exported.stdout).not.toContain(needle);
    expect(Object.keys(parsed.tombstones[0]!).sort()).toEqual(['erasedAt', 'scope', 'subjectHash']);

    // The restore: the erased subject's documents are back, its tombstone is not.
    for (const doc of backup) {
      const { _rid, _self, _etag, _attachments, _ts, ...clean } = doc as Record<string, unknown>;
      void [_rid, _self, _etag, _attachments, _ts];
      await t.services.cosmos.subjects.items.upsert(clean);
    }
    await t.services.cosmos.markers.item(`tombstone:${hash}`, `${tenant.tenantId}|tombstone|${hash}`).delete();
    expect((await subjectDocuments(t.services, tenant.tenantId, erased.waId)).length).toBe(backup.length);

    const reapply = await cli(t.url, ['tombstones', 'reapply', '--tenant', tenant.tenantId, file, '--json']);
    expect(reapply.code, reapply.stderr).toBe(EXIT.ok);
    const result = JSON.parse(reapply.stdout) as { tombstones: number; restored: number; erasures: { requestId: string; subjectHash: string }[]; subjectsScanned: number };
    expect(result).toMatchObject({ tombstones: 1, restored: 1, subjectsScanned: 2, erasures: [{ subjectHash: hash }] });
    expect((await waitForStatus(t, result.erasures[0]!.requestId, ['completed', 'failed'])).status).toBe('completed');
    await eventually(async () => ((await subjectDocuments(t.services, tenant.tenantId, erased.waId)).length === 0 ? true : undefined), 10_000, 'the re-erasure');
    expect((await subjectDocuments(t.services, tenant.tenantId, kept.waId)).length).toBeGreaterThan(0); // untouched
    const { resource: tombstone } = await t.services.cosmos.markers.item(`tombstone:${hash}`, `${tenant.tenantId}|tombstone|${hash}`).read();
    expect(tombstone).toMatchObject({ kind: 'tombstone', key: hash });

    // Idempotent: nothing left to do.
    const again = await cli(t.url, ['tombstones', 'reapply', '--tenant', tenant.tenantId, file]);
    expect(again).toMatchObject({ code: EXIT.ok, stdout: `${tenant.tenantId}: 1 tombstone(s), 0 written again; 1 subject(s) with data scanned, 0 erased again\n` });
    for (const out of [reapply.stdout, again.stdout]) for (const needle of [erased.waId, kept.waId]) expect(out).not.toContain(needle);
  }, 90_000);

  it('a file that is not an export, or an export of another tenant, is refused with a message naming it', async () => {
    const tenant = await createPrivacyTenant(world, { hubspot: false, prefix: 'ts' });
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, '{"tombstones": "no"}');
    expect(await cli(world.t.url, ['tombstones', 'reapply', '--tenant', tenant.tenantId, bad])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('is not a tombstone export') });
    const other = path.join(dir, 'other.json');
    await writeFile(other, JSON.stringify({ format: 'flowkeeper-tombstones/1', tenantId: 'someone-else', exportedAt: new Date().toISOString(), tombstones: [] }));
    const refused = await cli(world.t.url, ['tombstones', 'reapply', '--tenant', tenant.tenantId, other]);
    expect(refused).toMatchObject({ code: EXIT.api, stderr: expect.stringContaining('an export of another tenant') });
    const hashless = await fetch(`${world.t.url}/api/tenants/${tenant.tenantId}/tombstones/reapply`, {
      method: 'POST',
      headers: adminHeaders(),
      body: JSON.stringify({ format: 'flowkeeper-tombstones/1', tenantId: tenant.tenantId, exportedAt: new Date().toISOString(), tombstones: [{ subjectHash: '+447700900123', erasedAt: new Date().toISOString() }] }),
    });
    expect(hashless.status).toBe(400);
    expect(JSON.stringify(await hashless.json())).toContain('tombstones.0.subjectHash');
  }, 30_000);
});
