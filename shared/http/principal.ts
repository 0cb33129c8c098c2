import { z } from 'zod';
import type { TenantId } from '../domain/ids';

export const ADMIN_ROLE = 'Flowkeeper.Admin';
export const OPERATOR_ROLE = 'Flowkeeper.Operator';
const TENANT_CLAIM = 'flowkeeper_tenant';
const OBJECT_ID_CLAIMS = ['http://schemas.microsoft.com/identity/claims/objectidentifier', 'oid'];

/** Who is calling an admin route, as App Service Authentication (Entra ID) describes them. */
export interface Principal {
  objectId: string;
  roles: string[];
  /** Tenants an operator may act on; an admin may act on every tenant. */
  tenants: TenantId[] | 'all';
}

const clientPrincipalSchema = z.object({
  auth_typ: z.string().optional(),
  claims: z.array(z.object({ typ: z.string(), val: z.string() })).default([]),
  name_typ: z.string().optional(),
  role_typ: z.string().optional(),
});

/**
 * Reads `x-ms-client-principal`. The header is only trusted where something trustworthy set it: App
 * Service Authentication (which strips any client-sent copy, WEBSITE_AUTH_ENABLED=True) or a developer
 * machine with LOCAL_DEV_AUTH=true.
 */
export function principalFrom(
  header: string | null,
  trust: { appServiceAuth: boolean; localDevAuth: boolean },
): Principal | undefined {
  if (!header || !(trust.appServiceAuth || trust.localDevAuth)) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = clientPrincipalSchema.safeParse(decoded);
  if (!parsed.success) return undefined;
  const roleType = parsed.data.role_typ ?? 'roles';
  const claims = parsed.data.claims;
  const roles = claims.filter((c) => c.typ === roleType || c.typ === 'roles').map((c) => c.val);
  const objectId = claims.find((c) => OBJECT_ID_CLAIMS.includes(c.typ))?.val ?? 'unknown';
  const tenants = roles.includes(ADMIN_ROLE)
    ? 'all'
    : (claims.filter((c) => c.typ === TENANT_CLAIM).map((c) => c.val) as TenantId[]);
  return { objectId, roles, tenants };
}

export function isAdminOrOperator(principal: Principal): boolean {
  return principal.roles.includes(ADMIN_ROLE) || principal.roles.includes(OPERATOR_ROLE);
}

export function canActOn(principal: Principal, tenantId: TenantId): boolean {
  if (!isAdminOrOperator(principal)) return false;
  return principal.tenants === 'all' || principal.tenants.includes(tenantId);
}

/** Builds the header value (for the CLI, the local dev principal and tests). */
export function encodePrincipal(input: { objectId: string; roles: string[]; tenants?: string[] }): string {
  const claims = [
    { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: input.objectId },
    ...input.roles.map((val) => ({ typ: 'roles', val })),
    ...(input.tenants ?? []).map((val) => ({ typ: TENANT_CLAIM, val })),
  ];
  return Buffer.from(JSON.stringify({ auth_typ: 'aad', claims, name_typ: 'name', role_typ: 'roles' })).toString('base64');
}
