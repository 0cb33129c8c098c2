import './startupCheck';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { errorResponse } from '../shared/http';
import { compositionRoot } from '../shared/runtime';
import { receiveWebhook, verifyHandshake, type WebhookDeps } from '../shared/whatsapp';

/** GET: Meta's verification handshake. POST: signed events (see shared/whatsapp/receiveWebhook.ts). */
export async function whatsappWebhook(request: HttpRequest): Promise<HttpResponseInit> {
  const root = await compositionRoot();
  if (request.method === 'GET') {
    const q = request.query;
    const result = await verifyHandshake(root.secrets, { mode: q.get('hub.mode'), token: q.get('hub.verify_token'), challenge: q.get('hub.challenge') });
    return result.ok ? { status: 200, body: result.challenge, headers: { 'content-type': 'text/plain' } } : errorResponse(403, 'verification failed');
  }
  return handleWebhookPost(request, root.webhook, root.settings.MAX_WEBHOOK_BYTES);
}

/** What the POST translation reads of a request: an HttpRequest, or the benchmark's bare node:http adapter. */
export interface WebhookRequest {
  headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** The POST translation on given ports: the benchmark drives it with in-memory adapters. */
export async function handleWebhookPost(request: WebhookRequest, deps: WebhookDeps, maxBytes: number): Promise<HttpResponseInit> {
  if (Number(request.headers.get('content-length') ?? 0) > maxBytes) return errorResponse(413, `request body is larger than ${maxBytes} bytes`);
  const body = Buffer.from(await request.arrayBuffer());
  const result = await receiveWebhook(deps, { body, signature: request.headers.get('x-hub-signature-256'), maxBytes });
  switch (result.kind) {
    case 'accepted':
      return { status: 200, jsonBody: { received: result.summary } };
    case 'unauthorized':
      return errorResponse(401, 'missing or invalid X-Hub-Signature-256', 'X-Hub-Signature-256');
    case 'too-large':
      return errorResponse(413, `request body is larger than ${result.maxBytes} bytes`);
    case 'malformed':
      return errorResponse(400, result.message, result.field);
    case 'unavailable':
      return { status: 503, headers: { 'retry-after': '30' }, jsonBody: { error: { message: `${result.dependency} unavailable, retry later` } } };
  }
}

app.http('whatsappWebhook', { route: 'whatsapp/webhook', methods: ['GET', 'POST'], authLevel: 'anonymous', handler: whatsappWebhook });
