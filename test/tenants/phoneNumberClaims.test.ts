import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CosmosTenantRepository, phoneNumberClaimId, STALE_CLAIM_MS } from '../../shared/cosmos/tenantRepository';
import type { TenantId } from '../../shared/domain';
import { PhoneNumberIdTakenError, tenantInputSchema } from '../../shared/tenants';
import { ManualClock } from '../doubles';
import { messages, newPhoneNumberId, newWaId, single } from '../fixtures/whatsapp/payloads';
import { adminHeaders, operatorHeaders } from '../support/principals';
import { startTestHost, type TestHost } from '../support/testHost';
import { uniqueTenantId } from '../support/testServices';
import { postWebhook } from '../whatsapp/support';

/**
 * A WhatsApp phone number id belongs to one tenant: webhooks are routed by it. The store enforces it (a
 * claim document per phone number id, created atomically), not a look-up before the write, so two
 * concurrent PUTs naming the same id cannot both win.
 */
let t: TestHost;
beforeAll(async () => {
  t = await startTestHost();
});
afterAll(async () => {
  await t?.close();
});

const config = { name: 'Acme Lettings', messageStorage: 'none' };

async function put(tenantId: string, phoneNumberIds: string[], headers = adminHeaders()): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${t.url}/api/tenants/${tenantId}`, { method: 'PUT', headers, body: JSON.stringify({ ...config, phoneNumberIds }) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function ids(tenantId: string): Promise<string[] | undefined> {
  const response = await fetch(`${t.url}/api/tenants/${tenantId}`, { headers: adminHeaders() });
  return response.status === 200 ? ((await response.json()) as { phoneNumberIds: string[] }).phoneNumberIds : undefined;
}

describe('phone number ids are unique across tenants, enforced by the store', () => {
  it('two concurrent PUTs of different tenants naming the same id: exactly one wins, every time (25 rounds), and only the winner lists it', async () => {
    const survivors: string[] = [];
    for (let round = 0; round < 25; round++) {
      const shared = newPhoneNumberId();
      const [a, b] = [uniqueTenantId('race'), uniqueTenantId('race')];
      // Each also names an id of its own, in a different order, so the claims interleave.
      const [ra, rb] = await Promise.all([put(a, [newPhoneNumberId(), shared]), put(b, [shared, newPhoneNumberId()])]);
      const statuses = [ra.status, rb.status].sort();
      if (statuses[0] !== 201 || statuses[1] !== 409) survivors.push(`round ${round}: ${ra.status} ${rb.status}`);
      const [winner, loser] = ra.status === 201 ? [a, b] : [b, a];
      const loserResponse = ra.status === 201 ? rb : ra;
      expect(loserResponse.body).toMatchObject({ error: { field: expect.stringMatching(/^phoneNumberIds\.[01]$/) } });
      expect(await ids(loser)).toBeUndefined(); // nothing of the loser was written
      expect(await ids(winner)).toContain(shared);
    }
    expect(survivors).toEqual([]);
  });

  it("the loser is told which field conflicts; the other tenant's id only when the caller may see that tenant", async () => {
    const shared = newPhoneNumberId();
    const owner = uniqueTenantId('own');
    const other = uniqueTenantId('oth');
    expect((await put(owner, [shared])).status).toBe(201);

    const operator = await put(other, [newPhoneNumberId(), shared], operatorHeaders([other]));
    expect(operator.status).toBe(409);
    expect(operator.body).toEqual({ error: { message: 'phoneNumberIds.1 already belongs to another tenant', field: 'phoneNumberIds.1' } });
    expect(JSON.stringify(operator.body)).not.toContain(owner);

    const admin = await put(other, [shared], adminHeaders());
    expect(admin.status).toBe(409);
    expect(admin.body).toEqual({ error: { message: `phoneNumberIds.0 already belongs to tenant ${owner}`, field: 'phoneNumberIds.0' } });
    const seesBoth = await put(other, [shared], operatorHeaders([other, owner]));
    expect((seesBoth.body as { error: { message: string } }).error.message).toContain(owner);
  });

  it("changing a tenant's ids releases the old ones to others at once, and webhooks follow the new owner", async () => {
    const [x, y] = [newPhoneNumberId(), newPhoneNumberId()];
    const first = uniqueTenantId('rel');
    const second = uniqueTenantId('rel');
    expect((await put(first, [x])).status).toBe(201);
    expect((await put(second, [x])).status).toBe(409);
    expect((await put(first, [y])).status).toBe(200);
    expect((await put(second, [x])).status).toBe(201);
    // Re-saving a tenant with its own ids is no conflict (its claims are its own).
    expect((await put(second, [x])).status).toBe(200);

    const waId = newWaId();
    const response = await postWebhook(t.url, single(x, waId, messages.text(waId, 'hello')));
    expect(await response.json()).toMatchObject({ received: { messages: 1, unknownNumbers: 0 } });
    expect(t.services.telemetry.metrics.filter((m) => m.name === 'webhook.message').at(-1)?.dimensions.tenantId).toBe(second);
  });
});

describe('tenants stored before the claims existed', () => {
  it('get their claims on first use: a new tenant naming a legacy tenant id is refused, and the legacy tenant keeps its webhooks', async () => {
    const host = await startTestHost();
    try {
      const legacyId = uniqueTenantId('legacy');
      const phone = newPhoneNumberId();
      const now = new Date().toISOString();
      // Written as the previous version wrote a tenant: the document only, no claim.
      await host.services.cosmos.tenants.items.create({ ...config, id: legacyId, phoneNumberIds: [phone], jurisdiction: 'gdpr', retention: { contactDays: 365, flowResponseDays: 90, messageDays: 30, mediaDays: 30, exportDays: 7 }, hubspot: { enabled: false }, confirmErasureByMessage: false, createdAt: now, updatedAt: now, ttl: -1 });

      const newcomer = uniqueTenantId('new');
      const response = await fetch(`${host.url}/api/tenants/${newcomer}`, { method: 'PUT', headers: adminHeaders(), body: JSON.stringify({ ...config, phoneNumberIds: [phone] }) });
      expect(response.status).toBe(409);
      const { resources: claims } = await host.services.cosmos.tenants.items.query<{ tenantId: string }>({ query: 'SELECT * FROM c WHERE c.phoneNumberId = @p', parameters: [{ name: '@p', value: phone }] }).fetchAll();
      expect(claims.map((c) => c.tenantId)).toEqual([legacyId]);

      // The legacy tenant is still listed (claims are not tenants) and re-saved without conflict.
      const list = (await (await fetch(`${host.url}/api/tenants`, { headers: adminHeaders() })).json()) as { tenants: { id: string }[] };
      expect(list.tenants.map((x) => x.id)).toEqual([legacyId]);
      const resave = await fetch(`${host.url}/api/tenants/${legacyId}`, { method: 'PUT', headers: adminHeaders(), body: JSON.stringify({ ...config, phoneNumberIds: [phone] }) });
      expect(resave.status).toBe(200);
      const waId = newWaId();
      expect(await (await postWebhook(host.url, single(phone, waId, messages.text(waId, 'still mine')))).json()).toMatchObject({ received: { messages: 1, unknownNumbers: 0 } });
    } finally {
      await host.close();
    }
  });
});

describe('the claims in the store', () => {
  const input = (phoneNumberIds: string[]) => tenantInputSchema.parse({ ...config, phoneNumberIds });

  it('deleting a tenant (the end of an account cancellation) releases its ids', async () => {
    const repository = new CosmosTenantRepository(t.services.cosmos.tenants, new ManualClock(new Date()));
    const phone = newPhoneNumberId();
    const [a, b] = [uniqueTenantId('del') as TenantId, uniqueTenantId('del') as TenantId];
    await repository.put(a, input([phone]));
    await expect(repository.put(b, input([phone]))).rejects.toThrow(PhoneNumberIdTakenError);
    await repository.delete(a);
    expect((await repository.put(b, input([phone]))).created).toBe(true);
    expect((await repository.findByPhoneNumberId(phone))?.id).toBe(b);
  });

  it('a claim left behind by a PUT that died before writing its tenant is taken over only once it is stale', async () => {
    const clock = new ManualClock(new Date());
    const repository = new CosmosTenantRepository(t.services.cosmos.tenants, clock, 0);
    const phone = newPhoneNumberId();
    const ghost = uniqueTenantId('ghost');
    await t.services.cosmos.tenants.items.create({ id: phoneNumberClaimId(phone), kind: 'phone-number-claim', tenantId: ghost, phoneNumberId: phone, claimedAt: clock.now().toISOString(), ttl: -1 });
    const heir = uniqueTenantId('heir') as TenantId;
    // A claim this fresh may belong to a PUT still in flight: refused, nothing written.
    await expect(repository.put(heir, input([phone]))).rejects.toMatchObject({ name: 'PhoneNumberIdTakenError', index: 0, owner: ghost });
    expect(await repository.findByPhoneNumberId(phone)).toBeUndefined(); // a claim alone routes nothing
    clock.advance(STALE_CLAIM_MS + 1000);
    expect((await repository.put(heir, input([phone]))).created).toBe(true);
    expect((await repository.findByPhoneNumberId(phone))?.id).toBe(heir);
  });
});
