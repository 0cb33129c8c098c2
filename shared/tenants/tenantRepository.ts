import type { TenantId } from '../domain/ids';
import type { Tenant, TenantInput } from './tenant';

/** Tenant configurations (shared/cosmos/tenantRepository.ts in the app). */
export interface TenantRepository {
  get(id: TenantId): Promise<Tenant | undefined>;
  list(): Promise<Tenant[]>;
  /** Creates or replaces a tenant's configuration; returns it with whether it was new and what it was before. */
  put(id: TenantId, input: TenantInput): Promise<{ tenant: Tenant; created: boolean; previous?: Tenant }>;
  save(tenant: Tenant): Promise<void>;
  delete(id: TenantId): Promise<void>;
  /** The tenant that owns a WhatsApp phone number id (cached for a short while), or undefined. */
  findByPhoneNumberId(phoneNumberId: string): Promise<Tenant | undefined>;
}
