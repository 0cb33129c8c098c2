import './startupCheck';
import { app, type HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { adminRoute, errorResponse, readJson, tenantRoute, validationError, type AdminCall, type TenantCall } from '../shared/http';
import {
  cancellationProgress,
  cancelTenant,
  createPrivacyRequest,
  getPrivacyRequest,
  privacyRequestInputSchema,
  readAccessExport,
  retryPrivacyRequest,
  type PrivacyRequestView,
} from '../shared/privacy';
import { compositionRoot, type CompositionRoot } from '../shared/runtime';

const requestIdSchema = z.uuid({ error: 'must be a privacy request id (uuid)' });
type Call = AdminCall<CompositionRoot>;

/** POST /api/privacy-requests: 202 with {id, status, dueAt, ...}; 200 with the open one when an identical request runs. */
export async function postPrivacyRequest({ request, principal, root, hidden }: Call): Promise<HttpResponseInit> {
  const body = await readJson(request);
  if (!body.ok) return body.response;
  const input = privacyRequestInputSchema.safeParse(body.value);
  if (!input.success) return validationError(input.error);
  const { tenantId, type, scope, subject, rectification } = input.data;
  const notVisible = hidden(tenantId, 'tenantId');
  if (notVisible) return notVisible;
  const result = await createPrivacyRequest(root.privacy, {
    tenantId, subject: subject.waId !== undefined ? { kind: 'waId', value: subject.waId } : { kind: 'userId', value: subject.userId! }, type, scope, channel: 'admin', actor: principal.objectId, ...(rectification ? { rectification } : {}),
  });
  if (result.kind === 'unknown-tenant') return errorResponse(404, 'tenant not found', 'tenantId');
  return { status: result.kind === 'created' ? 202 : 200, jsonBody: { ...result.request, existing: result.kind === 'existing' } };
}

/** GET /api/privacy-requests/{id}: status, per-store tasks, attempts, counts, timings and due date. */
export async function getPrivacyRequestStatus(call: Call): Promise<HttpResponseInit> {
  const found = await visibleRequest(call);
  return 'response' in found ? found.response : { status: 200, jsonBody: found.view };
}

/** GET /api/privacy-requests/{id}/export: the access export (JSON) until it expires (410 after). */
export async function getPrivacyRequestExport(call: Call): Promise<HttpResponseInit> {
  const found = await visibleRequest(call);
  if ('response' in found) return found.response;
  const result = await readAccessExport(call.root.privacy, found.view.id);
  if (result.kind === 'not-found') return errorResponse(404, 'this request is not an access request');
  if (result.kind === 'not-ready') return errorResponse(409, `the export is not ready (status ${result.request.status})`);
  if (result.kind === 'expired') return errorResponse(410, 'the export has expired and was deleted: make a new access request');
  if (result.kind === 'erased') return errorResponse(410, `the subject's data was erased by privacy request ${result.erasureId}: this export is withheld or deleted`);
  return {
    status: 200,
    body: result.content,
    headers: { 'content-type': 'application/json', 'content-disposition': `attachment; filename="access-export-${found.view.id}.json"`, 'cache-control': 'no-store' },
  };
}

/** POST /api/privacy-requests/{id}/retry: re-drives a failed request from the failed step. */
export async function retryPrivacyRequestRoute(call: Call): Promise<HttpResponseInit> {
  const found = await visibleRequest(call);
  if ('response' in found) return found.response;
  const result = await retryPrivacyRequest(call.root.privacy, found.view.id, call.principal.objectId);
  if (result.kind === 'not-found') return errorResponse(404, 'privacy request not found');
  if (result.kind === 'not-failed') return errorResponse(409, `only a failed request can be retried (status ${result.request.status})`);
  return { status: 202, jsonBody: result.request };
}

/** POST /api/tenants/{tenantId}/cancel: account cancellation (erase every subject, then the configuration). */
export async function cancelTenantRoute({ principal, tenantId, root }: TenantCall<CompositionRoot>): Promise<HttpResponseInit> {
  const result = await cancelTenant(root.privacy, tenantId, principal.objectId);
  return result.kind === 'not-found' ? errorResponse(404, 'tenant not found') : { status: 202, jsonBody: result.progress };
}

/** GET /api/tenants/{tenantId}/cancellation: progress of the account cancellation. */
export async function getCancellation({ tenantId, root }: TenantCall<CompositionRoot>): Promise<HttpResponseInit> {
  const progress = await cancellationProgress(root.privacy, tenantId);
  return progress ? { status: 200, jsonBody: progress } : errorResponse(404, 'no cancellation for this tenant');
}

/** The request named in the route, if the caller may see its tenant (404 otherwise, as for a missing one). */
async function visibleRequest({ request, root, canSee }: Call): Promise<{ view: PrivacyRequestView } | { response: HttpResponseInit }> {
  const id = requestIdSchema.safeParse(request.params.id);
  if (!id.success) return { response: validationError(id.error, 'id') };
  const view = await getPrivacyRequest(root.privacy, id.data);
  if (!view || !canSee(view.tenantId)) return { response: errorResponse(404, 'privacy request not found') };
  return { view };
}

app.http('postPrivacyRequest', { route: 'privacy-requests', methods: ['POST'], authLevel: 'anonymous', handler: adminRoute(compositionRoot, postPrivacyRequest) });
app.http('getPrivacyRequest', { route: 'privacy-requests/{id}', methods: ['GET'], authLevel: 'anonymous', handler: adminRoute(compositionRoot, getPrivacyRequestStatus) });
app.http('getPrivacyRequestExport', { route: 'privacy-requests/{id}/export', methods: ['GET'], authLevel: 'anonymous', handler: adminRoute(compositionRoot, getPrivacyRequestExport) });
app.http('retryPrivacyRequest', { route: 'privacy-requests/{id}/retry', methods: ['POST'], authLevel: 'anonymous', handler: adminRoute(compositionRoot, retryPrivacyRequestRoute) });
app.http('cancelTenant', { route: 'tenants/{tenantId}/cancel', methods: ['POST'], authLevel: 'anonymous', handler: tenantRoute(compositionRoot, cancelTenantRoute) });
app.http('getTenantCancellation', { route: 'tenants/{tenantId}/cancellation', methods: ['GET'], authLevel: 'anonymous', handler: tenantRoute(compositionRoot, getCancellation) });
