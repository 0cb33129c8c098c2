import type { TenantId } from '../domain/ids';
import type { Tenant } from '../tenants/tenant';
import type { TenantDirectory } from './ports';

const TTL_MS = 5000;

/**
 * The tenant, read at most every few seconds per tenant: every store task and the verification of an
 * erasure need it, and a change of configuration may take that long to be seen. A missing tenant is
 * never cached (a new tenant is seen at once). One per process, built by the composition root.
 */
export class RecentTenants {
  private readonly cache = new Map<TenantId, { tenant: Tenant; until: number }>();

  constructor(
    private readonly tenants: Pick<TenantDirectory, 'get'>,
    private readonly ttlMs = TTL_MS,
  ) {}

  async get(tenantId: TenantId, now = Date.now()): Promise<Tenant | undefined> {
    const hit = this.cache.get(tenantId);
    if (hit && hit.until > now) return hit.tenant;
    const tenant = await this.tenants.get(tenantId);
    if (tenant) this.cache.set(tenantId, { tenant, until: now + this.ttlMs });
    else this.cache.delete(tenantId);
    return tenant;
  }
}
