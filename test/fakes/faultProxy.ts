import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A loopback HTTP proxy in front of an emulator (cosmosdb-server, Azurite) that injects the faults a
 * cloud service really produces, for the next N matching requests or for a time window:
 * - `status`: an error answer in the service's own shape. Cosmos: 429 with `x-ms-retry-after-ms` and
 *   substatus 3200 ("Request rate is large"), 503 ServiceUnavailable; Blob: 503 ServerBusy, 500
 *   InternalError (XML, as Azure Storage answers);
 * - `drop`: the connection is destroyed before any answer (the client sees ECONNRESET / socket hang up);
 * - `drop-after`: the request reaches the emulator and is applied, then the answer is dropped: the
 *   client cannot know whether its write happened, the hardest case for idempotency;
 * - `delay`: the request is forwarded after `ms` (a slow dependency).
 *
 * Requests that no fault matches are forwarded unchanged (same method, path, headers, body): request
 * signatures of both services cover the path and date, not the host, so clients pointed at the proxy
 * authenticate as before. No test framework is imported: benchmarks can use it too.
 */
export type ProxyFault =
  | { kind: 'status'; status: number; retryAfterMs?: number }
  | { kind: 'drop' }
  | { kind: 'drop-after' }
  | { kind: 'delay'; ms: number };

export type Flavor = 'cosmos' | 'blob';

export interface RequestMatch {
  method?: string | RegExp;
  path?: RegExp;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  at: number;
  /** The fault injected, or `forwarded` with the emulator's status. */
  outcome: string;
}

export interface FaultProxy {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Every request seen, in order (method, path, what happened). */
  requests: ProxiedRequest[];
  /** The next `count` requests matching `match` get `fault`. */
  failNext(count: number, fault: ProxyFault, match?: RequestMatch): void;
  /** Every request matching `match` during the next `ms` gets `fault`. */
  failFor(ms: number, fault: ProxyFault, match?: RequestMatch): void;
  /** Every matching request gets `fault` until `clear()`: an outage of unknown length. */
  failUntilCleared(fault: ProxyFault, match?: RequestMatch): void;
  clear(): void;
  /** How many faults were injected (by kind, e.g. `status:429`, `drop`), since start. */
  injected(): Record<string, number>;
  close(): Promise<void>;
}

interface Rule {
  fault: ProxyFault;
  match: RequestMatch;
  remaining?: number;
  until?: number;
}

/** The connection string of a service with its endpoint moved to the proxy (AccountEndpoint / BlobEndpoint). */
export function viaProxy(connectionString: string, proxy: { port: number }): string {
  return connectionString.replace(/(AccountEndpoint|BlobEndpoint)=http:\/\/127\.0\.0\.1:\d+/g, `$1=http://127.0.0.1:${proxy.port}`);
}

/** The emulator's base URL from its connection string. */
export function endpointOf(connectionString: string): string {
  const match = /(?:AccountEndpoint|BlobEndpoint)=(http:\/\/[^/;]+)/.exec(connectionString);
  if (!match) throw new Error('no http endpoint in the connection string');
  return match[1]!;
}

export async function startFaultProxy(options: { target: string; flavor: Flavor; port?: number }): Promise<FaultProxy> {
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const rules: Rule[] = [];
  const requests: ProxiedRequest[] = [];
  const counts: Record<string, number> = {};
  const sockets = new Set<Socket>();

  const takeFault = (method: string, path: string): ProxyFault | undefined => {
    const now = Date.now();
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (rule.until !== undefined && rule.until <= now) {
        rules.splice(i--, 1);
        continue;
      }
      if (!matches(rule.match, method, path)) continue;
      if (rule.remaining !== undefined) {
        rule.remaining -= 1;
        if (rule.remaining <= 0) rules.splice(i, 1);
      }
      return rule.fault;
    }
    return undefined;
  };

  const server: Server = createServer((req, res) => {
    const method = (req.method ?? 'GET').toUpperCase();
    const path = req.url ?? '/';
    const record: ProxiedRequest = { method, path, at: Date.now(), outcome: 'pending' };
    requests.push(record);
    const fault = takeFault(method, path);
    if (fault) {
      const key = fault.kind === 'status' ? `status:${fault.status}` : fault.kind;
      counts[key] = (counts[key] ?? 0) + 1;
      record.outcome = key;
    }
    if (fault?.kind === 'status') {
      // Read the body first, as a real service does, so the client is not cut off mid-upload.
      req.resume();
      req.on('end', () => answerFault(res, options.flavor, fault));
      return;
    }
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    const forward = () =>
      proxy(req, res, target, agent, fault?.kind === 'drop-after', (status) => {
        if (record.outcome === 'pending') record.outcome = `forwarded:${status}`;
      });
    if (fault?.kind === 'delay') setTimeout(forward, fault.ms);
    else forward();
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    failNext: (count, fault, match = {}) => void rules.push({ fault, match, remaining: count }),
    failFor: (ms, fault, match = {}) => void rules.push({ fault, match, until: Date.now() + ms }),
    failUntilCleared: (fault, match = {}) => void rules.push({ fault, match }),
    clear: () => void rules.splice(0, rules.length),
    injected: () => ({ ...counts }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}

function matches(match: RequestMatch, method: string, path: string): boolean {
  if (match.method !== undefined && !(typeof match.method === 'string' ? match.method.toUpperCase() === method : match.method.test(method))) return false;
  if (match.path !== undefined && !match.path.test(path)) return false;
  return true;
}

function proxy(req: IncomingMessage, res: ServerResponse, target: URL, agent: Agent, dropAnswer: boolean, onStatus: (status: number) => void): void {
  const upstream = httpRequest(
    {
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, host: target.host },
      agent,
    },
    (answer) => {
      onStatus(answer.statusCode ?? 0);
      if (dropAnswer) {
        // Applied upstream, lost on the way back.
        answer.resume();
        answer.on('end', () => req.socket.destroy());
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', () => req.socket.destroy());
  req.pipe(upstream);
}

function answerFault(res: ServerResponse, flavor: Flavor, fault: { status: number; retryAfterMs?: number }): void {
  if (res.destroyed) return;
  if (flavor === 'cosmos') {
    const throttled = fault.status === 429;
    const body = JSON.stringify({
      code: throttled ? 'TooManyRequests' : fault.status === 503 ? 'ServiceUnavailable' : 'InternalServerError',
      message: throttled
        ? 'Message: {"Errors":["Request rate is large. More Request Units may be needed, so no changes were made. Please retry this request later."]}'
        : 'Message: {"Errors":["The service is currently unavailable."]}',
    });
    res.writeHead(fault.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'x-ms-activity-id': '00000000-0000-0000-0000-000000000000',
      ...(throttled ? { 'x-ms-retry-after-ms': String(fault.retryAfterMs ?? 100), 'x-ms-substatus': '3200' } : {}),
    });
    res.end(body);
    return;
  }
  const code = fault.status === 503 ? 'ServerBusy' : fault.status === 500 ? 'InternalError' : 'OperationTimedOut';
  const body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>Injected by the fault proxy.</Message></Error>`;
  res.writeHead(fault.status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-ms-error-code': code,
    ...(fault.retryAfterMs !== undefined ? { 'retry-after': String(Math.ceil(fault.retryAfterMs / 1000)) } : {}),
  });
  res.end(body);
}
