import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeFuzzAgent, rawRequest } from './support/fuzz';

/** The fuzz tests' raw client: a server dropping a kept-alive socket is retried once on a new connection, as Node's docs advise. */
let server: Server;
let url: string;
let resets = 0;

beforeAll(async () => {
  const requestsOn = new WeakMap<object, number>();
  server = createServer((req, res) => {
    const n = (requestsOn.get(req.socket) ?? 0) + 1;
    requestsOn.set(req.socket, n);
    // The second request on a kept-alive socket meets a server that has just closed it.
    if (n === 2) {
      resets++;
      req.socket.destroy();
      return;
    }
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  closeFuzzAgent();
  await new Promise((resolve) => server.close(resolve));
});

describe('the fuzz tests raw HTTP client', () => {
  it('a reset on a reused keep-alive socket is retried on a new connection, and the answer arrives', async () => {
    expect(await rawRequest(url, { method: 'GET', path: '/' })).toEqual({ status: 200, body: 'ok' });
    expect(await rawRequest(url, { method: 'GET', path: '/' })).toEqual({ status: 200, body: 'ok' });
    expect(resets).toBe(1);
  });
});
