import './startupCheck';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { answer503OnOutage, authenticate, tenantNotVisible, validationError } from '../shared/http';
import { cosmosRequestList, listPrivacyRequests, requestListQuerySchema } from '../shared/metrics';
import { services } from '../shared/runtime';

/**
 * GET /api/privacy-requests?tenantId=&status=&overdue=true&limit=: requests newest first, without the
 * subject. An operator sees only their tenants. (POST on the same route is functions/privacyRequests.ts.)
 */
export async function listPrivacyRequestsRoute(request: HttpRequest): Promise<HttpResponseInit> {
  const s = await services();
  const auth = authenticate(request, s.settings);
  if (!auth.ok) return auth.response;
  const query = requestListQuerySchema.safeParse(Object.fromEntries(request.query.entries()));
  if (!query.success) return validationError(query.error);
  const { tenantId, status, overdue, limit } = query.data;
  if (tenantId) {
    const hidden = tenantNotVisible(auth.principal, tenantId);
    if (hidden) return hidden;
  }
  const tenants = tenantId ? [tenantId] : auth.principal.tenants === 'all' ? undefined : auth.principal.tenants;
  const now = s.clock.now();
  const result = await listPrivacyRequests(cosmosRequestList(s.cosmos.privacyRequests), { ...(tenants ? { tenants } : {}), ...(status ? { status } : {}), overdue, limit }, now);
  return { status: 200, jsonBody: { asOf: now.toISOString(), count: result.requests.length, unreadable: result.unreadable, requests: result.requests } };
}

app.http('listPrivacyRequests', { route: 'privacy-requests', methods: ['GET'], authLevel: 'anonymous', handler: answer503OnOutage(listPrivacyRequestsRoute) });
