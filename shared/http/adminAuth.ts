import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { Settings } from '../config/settings';
import { tenantIdSchema, type TenantId } from '../domain/ids';
import { errorResponse, validationError } from './responses';
import { canActOn, isAdminOrOperator, principalFrom, type Principal } from './principal';

/** The validated settings that say whose `x-ms-client-principal` may be trusted. */
export type AdminAuthSettings = Pick<Settings, 'LOCAL_DEV_AUTH' | 'WEBSITE_AUTH_ENABLED'>;

export type Authenticated = { ok: true; principal: Principal } | { ok: false; response: HttpResponseInit };

/**
 * Every admin route starts here. In Azure, App Service Authentication (Entra ID) validated the caller
 * and set `x-ms-client-principal`; on a developer machine LOCAL_DEV_AUTH=true trusts the header as given.
 * 401 without a principal, 403 without a Flowkeeper role.
 */
export function authenticate(request: Pick<HttpRequest, 'headers'>, settings: AdminAuthSettings): Authenticated {
  const principal = principalFrom(request.headers.get('x-ms-client-principal'), {
    appServiceAuth: settings.WEBSITE_AUTH_ENABLED,
    localDevAuth: settings.LOCAL_DEV_AUTH,
  });
  if (!principal) return { ok: false, response: errorResponse(401, 'authentication required (x-ms-client-principal)') };
  if (!isAdminOrOperator(principal)) return { ok: false, response: errorResponse(403, 'the Flowkeeper.Admin or Flowkeeper.Operator role is required') };
  return { ok: true, principal };
}

/**
 * A principal scoped to other tenants gets the same 404 as for a tenant that does not exist: the answer
 * must not reveal which tenants exist.
 */
export function tenantNotVisible(principal: Principal, tenantId: TenantId): HttpResponseInit | undefined {
  return canActOn(principal, tenantId) ? undefined : notFound('tenant');
}

export function notFound(what: string): HttpResponseInit {
  return errorResponse(404, `${what} not found`);
}

export type TenantRoute = { ok: true; principal: Principal; tenantId: TenantId } | { ok: false; response: HttpResponseInit };

/**
 * The start of every admin route on one tenant: an authenticated principal with a role (401/403), a
 * valid tenant id (400 naming `tenantId`), and a tenant the principal may see (404 otherwise).
 */
export function authorizeTenantRoute(request: HttpRequest, settings: AdminAuthSettings, rawTenantId: unknown = request.params.tenantId): TenantRoute {
  const auth = authenticate(request, settings);
  if (!auth.ok) return auth;
  const tenantId = tenantIdSchema.safeParse(rawTenantId);
  if (!tenantId.success) return { ok: false, response: validationError(tenantId.error, 'tenantId') };
  const hidden = tenantNotVisible(auth.principal, tenantId.data);
  if (hidden) return { ok: false, response: hidden };
  return { ok: true, principal: auth.principal, tenantId: tenantId.data };
}
