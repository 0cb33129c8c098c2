import './startupCheck';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { waIdSchema } from '../shared/domain';
import { answer503OnOutage, authorizeTenantRoute, errorResponse, validationError } from '../shared/http';
import { CosmosMessageStore, readSubjectMessages } from '../shared/messages';
import { repositoriesOf, services } from '../shared/runtime';

/**
 * GET /api/tenants/{tenantId}/subjects/{waId}/messages: a subject's stored messages, decrypted, for an
 * admin (the `encrypted` mode's store, and any content still waiting for HubSpot). Audited with the
 * caller's object id. The wa_id may be E.164 (`%2B447700900123`) or digits.
 */
export async function getSubjectMessages(request: HttpRequest): Promise<HttpResponseInit> {
  const s = await services();
  const route = authorizeTenantRoute(request, s.settings);
  if (!route.ok) return route.response;
  const { principal, tenantId } = route;
  const waId = waIdSchema.safeParse(request.params.waId);
  if (!waId.success) return validationError(waId.error, 'waId');

  const { tenants, audit } = repositoriesOf(s);
  const result = await readSubjectMessages(
    { tenants, audit, secrets: s.secrets, messages: new CosmosMessageStore(s.cosmos.subjects) },
    { tenantId: tenantId, waId: waId.data, actor: principal.objectId },
  );
  if (result.kind === 'tenant-not-found') return errorResponse(404, 'tenant not found');
  return { status: 200, jsonBody: { tenantId: tenantId, messageStorage: result.tenant.messageStorage, messages: result.messages } };
}

app.http('getSubjectMessages', { route: 'tenants/{tenantId}/subjects/{waId}/messages', methods: ['GET'], authLevel: 'anonymous', handler: answer503OnOutage(getSubjectMessages) });
