import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { tenantIdSchema, type TenantId } from '../domain/ids';
import { authenticate, type AdminAuthSettings } from './adminAuth';
import { ADMIN_ROLE, canActOn, type Principal } from './principal';
import { errorResponse, validationError } from './responses';
import { answer503OnOutage } from './unavailable';

/** What an admin handler is given: the request, who calls, the app's root, and the tenant scope. */
export interface AdminCall<Root> {
  request: HttpRequest;
  context: InvocationContext;
  principal: Principal;
  root: Root;
  /** Whether the principal may see this tenant (an admin sees every tenant, an operator those of its claims). */
  canSee(tenantId: TenantId): boolean;
  /** The answer for a tenant the principal may not see: 404, the same as for a tenant that does not exist. */
  hidden(tenantId: TenantId, field?: string): HttpResponseInit | undefined;
}

export interface TenantCall<Root> extends AdminCall<Root> {
  /** The `{tenantId}` of the route, valid and visible to the principal. */
  tenantId: TenantId;
}

export interface AdminRouteOptions {
  /** Only a Flowkeeper.Admin may call: the 403 message for anyone else (an operator). */
  adminOnly?: string;
}

/**
 * Every admin route's preamble, written once: the outage answer (a backing store down is 503 with
 * `retry-after`, not a 500), the principal (401 without one, 403 without a Flowkeeper role, where App
 * Service Authentication or LOCAL_DEV_AUTH says the header may be trusted: the validated settings), and
 * the tenant scope the handler applies with `hidden(tenantId)`.
 */
export function adminRoute<Root extends { settings: AdminAuthSettings }>(
  root: () => Promise<Root>,
  handler: (call: AdminCall<Root>) => Promise<HttpResponseInit>,
  options: AdminRouteOptions = {},
): HttpHandler {
  return answer503OnOutage(async (request, context) => {
    const app = await root();
    const auth = authenticate(request, app.settings);
    if (!auth.ok) return auth.response;
    const { principal } = auth;
    if (options.adminOnly && !principal.roles.includes(ADMIN_ROLE)) return errorResponse(403, options.adminOnly);
    const canSee = (tenantId: TenantId) => canActOn(principal, tenantId);
    return handler({
      request,
      context,
      principal,
      root: app,
      canSee,
      hidden: (tenantId, field) => (canSee(tenantId) ? undefined : errorResponse(404, 'tenant not found', field)),
    });
  });
}

/** An admin route on one tenant (`.../tenants/{tenantId}/...`): a valid tenant id (400) the principal may see (404). */
export function tenantRoute<Root extends { settings: AdminAuthSettings }>(
  root: () => Promise<Root>,
  handler: (call: TenantCall<Root>) => Promise<HttpResponseInit>,
): HttpHandler {
  return adminRoute(root, async (call) => {
    const tenantId = tenantIdSchema.safeParse(call.request.params.tenantId);
    if (!tenantId.success) return validationError(tenantId.error, 'tenantId');
    return call.hidden(tenantId.data) ?? handler({ ...call, tenantId: tenantId.data });
  });
}
