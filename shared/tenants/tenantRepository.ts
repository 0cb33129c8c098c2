import type { TenantId } from '../domain/ids';
import type { Tenant, TenantInput } from './tenant';

/**
 * Tenant configurations (shared/cosmos/tenantRepository.ts in the app). A WhatsApp phone number id belongs
 * to one tenant at most (webhooks are routed by it): the repository enforces it atomically.
 */
export interface TenantRepository {
  get(id: TenantId): Promise<Tenant | undefined>;
  list(): Promise<Tenant[]>;
  /**
   * Creates or replaces a tenant's configuration; returns it with whether it was new and what it was
   * before. Throws PhoneNumberIdTakenError (nothing written) when another tenant holds one of its ids;
   * ids the tenant no longer lists are released.
   */
  put(id: TenantId, input: TenantInput): Promise<{ tenant: Tenant; created: boolean; previous?: Tenant }>;
  /** Writes a tenant back with the same phone number ids (cancellation marks it `cancelledAt`). */
  save(tenant: Tenant): Promise<void>;
  /** Deletes the tenant and releases its phone number ids. */
  delete(id: TenantId): Promise<void>;
  /** The tenant that owns a WhatsApp phone number id (cached for a short while), or undefined. */
  findByPhoneNumberId(phoneNumberId: string): Promise<Tenant | undefined>;
}

/** Another tenant holds a phone number id the configuration names: which one (by index) and its owner. */
export class PhoneNumberIdTakenError extends Error {
  constructor(
    /** Index of the id in the configuration's `phoneNumberIds`. */
    readonly index: number,
    readonly owner: TenantId,
  ) {
    // The message names the field only: the owner is for callers allowed to see it (functions/tenants.ts).
    super(`phoneNumberIds.${index} already belongs to another tenant`);
    this.name = 'PhoneNumberIdTakenError';
  }
}
