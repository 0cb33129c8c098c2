import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback fake of the Graph API endpoints the Flows commands call:
 * - `POST /{version}/{phone-number-id}/messages` (JSON) → `{messaging_product, contacts: [{input, wa_id}], messages: [{id}]}`;
 *   Graph's error body (code 100) for a message without `messaging_product: "whatsapp"`, `to` or `type`;
 * - `POST /{version}/{phone-number-id}/whatsapp_business_encryption` (form, `business_public_key`) → `{success: true}`.
 * 401 with code 190 without the expected bearer token.
 */
export interface GraphCall {
  path: string;
  authorized: boolean;
  contentType: string | undefined;
  body: string;
}

export interface GraphMessagesFake {
  baseUrl: string;
  calls: GraphCall[];
  close(): Promise<void>;
}

export async function startGraphMessagesFake(token: string, version = 'v23.0'): Promise<GraphMessagesFake> {
  const calls: GraphCall[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const authorized = req.headers.authorization === `Bearer ${token}`;
      calls.push({ path, authorized, contentType: req.headers['content-type'], body });
      const reply = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      const error = (status: number, message: string, code: number) => reply(status, { error: { message, type: 'OAuthException', code, fbtrace_id: 'fake' } });
      const parts = path.split('/').filter(Boolean);
      if (req.method !== 'POST' || parts.length !== 3 || parts[0] !== version || !/^\d+$/.test(parts[1]!)) return error(400, 'Unsupported post request', 100);
      if (!authorized) return error(401, 'Invalid OAuth access token', 190);
      if (parts[2] === 'messages') {
        let message: { messaging_product?: unknown; to?: unknown; type?: unknown };
        try {
          message = JSON.parse(body) as typeof message;
        } catch {
          return error(400, 'Invalid JSON', 100);
        }
        if (message.messaging_product !== 'whatsapp' || typeof message.to !== 'string' || typeof message.type !== 'string') return error(400, '(#100) Invalid parameter', 100);
        return reply(200, { messaging_product: 'whatsapp', contacts: [{ input: message.to, wa_id: message.to }], messages: [{ id: `wamid.${randomUUID()}` }] });
      }
      if (parts[2] === 'whatsapp_business_encryption') {
        const key = new URLSearchParams(body).get('business_public_key');
        if (!key?.includes('BEGIN PUBLIC KEY')) return error(400, '(#100) business_public_key is invalid', 100);
        return reply(200, { success: true });
      }
      return error(400, 'Unsupported post request', 100);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/${version}`,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
