import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback Key Vault secrets endpoint that behaves like the documented REST API: challenge-based auth
 * (a first unauthenticated request gets 401 with `WWW-Authenticate: Bearer authorization=..., resource=...`),
 * `GET /secrets/{name}/?api-version=...` answering `{ value, id, attributes }`, 404 `SecretNotFound`.
 */
export interface KeyVaultFake {
  url: string;
  secrets: Map<string, string>;
  requests: { path: string; authorized: boolean }[];
  close(): Promise<void>;
}

export async function startKeyVaultFake(token = 'fake-token'): Promise<KeyVaultFake> {
  const secrets = new Map<string, string>();
  const requests: KeyVaultFake['requests'] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const authorized = req.headers.authorization === `Bearer ${token}`;
    requests.push({ path: url.pathname, authorized });
    if (!url.searchParams.get('api-version')) {
      res.writeHead(400, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { code: 'MissingApiVersionParameter' } }));
    }
    if (!authorized) {
      res.writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': 'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"',
      });
      return res.end(JSON.stringify({ error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } }));
    }
    const match = /^\/secrets\/([A-Za-z0-9-]+)\/?$/.exec(url.pathname);
    const value = match ? secrets.get(match[1]!) : undefined;
    if (!match || value === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { code: 'SecretNotFound', message: `A secret with (name/id) ${match?.[1]} was not found in this key vault.` } }));
    }
    const address = server.address() as AddressInfo;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ value, id: `http://127.0.0.1:${address.port}/secrets/${match[1]}/0123456789abcdef`, attributes: { enabled: true, created: 1700000000, updated: 1700000000 } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    secrets,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
