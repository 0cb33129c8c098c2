import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantId } from '../../shared/domain';
import { adminHeaders, operatorHeaders } from '../support/principals';
import { startTestHost, type TestHost } from '../support/testHost';
import { uniqueTenantId } from '../support/testServices';
import { CosmosAuditLog } from '../../shared/cosmos';

let t: TestHost;
beforeAll(async () => {
  t = await startTestHost();
});
afterAll(async () => {
  await t?.close();
});

const config = { name: 'Acme Lettings', phoneNumberIds: ['106540352242922'], messageStorage: 'none' };

async function put(tenantId: string, body: unknown, headers = adminHeaders()) {
  return fetch(`${t.url}/api/tenants/${tenantId}`, { method: 'PUT', headers, body: JSON.stringify(body) });
}

describe('tenant configuration API', () => {
  it('an admin creates a tenant with safe defaults, reads it back, and the change is audited with the admin id', async () => {
    const id = uniqueTenantId();
    const phone = String(Date.now()).slice(-12);
    const created = await put(id, { ...config, phoneNumberIds: [phone] });
    expect(created.status).toBe(201);
    const read = await fetch(`${t.url}/api/tenants/${id}`, { headers: adminHeaders() });
    expect(read.status).toBe(200);
    const tenant = (await read.json()) as Record<string, unknown>;
    expect(tenant).toMatchObject({ id, name: 'Acme Lettings', messageStorage: 'none', jurisdiction: 'gdpr', retention: { contactDays: 365, exportDays: 7 } });
    const events = await new CosmosAuditLog(t.services.cosmos.audit, t.services.clock).query(id as TenantId, new Date(0), new Date(Date.now() + 1000));
    expect(events).toEqual([expect.objectContaining({ type: 'tenant.created', actor: '00000000-0000-0000-0000-0000000000a1' })]);
  });

  it('a bad body gets a 400 naming the field', async () => {
    const response = await put(uniqueTenantId(), { ...config, messageStorage: 'plaintext' });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { field: string; message: string } };
    expect(body.error.field).toBe('messageStorage');
    expect(body.error.message).toMatch(/messageStorage must be one of none, hubspot, encrypted/);
    const bad = await fetch(`${t.url}/api/tenants/${uniqueTenantId()}`, { method: 'PUT', headers: adminHeaders(), body: '{not json' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/not valid JSON/);
    const retention = await put(uniqueTenantId(), { ...config, retention: { contactDays: 10_000 } });
    expect(((await retention.json()) as { error: { field: string } }).error.field).toBe('retention.contactDays');
  });

  it('a phone number id already owned by another tenant is refused with 409', async () => {
    const phone = `9${String(Date.now()).slice(-10)}`;
    expect((await put(uniqueTenantId(), { ...config, phoneNumberIds: [phone] })).status).toBe(201);
    const second = await put(uniqueTenantId(), { ...config, phoneNumberIds: [phone] });
    expect(second.status).toBe(409);
  });

  it("Flowkeeper's own audit partition cannot be taken as a tenant id", async () => {
    const response = await put('flowkeeper-operations', { ...config, phoneNumberIds: [`7${String(Date.now()).slice(-10)}`] });
    expect(response.status).toBe(409);
    expect(((await response.json()) as { error: { field: string } }).error.field).toBe('tenantId');
  });

  it('without a principal the admin API answers 401; an operator of another tenant gets 404, not a hint', async () => {
    const id = uniqueTenantId();
    await put(id, { ...config, phoneNumberIds: [`8${String(Date.now()).slice(-10)}`] });
    expect((await fetch(`${t.url}/api/tenants/${id}`)).status).toBe(401);
    expect((await fetch(`${t.url}/api/tenants/${id}`, { headers: operatorHeaders(['someone-else']) })).status).toBe(404);
    expect((await fetch(`${t.url}/api/tenants/${id}`, { headers: operatorHeaders([id]) })).status).toBe(200);
    expect((await put(id, config, operatorHeaders(['someone-else']))).status).toBe(404);
  });
});
