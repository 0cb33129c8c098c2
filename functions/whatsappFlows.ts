import './startupCheck';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { CachedFlowKeys, handleFlowsRequest, privacyCentrePortOf, type FlowKeySource } from '../shared/flows';
import { errorResponse } from '../shared/http';
import { privacyDepsOf } from '../shared/privacy';
import { services, type Services } from '../shared/runtime';

/** Parsed Flows private keys, one cache per Services (parsing an encrypted PEM costs milliseconds). */
const flowKeys = new WeakMap<Services, FlowKeySource>();

/**
 * POST /api/whatsapp/flows/{tenantId}: the WhatsApp Flows data endpoint (Meta's encrypted data exchange)
 * serving the Privacy Centre flow. 200 with the encrypted answer as text/plain; 432 bad signature, 421
 * cannot decrypt, 427 invalid or expired flow token, 400 malformed, 413 too large.
 */
export async function whatsappFlows(request: HttpRequest): Promise<HttpResponseInit> {
  const s = await services();
  const rawBody = Buffer.from(await request.arrayBuffer());
  if (rawBody.length > s.settings.MAX_WEBHOOK_BYTES) return errorResponse(413, `request body is larger than ${s.settings.MAX_WEBHOOK_BYTES} bytes`);
  let keys = flowKeys.get(s);
  if (!keys) flowKeys.set(s, (keys = new CachedFlowKeys(s.secrets, s.clock, s.settings.SECRET_CACHE_SECONDS * 1000)));

  const result = await handleFlowsRequest(
    { secrets: s.secrets, keys, privacy: privacyCentrePortOf(privacyDepsOf(s)), clock: s.clock, telemetry: s.telemetry },
    { tenantId: request.params.tenantId, rawBody, signature: request.headers.get('x-hub-signature-256') },
  );
  if (result.kind === 'encrypted') return { status: result.status, body: result.body, headers: { 'Content-Type': 'text/plain' } };
  return errorResponse(result.status, result.message, result.field);
}

app.http('whatsappFlows', { route: 'whatsapp/flows/{tenantId}', methods: ['POST'], authLevel: 'anonymous', handler: whatsappFlows });
