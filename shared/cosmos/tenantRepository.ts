import type { Container } from '@azure/cosmos';
import { isNotFound } from './cosmosStore';
import type { Clock } from '../domain/clock';
import type { TenantId } from '../domain/ids';
import { tenantSchema, type Tenant, type TenantInput } from '../tenants/tenant';
import type { TenantRepository } from '../tenants/tenantRepository';

/**
 * Tenants in Cosmos (`tenants`, partition `/id`). Webhooks look a tenant up by phone number id on every
 * delivery, so lookups are cached for a short while; a changed tenant is seen within `cacheMs`.
 */
export class CosmosTenantRepository implements TenantRepository {
  private byPhone = new Map<string, { tenant: Tenant | undefined; until: number }>();

  constructor(
    private readonly container: Container,
    private readonly clock: Clock,
    private readonly cacheMs = 30_000,
  ) {}

  async get(id: TenantId): Promise<Tenant | undefined> {
    try {
      const { resource } = await this.container.item(id, id).read<Record<string, unknown>>();
      return resource ? tenantSchema.parse(resource) : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async list(): Promise<Tenant[]> {
    const { resources } = await this.container.items.query<Record<string, unknown>>('SELECT * FROM c').fetchAll();
    return resources.map((r) => tenantSchema.parse(r));
  }

  /** Creates or replaces a tenant's configuration; returns it with whether it was new and what it was before. */
  async put(id: TenantId, input: TenantInput): Promise<{ tenant: Tenant; created: boolean; previous?: Tenant }> {
    const previous = await this.get(id);
    const now = this.clock.now().toISOString();
    const tenant: Tenant = tenantSchema.parse({ ...input, id, createdAt: previous?.createdAt ?? now, updatedAt: now, ...(previous?.cancelledAt ? { cancelledAt: previous.cancelledAt } : {}) });
    await this.container.items.upsert({ ...tenant, ttl: -1 });
    this.byPhone.clear();
    return { tenant, created: previous === undefined, ...(previous ? { previous } : {}) };
  }

  async save(tenant: Tenant): Promise<void> {
    await this.container.items.upsert({ ...tenantSchema.parse(tenant), ttl: -1 });
    this.byPhone.clear();
  }

  async delete(id: TenantId): Promise<void> {
    try {
      await this.container.item(id, id).delete();
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    this.byPhone.clear();
  }

  /** The tenant that owns a WhatsApp phone number id, or undefined for a number no tenant claims. */
  async findByPhoneNumberId(phoneNumberId: string): Promise<Tenant | undefined> {
    const now = this.clock.now().getTime();
    const cached = this.byPhone.get(phoneNumberId);
    if (cached && cached.until > now) return cached.tenant;
    const { resources } = await this.container.items
      .query<Record<string, unknown>>({
        query: 'SELECT * FROM c WHERE ARRAY_CONTAINS(c.phoneNumberIds, @id)',
        parameters: [{ name: '@id', value: phoneNumberId }],
      })
      .fetchAll();
    const tenant = resources[0] ? tenantSchema.parse(resources[0]) : undefined;
    this.byPhone.set(phoneNumberId, { tenant, until: now + this.cacheMs });
    return tenant;
  }
}
