import type { TenantId } from '../domain/ids';
import type { Tenant } from '../tenants/tenant';
import type { TenantRepository } from '../tenants/tenantRepository';

const TTL_MS = 5000;
const caches = new WeakMap<TenantRepository, Map<TenantId, { tenant: Tenant; until: number }>>();

/**
 * The tenant, read at most every few seconds per tenant: every store task and the verification of an
 * erasure need it, and a change of configuration may take that long to be seen. A missing tenant is
 * never cached (a new tenant is seen at once).
 */
export async function cachedTenant(tenants: TenantRepository, tenantId: TenantId, now = Date.now()): Promise<Tenant | undefined> {
  let cache = caches.get(tenants);
  if (!cache) {
    cache = new Map();
    caches.set(tenants, cache);
  }
  const hit = cache.get(tenantId);
  if (hit && hit.until > now) return hit.tenant;
  const tenant = await tenants.get(tenantId);
  if (tenant) cache.set(tenantId, { tenant, until: now + TTL_MS });
  else cache.delete(tenantId);
  return tenant;
}
