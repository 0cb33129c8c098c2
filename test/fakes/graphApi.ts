import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A loopback fake of the Graph API's media endpoints and its send endpoint, on a real HTTP server.
 * Sources: Meta, "Media" (Cloud API reference: retrieve media URL, download media) and
 * "Business-scoped user IDs" (developers.facebook.com/documentation/business-messaging/whatsapp/
 * business-scoped-user-ids/, updated Nov 5 2026; send shapes from the Jun 29 2026 revision).
 * - `POST /{version}/{phone-number-id}/messages` with the bearer token and `messaging_product: whatsapp`:
 *   the addressee is `to` (a phone number) or `recipient` (a BSUID or parent BSUID, `to` omitted; both
 *   given → `to` wins). The answer is `{ messaging_product, contacts: [{ input, wa_id }] }` for a phone
 *   send, `[{ input, user_id }]` for a BSUID send (no `wa_id`), and `messages: [{ id }]`. An authentication
 *   template to a BSUID is refused with code 131062; a malformed BSUID with 100. Sends are recorded.
 * - `GET /{version}/{media-id}` with `Authorization: Bearer <token>` → `{ messaging_product, url, mime_type,
 *   sha256 (hex), file_size, id }`, or Graph's error body with 404 for an unknown id;
 * - `GET /media-download/{media-id}?...` (the returned url) with the bearer token → the bytes.
 * Faults can be queued per media id and step: a status (429 with Retry-After, 5xx, 404) or a hang that
 * outlasts the client's timeout.
 *
 * No test framework is imported: the simulator (scripts/simulate.ts) serves the same fake.
 */
export type Fault = { status: number; retryAfterSeconds?: number } | { hangMs: number };

export interface FakeMedia {
  bytes: Buffer;
  mimeType: string;
  /** What the metadata call reports as sha256 (hex); default the real digest. */
  reportedSha256?: string;
}

export interface GraphRequest {
  step: 'metadata' | 'file' | 'other';
  mediaId: string;
  authorized: boolean;
  at: number;
}

export interface SentMessage {
  phoneNumberId: string;
  body: Record<string, unknown>;
  /** Whom it was addressed to: `to` or `recipient`, as Meta reads them. */
  addressee: { kind: 'to' | 'recipient'; value: string };
}

export interface GraphApiFake {
  /** Messages accepted by the send endpoint. */
  sent: SentMessage[];
  /** The base URL to use as GRAPH_API_BASE_URL, e.g. http://127.0.0.1:7072/v23.0 */
  baseUrl: string;
  port: number;
  requests: GraphRequest[];
  /** Registers a media file; returns the base64 SHA-256 a webhook carries for it. */
  addMedia(id: string, media: FakeMedia): { webhookSha256: string };
  failNext(step: 'metadata' | 'file', id: string, ...faults: Fault[]): void;
  close(): Promise<void>;
}

export async function startGraphApiFake(options: { token: string; port?: number; host?: string; version?: string }): Promise<GraphApiFake> {
  const version = options.version ?? 'v23.0';
  const media = new Map<string, FakeMedia>();
  const faults = new Map<string, Fault[]>();
  const requests: GraphRequest[] = [];
  const sent: SentMessage[] = [];
  const sockets = new Set<Socket>();
  let origin = '';

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', origin);
    const parts = url.pathname.split('/').filter(Boolean);
    if (req.method === 'POST' && parts[0] === version && parts.length === 3 && parts[2] === 'messages') return send(req, res, decodeURIComponent(parts[1]!));
    const step: GraphRequest['step'] = parts[0] === version && parts.length === 2 ? 'metadata' : parts[0] === 'media-download' && parts.length === 2 ? 'file' : 'other';
    const id = decodeURIComponent(parts[1] ?? '');
    const authorized = req.headers.authorization === `Bearer ${options.token}`;
    requests.push({ step, mediaId: id, authorized, at: Date.now() });
    if (step === 'other' || req.method !== 'GET') return graphError(res, 400, 'Unsupported request', 100);
    if (!authorized) return graphError(res, 401, 'Invalid OAuth access token', 190);

    const fault = faults.get(`${step}:${id}`)?.shift();
    if (fault && 'hangMs' in fault) {
      await new Promise((r) => setTimeout(r, fault.hangMs));
      if (res.destroyed) return;
    } else if (fault) {
      const headers: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
      return graphError(res, fault.status, `fault ${fault.status}`, fault.status === 429 ? 4 : 2, headers);
    }

    const item = media.get(id);
    if (!item) return graphError(res, 404, 'Unsupported get request. Object does not exist', 100);
    if (step === 'metadata') {
      const body = {
        messaging_product: 'whatsapp',
        url: `${origin}/media-download/${encodeURIComponent(id)}?ext=${Date.now()}&hash=fake`,
        mime_type: item.mimeType,
        sha256: item.reportedSha256 ?? createHash('sha256').update(item.bytes).digest('hex'),
        file_size: item.bytes.length,
        id,
      };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
      return;
    }
    res.writeHead(200, { 'content-type': item.mimeType, 'content-length': String(item.bytes.length) });
    res.end(item.bytes);
  }

  async function send(req: IncomingMessage, res: ServerResponse, phoneNumberId: string): Promise<void> {
    if (req.headers.authorization !== `Bearer ${options.token}`) return graphError(res, 401, 'Invalid OAuth access token', 190);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      return graphError(res, 400, 'Invalid JSON', 100);
    }
    if (body.messaging_product !== 'whatsapp') return graphError(res, 400, '(#100) The parameter messaging_product is required.', 100);
    const to = typeof body.to === 'string' && body.to !== '' ? body.to : undefined;
    const recipient = typeof body.recipient === 'string' && body.recipient !== '' ? body.recipient : undefined;
    if (!to && !recipient) return graphError(res, 400, '(#100) The parameter to is required.', 100);
    const addressee = to ? { kind: 'to' as const, value: to } : { kind: 'recipient' as const, value: recipient! };
    if (addressee.kind === 'recipient') {
      if (!/^[A-Za-z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$/.test(addressee.value)) return graphError(res, 400, '(#100) Invalid parameter', 100);
      const template = body.template as { components?: { type?: string; sub_type?: string }[] } | undefined;
      if (body.type === 'template' && template?.components?.some((c) => c.type === 'button' && ['otp', 'copy_code', 'one_tap', 'zero_tap'].includes(String(c.sub_type)))) {
        return graphError(res, 400, 'Business-scoped User ID (BSUID) recipients are not supported for this message.', 131062);
      }
    }
    sent.push({ phoneNumberId, body, addressee });
    const contact = addressee.kind === 'to' ? { input: addressee.value, wa_id: addressee.value.replace(/^\+/, '') } : { input: addressee.value, user_id: addressee.value };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ messaging_product: 'whatsapp', contacts: [contact], messages: [{ id: `wamid.fake${sent.length}` }] }));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://${options.host ?? '127.0.0.1'}:${port}`;

  return {
    baseUrl: `${origin}/${version}`,
    port,
    requests,
    sent,
    addMedia(id, item) {
      media.set(id, item);
      return { webhookSha256: createHash('sha256').update(item.bytes).digest('base64') };
    },
    failNext(step, id, ...list) {
      const key = `${step}:${id}`;
      faults.set(key, [...(faults.get(key) ?? []), ...list]);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function graphError(res: ServerResponse, status: number, message: string, code: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { message, type: 'OAuthException', code, fbtrace_id: 'fake' } }));
}
