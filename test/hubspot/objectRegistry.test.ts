import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSubject } from '../../shared/crypto';
import type { SubjectHash, TenantId, WaId } from '../../shared/domain';
import { CosmosHubSpotObjectRegistry } from '../../shared/cosmos';
import { HUBSPOT_OBJECTS_KIND } from '../../shared/hubspot';
import { testServices, uniqueTenantId, type TestServices } from '../support/testServices';

let s: TestServices;
beforeAll(async () => {
  s = await testServices();
});
afterAll(async () => {
  await s?.close();
});

const DAY = 86_400;
const subject = async (tenantId: TenantId, waId = '447700900123') => hashSubject(s.secrets, tenantId, waId as WaId);
/** The raw record as Cosmos holds it. */
async function stored(tenantId: TenantId, subjectHash: SubjectHash): Promise<Record<string, unknown> | undefined> {
  const { resource } = await s.cosmos.markers.item(`${HUBSPOT_OBJECTS_KIND}:${subjectHash}`, `${tenantId}|${HUBSPOT_OBJECTS_KIND}|${subjectHash}`).read<Record<string, unknown>>();
  return resource;
}

describe('the HubSpot object record (what Flowkeeper created or used in HubSpot, per subject)', () => {
  it('records contact and thread ids under the keyed hash, with a ttl and expiry, and nothing personal', async () => {
    const registry = new CosmosHubSpotObjectRegistry(s.cosmos.markers, s.clock);
    const tenantId = uniqueTenantId('or') as TenantId;
    const hash = await subject(tenantId);
    await registry.recordContact(tenantId, hash, { id: '1001', origin: 'created', matchedBy: ['phone'] }, 365 * DAY);
    await registry.recordThread(tenantId, hash, { id: '5001', channelAccountId: '880001' }, 365 * DAY);
    await registry.recordThread(tenantId, hash, { id: '5001', channelAccountId: '880001' }, 365 * DAY); // again: no duplicate
    expect(await registry.get(tenantId, hash)).toEqual({
      contacts: [{ id: '1001', origin: 'created', matchedBy: ['phone'], at: expect.any(String) }],
      threads: [{ id: '5001', channelAccountId: '880001', at: expect.any(String) }],
    });
    const raw = (await stored(tenantId, hash))!;
    expect(raw).toMatchObject({ kind: 'hubspot-objects', tenantId, key: hash, ttl: 365 * DAY, expiresAt: expect.any(String) });
    expect(Date.parse(String(raw.expiresAt)) - Date.now()).toBeGreaterThan(364 * DAY * 1000);
    const text = JSON.stringify(raw);
    for (const needle of ['447700900123', '7700 900123', '7700900123']) expect(text).not.toContain(needle);
    expect(Object.keys(raw).filter((k) => !k.startsWith('_')).sort()).toEqual(['at', 'contacts', 'expiresAt', 'id', 'key', 'kind', 'pk', 'tenantId', 'threads', 'ttl', 'updatedAt']);
  });

  it('two instances recording at once both land (optimistic concurrency, no lost write)', async () => {
    const [a, b] = [new CosmosHubSpotObjectRegistry(s.cosmos.markers, s.clock), new CosmosHubSpotObjectRegistry(s.cosmos.markers, s.clock)];
    const tenantId = uniqueTenantId('or') as TenantId;
    const hash = await subject(tenantId, '447700900124');
    await Promise.all([
      ...Array.from({ length: 4 }, (_, i) => a.recordThread(tenantId, hash, { id: String(6000 + i), channelAccountId: '1' }, DAY)),
      ...Array.from({ length: 4 }, (_, i) => b.recordThread(tenantId, hash, { id: String(7000 + i), channelAccountId: '1' }, DAY)),
      a.recordContact(tenantId, hash, { id: '2001', origin: 'found', matchedBy: ['mobilephone'] }, DAY),
    ]);
    const record = await new CosmosHubSpotObjectRegistry(s.cosmos.markers, s.clock).get(tenantId, hash);
    expect(record?.threads.map((t) => t.id).sort()).toEqual(['6000', '6001', '6002', '6003', '7000', '7001', '7002', '7003']);
    expect(record?.contacts.map((c) => c.id)).toEqual(['2001']);
  });

  it('drops a contact HubSpot no longer has, forgets a subject after its erasure, and a tenant at cancellation', async () => {
    const registry = new CosmosHubSpotObjectRegistry(s.cosmos.markers, s.clock);
    const tenantId = uniqueTenantId('or') as TenantId;
    const [h1, h2] = [await subject(tenantId, '447700900125'), await subject(tenantId, '447700900126')];
    await registry.recordContact(tenantId, h1, { id: '3001', origin: 'created', matchedBy: ['phone'] }, DAY);
    await registry.recordContact(tenantId, h1, { id: '3002', origin: 'found', matchedBy: ['phone'] }, DAY);
    await registry.forgetContact(tenantId, h1, '3001');
    expect((await registry.get(tenantId, h1))?.contacts.map((c) => c.id)).toEqual(['3002']);
    await registry.forget(tenantId, h1);
    expect(await registry.get(tenantId, h1)).toBeUndefined();
    // Recorded again after the erasure (a new relationship): written, not skipped by the process's cache.
    await registry.recordContact(tenantId, h1, { id: '3002', origin: 'found', matchedBy: ['phone'] }, DAY);
    expect((await registry.get(tenantId, h1))?.contacts.map((c) => c.id)).toEqual(['3002']);
    await registry.recordThread(tenantId, h2, { id: '8001', channelAccountId: '1' }, DAY);
    const other = uniqueTenantId('or') as TenantId;
    await registry.recordThread(other, h2, { id: '8002', channelAccountId: '1' }, DAY);
    expect(await registry.forgetTenant(tenantId)).toBe(2);
    expect(await registry.get(tenantId, h2)).toBeUndefined();
    expect(await registry.get(other, h2)).toBeDefined();
  });

  it('an expired record reads as absent (the emulator keeps it; Cosmos would not), and the retention sweep can find it', async () => {
    const registry = new CosmosHubSpotObjectRegistry(s.cosmos.markers, s.clock);
    const tenantId = uniqueTenantId('or') as TenantId;
    const hash = await subject(tenantId, '447700900127');
    await registry.recordThread(tenantId, hash, { id: '9001', channelAccountId: '1' }, 1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await registry.get(tenantId, hash)).toBeUndefined();
    const { resources } = await s.cosmos.markers.items
      .query<{ kind: string }>({ query: 'SELECT c.kind FROM c WHERE c.tenantId = @t AND c.expiresAt <= @now', parameters: [{ name: '@t', value: tenantId }, { name: '@now', value: new Date().toISOString() }] })
      .fetchAll();
    expect(resources).toEqual([{ kind: 'hubspot-objects' }]);
    // A bad ttl is a bug, not a record that never expires.
    await expect(registry.recordThread(tenantId, hash, { id: '9002', channelAccountId: '1' }, 0)).rejects.toThrow(/positive whole ttl/);
  });
});
