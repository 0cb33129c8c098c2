import { encodePrincipal } from '../../shared/http';

/** Headers of an admin (every tenant), as App Service Authentication would pass them. */
export function adminHeaders(objectId = '00000000-0000-0000-0000-0000000000a1'): Record<string, string> {
  return { 'x-ms-client-principal': encodePrincipal({ objectId, roles: ['Flowkeeper.Admin'] }), 'content-type': 'application/json' };
}

/** Headers of an operator limited to the given tenants. */
export function operatorHeaders(tenants: string[], objectId = '00000000-0000-0000-0000-0000000000b2'): Record<string, string> {
  return { 'x-ms-client-principal': encodePrincipal({ objectId, roles: ['Flowkeeper.Operator'], tenants }), 'content-type': 'application/json' };
}
