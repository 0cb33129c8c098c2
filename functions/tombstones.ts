import './startupCheck';
import { app, type HttpResponseInit } from '@azure/functions';
import { errorResponse, readJson, tenantRoute, validationError, type TenantCall } from '../shared/http';
import { exportTombstones, reapplyTombstones, tombstoneExportSchema } from '../shared/operations/tombstones';
import { compositionRoot, type CompositionRoot } from '../shared/runtime';

/** GET /api/tenants/{tenantId}/tombstones: every erasure tombstone (keyed hashes and dates, no personal data). */
export async function getTombstones({ tenantId, root }: TenantCall<CompositionRoot>): Promise<HttpResponseInit> {
  if (!(await root.tenants.get(tenantId))) return errorResponse(404, 'tenant not found', 'tenantId');
  return { status: 200, jsonBody: await exportTombstones(root.tombstones, tenantId) };
}

/** POST /api/tenants/{tenantId}/tombstones/reapply (body: an export): tombstones written again, tombstoned subjects with data erased again. */
export async function postReapply({ request, tenantId, principal, root }: TenantCall<CompositionRoot>): Promise<HttpResponseInit> {
  const body = await readJson(request);
  if (!body.ok) return body.response;
  const file = tombstoneExportSchema.safeParse(body.value);
  if (!file.success) return validationError(file.error);
  if (file.data.tenantId !== tenantId) return errorResponse(400, `tenantId is ${file.data.tenantId} in the file, not ${tenantId}: an export of another tenant`, 'tenantId');
  const result = await reapplyTombstones(root.tombstones, tenantId, file.data, principal.objectId);
  if ('kind' in result) return errorResponse(404, 'tenant not found', 'tenantId');
  return { status: 200, jsonBody: result };
}

app.http('getTombstones', { route: 'tenants/{tenantId}/tombstones', methods: ['GET'], authLevel: 'anonymous', handler: tenantRoute(compositionRoot, getTombstones) });
app.http('reapplyTombstones', { route: 'tenants/{tenantId}/tombstones/reapply', methods: ['POST'], authLevel: 'anonymous', handler: tenantRoute(compositionRoot, postReapply) });
