import './startupCheck';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { answer503OnOutage, authenticate, authorizeTenantRoute, errorResponse, readJson, validationError } from '../shared/http';
import { repositoriesOf, services } from '../shared/runtime';
import { configureTenant, tenantInputSchema } from '../shared/tenants';

/** PUT /api/tenants/{tenantId}: create or replace a tenant's configuration. */
export async function putTenant(request: HttpRequest): Promise<HttpResponseInit> {
  const s = await services();
  const route = authorizeTenantRoute(request, s.settings);
  if (!route.ok) return route.response;
  const { principal, tenantId } = route;

  const body = await readJson(request);
  if (!body.ok) return body.response;
  const config = tenantInputSchema.safeParse(body.value);
  if (!config.success) return validationError(config.error);

  const result = await configureTenant(repositoriesOf(s), { tenantId: tenantId, config: config.data, actor: principal.objectId });
  if (result.kind === 'conflict') return errorResponse(409, result.message, result.field);
  return { status: result.created ? 201 : 200, jsonBody: result.tenant };
}

/** GET /api/tenants/{tenantId}: the tenant's configuration (no secrets: HubSpot tokens live in Key Vault). */
export async function getTenant(request: HttpRequest): Promise<HttpResponseInit> {
  const s = await services();
  const route = authorizeTenantRoute(request, s.settings);
  if (!route.ok) return route.response;
  const { tenantId } = route;
  const tenant = await repositoriesOf(s).tenants.get(tenantId);
  return tenant ? { status: 200, jsonBody: tenant } : errorResponse(404, 'tenant not found');
}

/** GET /api/tenants: the tenants the caller may see. */
export async function listTenants(request: HttpRequest): Promise<HttpResponseInit> {
  const s = await services();
  const auth = authenticate(request, s.settings);
  if (!auth.ok) return auth.response;
  const all = await repositoriesOf(s).tenants.list();
  const visible = auth.principal.tenants === 'all' ? all : all.filter((t) => (auth.principal.tenants as string[]).includes(t.id));
  return { status: 200, jsonBody: { tenants: visible } };
}

app.http('putTenant', { route: 'tenants/{tenantId}', methods: ['PUT'], authLevel: 'anonymous', handler: answer503OnOutage(putTenant) });
app.http('getTenant', { route: 'tenants/{tenantId}', methods: ['GET'], authLevel: 'anonymous', handler: answer503OnOutage(getTenant) });
app.http('listTenants', { route: 'tenants', methods: ['GET'], authLevel: 'anonymous', handler: answer503OnOutage(listTenants) });
