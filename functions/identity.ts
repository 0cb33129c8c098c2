import './startupCheck';
import { app, type HttpResponseInit } from '@azure/functions';
import { migrateTenant } from '../shared/identity';
import { errorResponse, tenantRoute, type TenantCall } from '../shared/http';
import { compositionRoot, type CompositionRoot } from '../shared/runtime';

/**
 * POST /api/tenants/{tenantId}/identity/migrate[?dryRun=true]: moves the tenant's subject documents from
 * the legacy phone-number partition keys to identifier-hash keys (docs/identity.md). Counts only in the
 * answer and the audit event. Safe to run again: a run that stopped half-way is finished by the next.
 */
export async function migrateIdentity({ request, principal, tenantId, root }: TenantCall<CompositionRoot>): Promise<HttpResponseInit> {
  const dryRun = ['true', '1', 'yes'].includes((request.query.get('dryRun') ?? '').toLowerCase());
  const tenant = await root.tenants.get(tenantId);
  if (!tenant) return errorResponse(404, 'tenant not found');
  const result = await migrateTenant(root.identityMigration, tenantId, { dryRun, actor: principal.objectId });
  return { status: 200, jsonBody: result };
}

app.http('migrateIdentity', { route: 'tenants/{tenantId}/identity/migrate', methods: ['POST'], authLevel: 'anonymous', handler: tenantRoute(compositionRoot, migrateIdentity) });
