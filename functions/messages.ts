import './startupCheck';
import { app, type HttpResponseInit } from '@azure/functions';
import { waIdSchema } from '../shared/domain';
import { errorResponse, tenantRoute, validationError, type TenantCall } from '../shared/http';
import { readSubjectMessages } from '../shared/messages';
import { compositionRoot, type CompositionRoot } from '../shared/runtime';

/**
 * GET /api/tenants/{tenantId}/subjects/{waId}/messages: a subject's stored messages, decrypted, for an
 * admin (the `encrypted` mode's store, and any content still waiting for HubSpot). Audited with the
 * caller's object id. The wa_id may be E.164 (`%2B447700900123`) or digits.
 */
export async function getSubjectMessages({ request, principal, tenantId, root }: TenantCall<CompositionRoot>): Promise<HttpResponseInit> {
  const waId = waIdSchema.safeParse(request.params.waId);
  if (!waId.success) return validationError(waId.error, 'waId');
  const result = await readSubjectMessages(root.subjectMessages, { tenantId, waId: waId.data, actor: principal.objectId });
  if (result.kind === 'tenant-not-found') return errorResponse(404, 'tenant not found');
  return { status: 200, jsonBody: { tenantId, messageStorage: result.tenant.messageStorage, messages: result.messages } };
}

app.http('getSubjectMessages', { route: 'tenants/{tenantId}/subjects/{waId}/messages', methods: ['GET'], authLevel: 'anonymous', handler: tenantRoute(compositionRoot, getSubjectMessages) });
