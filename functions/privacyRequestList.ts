import './startupCheck';
import { app, type HttpResponseInit } from '@azure/functions';
import { adminRoute, validationError, type AdminCall } from '../shared/http';
import { listPrivacyRequests, requestListQuerySchema } from '../shared/metrics';
import { compositionRoot, type CompositionRoot } from '../shared/runtime';

/**
 * GET /api/privacy-requests?tenantId=&status=&overdue=true&limit=: requests newest first, without the
 * subject. An operator sees only their tenants. (POST on the same route is functions/privacyRequests.ts.)
 */
export async function listPrivacyRequestsRoute({ request, principal, root, hidden }: AdminCall<CompositionRoot>): Promise<HttpResponseInit> {
  const query = requestListQuerySchema.safeParse(Object.fromEntries(request.query.entries()));
  if (!query.success) return validationError(query.error);
  const { tenantId, status, overdue, limit } = query.data;
  const notVisible = tenantId ? hidden(tenantId) : undefined;
  if (notVisible) return notVisible;
  const tenants = tenantId ? [tenantId] : principal.tenants === 'all' ? undefined : principal.tenants;
  const now = root.clock.now();
  const result = await listPrivacyRequests(root.requestList, { ...(tenants ? { tenants } : {}), ...(status ? { status } : {}), overdue, limit }, now);
  return { status: 200, jsonBody: { asOf: now.toISOString(), count: result.requests.length, unreadable: result.unreadable, requests: result.requests } };
}

app.http('listPrivacyRequests', { route: 'privacy-requests', methods: ['GET'], authLevel: 'anonymous', handler: adminRoute(compositionRoot, listPrivacyRequestsRoute) });
