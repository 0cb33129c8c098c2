import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { TenantId } from '../domain/ids';
import { errorResponse } from './responses';
import { canActOn, isAdminOrOperator, principalFrom, type Principal } from './principal';

export type Authenticated = { ok: true; principal: Principal } | { ok: false; response: HttpResponseInit };

/**
 * Every admin route starts here. In Azure, App Service Authentication (Entra ID) validated the caller
 * and set `x-ms-client-principal`; on a developer machine LOCAL_DEV_AUTH=true trusts the header as given.
 * 401 without a principal, 403 without a Flowkeeper role.
 */
export function authenticate(request: HttpRequest, env: { LOCAL_DEV_AUTH: boolean; appServiceAuth?: boolean }): Authenticated {
  const principal = principalFrom(request.headers.get('x-ms-client-principal'), {
    appServiceAuth: env.appServiceAuth ?? process.env.WEBSITE_AUTH_ENABLED?.toLowerCase() === 'true',
    localDevAuth: env.LOCAL_DEV_AUTH,
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
