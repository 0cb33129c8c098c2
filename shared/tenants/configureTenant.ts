import type { AuditLog } from '../audit/auditLog';
import type { TenantId } from '../domain/ids';
import type { Tenant, TenantInput } from './tenant';
import { PhoneNumberIdTakenError, type TenantRepository } from './tenantRepository';

/** Audit partitions of Flowkeeper's own cross-tenant actions (dead-letter replays): never a tenant. */
export const RESERVED_TENANT_IDS: readonly string[] = ['flowkeeper-operations', 'system'];

export type ConfigureTenantResult =
  | { kind: 'saved'; tenant: Tenant; created: boolean }
  /** `owner`: the tenant holding a phone number id, for a caller allowed to see it (never in `message`). */
  | { kind: 'conflict'; field: string; message: string; owner?: TenantId };

/**
 * PUT /api/tenants/{id}: creates or replaces a tenant. A phone number id belongs to one tenant only
 * (webhooks are routed by it), enforced by the repository's atomic claims. Changes of storage mode and retention are audited with who made them.
 */
export async function configureTenant(
  deps: { tenants: TenantRepository; audit: AuditLog },
  input: { tenantId: TenantId; config: TenantInput; actor: string },
): Promise<ConfigureTenantResult> {
  if (RESERVED_TENANT_IDS.includes(input.tenantId)) {
    return { kind: 'conflict', field: 'tenantId', message: `tenantId ${input.tenantId} is reserved for Flowkeeper's own records` };
  }
  let saved;
  try {
    // The repository claims each phone number id atomically: of two concurrent PUTs naming one id, one wins.
    saved = await deps.tenants.put(input.tenantId, input.config);
  } catch (error) {
    if (!(error instanceof PhoneNumberIdTakenError)) throw error;
    return { kind: 'conflict', field: `phoneNumberIds.${error.index}`, message: `phoneNumberIds.${error.index} already belongs to another tenant`, owner: error.owner };
  }
  const { tenant, created, previous } = saved;
  await deps.audit.record({
    tenantId: tenant.id,
    type: created ? 'tenant.created' : 'tenant.updated',
    actor: input.actor,
    details: {
      messageStorage: tenant.messageStorage,
      phoneNumberIds: tenant.phoneNumberIds.length,
      jurisdiction: tenant.jurisdiction,
    },
  });
  if (previous && previous.messageStorage !== tenant.messageStorage) {
    await deps.audit.record({
      tenantId: tenant.id,
      type: 'tenant.message-storage-changed',
      actor: input.actor,
      details: { from: previous.messageStorage, to: tenant.messageStorage },
    });
  }
  if (previous && JSON.stringify(previous.retention) !== JSON.stringify(tenant.retention)) {
    await deps.audit.record({
      tenantId: tenant.id,
      type: 'tenant.retention-changed',
      actor: input.actor,
      details: Object.fromEntries(Object.entries(tenant.retention).map(([k, v]) => [k, v])),
    });
  }
  return { kind: 'saved', tenant, created };
}
