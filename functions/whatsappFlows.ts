import './startupCheck';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { handleFlowsRequest } from '../shared/flows';
import { errorResponse } from '../shared/http';
import { compositionRoot } from '../shared/runtime';

/**
 * POST /api/whatsapp/flows/{tenantId}: the WhatsApp Flows data endpoint (Meta's encrypted data exchange)
 * serving the Privacy Centre flow. 200 with the encrypted answer as text/plain; 432 bad signature, 421
 * cannot decrypt, 427 invalid or expired flow token, 400 malformed, 413 too large.
 */
export async function whatsappFlows(request: HttpRequest): Promise<HttpResponseInit> {
  const root = await compositionRoot();
  const rawBody = Buffer.from(await request.arrayBuffer());
  const maxBytes = root.settings.MAX_WEBHOOK_BYTES;
  if (rawBody.length > maxBytes) return errorResponse(413, `request body is larger than ${maxBytes} bytes`);
  const result = await handleFlowsRequest(root.flows, { tenantId: request.params.tenantId, rawBody, signature: request.headers.get('x-hub-signature-256') });
  if (result.kind === 'encrypted') return { status: result.status, body: result.body, headers: { 'Content-Type': 'text/plain' } };
  return errorResponse(result.status, result.message, result.field);
}

app.http('whatsappFlows', { route: 'whatsapp/flows/{tenantId}', methods: ['POST'], authLevel: 'anonymous', handler: whatsappFlows });
