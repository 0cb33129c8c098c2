import './startupCheck';
import { app, type HttpResponseInit } from '@azure/functions';
import { adminRoute, errorResponse, readJson, tenantRoute, validationError, type AdminCall, type TenantCall } from '../shared/http';
import { compositionRoot, type CompositionRoot } from '../shared/runtime';
import { configureTenant, tenantInputSchema } from '../shared/tenants';

/** PUT /api/tenants/{tenantId}: create or replace a tenant's configuration. */
export async function putTenant({ request, principal, tenantId, root }: TenantCall<CompositionRoot>): Promise<HttpResponseInit> {
  const body = await readJson(request);
  if (!body.ok) return body.response;
  const config = tenantInputSchema.safeParse(body.value);
  if (!config.success) return validationError(config.error);
  const result = await configureTenant(root, { tenantId, config: config.data, actor: principal.objectId });
  if (result.kind === 'conflict') return errorResponse(409, result.message, result.field);
  return { status: result.created ? 201 : 200, jsonBody: result.tenant };
}

/** GET /api/tenants/{tenantId}: the tenant's configuration (no secrets: HubSpot tokens live in Key Vault). */
export async function getTenant({ tenantId, root }: TenantCall<CompositionRoot>): Promise<HttpResponseInit> {
  const tenant = await root.tenants.get(tenantId);
  return tenant ? { status: 200, jsonBody: tenant } : errorResponse(404, 'tenant not found');
}

/** GET /api/tenants: the tenants the caller may see. */
export async function listTenants({ root, canSee }: AdminCall<CompositionRoot>): Promise<HttpResponseInit> {
  const visible = (await root.tenants.list()).filter((t) => canSee(t.id));
  return { status: 200, jsonBody: { tenants: visible } };
}

app.http('putTenant', { route: 'tenants/{tenantId}', methods: ['PUT'], authLevel: 'anonymous', handler: tenantRoute(compositionRoot, putTenant) });
app.http('getTenant', { route: 'tenants/{tenantId}', methods: ['GET'], authLevel: 'anonymous', handler: tenantRoute(compositionRoot, getTenant) });
app.http('listTenants', { route: 'tenants', methods: ['GET'], authLevel: 'anonymous', handler: adminRoute(compositionRoot, listTenants) });
