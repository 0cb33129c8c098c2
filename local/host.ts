import { HttpRequest, HttpResponse, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ADMIN_BODY_MAX_BYTES } from '../shared/http/body';
import { QUEUE_NAMES, type QueueName } from '../shared/queue/queuePort';
import type { Services } from '../shared/runtime';
import { loadFunctionFiles } from './functionFiles';
import { installFunctionsCore, type Registration } from './functionsCore';
import { parseNcrontab } from '../shared/config';

export interface LocalHostOptions {
  services: Services;
  port?: number;
  host?: string;
  /** Loads the function files (which register themselves). Default: the files package.json `main` names. */
  loadFunctions?: () => Promise<unknown>;
  /** Largest request body read (413 above, the rest never read). Default: the largest a route accepts. */
  maxBodyBytes?: number;
  /** Run timer triggers on their schedules (tests drive timers themselves). Default true. */
  runTimers?: boolean;
  log?: (line: string) => void;
}

export interface LocalHost {
  url: string;
  registrations: Registration[];
  /** Runs a timer-triggered function now, as the host would on its schedule. */
  runTimer(name: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A small Functions host for machines without Core Tools: serves the registered HTTP functions under
 * /api, feeds Service Bus triggers from the app's queue, and runs timers on their NCRONTAB schedules.
 */
export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  const registrations = installFunctionsCore();
  await (options.loadFunctions ?? loadFunctionFiles)();
  const log = options.log ?? ((line: string) => console.log(line));
  const { services } = options;

  // The host's own request limit (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT in Azure, set by infra to the same
  // figure): the largest body any route accepts. Nothing above it is read; each route applies its own too.
  const maxBodyBytes = options.maxBodyBytes ?? Math.max(services.settings.MAX_WEBHOOK_BYTES, ADMIN_BODY_MAX_BYTES);
  const httpFunctions = registrations.filter((r) => r.trigger.type === 'httpTrigger').map((r) => ({ ...r, match: routeMatcher(r) }));
  const server = createServer((req, res) => {
    void serveHttp(req, res, httpFunctions, log, maxBodyBytes).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'internal error' } }));
    });
  });
  server.keepAliveTimeout = 65_000;
  await listen(server, options.port ?? 7071, options.host ?? '127.0.0.1');
  const address = server.address() as AddressInfo;
  const url = `http://${options.host ?? '127.0.0.1'}:${address.port}`;

  const unsubscribes: (() => Promise<void>)[] = [];
  const maxConcurrent = serviceBusConcurrency();
  for (const registration of registrations.filter((r) => r.trigger.type === 'serviceBusTrigger')) {
    const queueName = registration.trigger.queueName as QueueName;
    if (!QUEUE_NAMES.includes(queueName)) throw new Error(`${registration.name}: unknown queue ${String(queueName)}`);
    unsubscribes.push(
      services.queue.subscribe(queueName, async (message) => {
        const context = new InvocationContext({
          invocationId: randomUUID(),
          functionName: registration.name,
          triggerMetadata: {
            messageId: message.messageId,
            deliveryCount: message.deliveryCount,
            enqueuedTimeUtc: message.enqueuedAt.toISOString(),
            applicationProperties: message.properties,
          },
          logHandler: logHandlerFor(registration.name, log),
        });
        try {
          await registration.handler(message.body, context);
        } catch (error) {
          // As the Functions host logs a failed invocation: the error's class and (cut) message, nothing of
          // the body. The queue abandons the message; it is redelivered until the max delivery count.
          log(`[${registration.name}] failed (delivery ${message.deliveryCount}): ${errorName(error)}`);
          throw error;
        }
      }, { maxConcurrent }),
    );
  }

  const timers = new Map<string, () => Promise<void>>();
  const timerHandles: NodeJS.Timeout[] = [];
  let closing = false;
  const settingValues = { ...services.env, ...stringValues(services.settings) };
  for (const registration of registrations.filter((r) => r.trigger.type === 'timerTrigger')) {
    const run = async (): Promise<void> => {
      const context = new InvocationContext({
        invocationId: randomUUID(),
        functionName: registration.name,
        logHandler: logHandlerFor(registration.name, log),
      });
      await registration.handler({ isPastDue: false, scheduleStatus: {} }, context);
    };
    timers.set(registration.name, run);
    if (options.runTimers === false) continue;
    // The schedule as the Functions host reads it (the same reading as the settings check's).
    const schedule = parseNcrontab(resolveSettingReference(String(registration.trigger.schedule), settingValues));
    const arm = (): void => {
      if (closing) return;
      const delay = Math.min(schedule.next(services.clock.now()).getTime() - services.clock.now().getTime(), 2 ** 31 - 1);
      const handle = setTimeout(() => {
        void run()
          .catch((error: unknown) => log(`[${registration.name}] timer failed: ${errorName(error)}`))
          .finally(arm);
      }, Math.max(0, delay));
      handle.unref();
      timerHandles.push(handle);
    };
    arm();
  }

  return {
    url,
    registrations,
    runTimer: async (name) => {
      const run = timers.get(name);
      if (!run) throw new Error(`no timer function named ${name}`);
      await run();
    },
    close: async () => {
      closing = true;
      for (const handle of timerHandles) clearTimeout(handle);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await Promise.all(unsubscribes.map((u) => u()));
    },
  };
}

/** `%NAME%` in a binding is an app-setting reference, as in function.json and the v4 model. */
export function resolveSettingReference(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/%([A-Za-z0-9_]+)%/g, (_, name: string) => {
    const resolved = env[name];
    if (resolved === undefined || resolved === '') throw new Error(`app setting ${name} is referenced but not set`);
    return resolved;
  });
}

type HttpFunction = Registration & { match: (method: string, path: string) => Record<string, string> | undefined };

async function serveHttp(req: IncomingMessage, res: ServerResponse, functions: HttpFunction[], log: (line: string) => void, maxBodyBytes: number): Promise<void> {
  const requestUrl = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
  const method = (req.method ?? 'GET').toUpperCase();
  let path: string;
  try {
    path = decodeURIComponent(requestUrl.pathname).replace(/\/+$/, '');
  } catch {
    // A malformed escape (`%E0%A4%A`, an overlong `%C0%AF`) is the client's error, never a 500.
    return send(res, { status: 400, jsonBody: { error: { message: 'the request path is not valid percent-encoded UTF-8' } } });
  }
  if (!path.startsWith('/api/')) return send(res, { status: 404, jsonBody: { error: { message: 'not found' } } });
  const routePath = path.slice('/api/'.length);

  let found: { fn: HttpFunction; params: Record<string, string> } | undefined;
  let methodMismatch = false;
  for (const fn of functions) {
    const params = fn.match('*', routePath);
    if (!params) continue;
    if (fn.match(method, routePath)) {
      found = { fn, params };
      break;
    }
    methodMismatch = true;
  }
  if (!found) {
    return send(res, methodMismatch ? { status: 405, jsonBody: { error: { message: `method ${method} not allowed` } } } : { status: 404, jsonBody: { error: { message: 'not found' } } });
  }

  const body = await readBody(req, maxBodyBytes);
  if (!body.ok) return refuseTooLarge(req, res, maxBodyBytes);
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : value;
  const request = new HttpRequest({
    method,
    url: requestUrl.toString(),
    headers,
    query: Object.fromEntries(requestUrl.searchParams),
    params: found.params,
    ...(body.bytes.length > 0 ? { body: { bytes: body.bytes } } : {}),
  });
  const context = new InvocationContext({
    invocationId: randomUUID(),
    functionName: found.fn.name,
    logHandler: logHandlerFor(found.fn.name, log),
  });
  let result: unknown;
  try {
    result = await found.fn.handler(request, context);
  } catch (error) {
    // As the Functions host does: an unhandled error is a 500 without details. The log names the error class only.
    log(`[${found.fn.name}] unhandled ${errorName(error)}`);
    return send(res, { status: 500 });
  }
  await send(res, (result ?? { status: 204 }) as HttpResponseInit | HttpResponse);
}

async function send(res: ServerResponse, result: HttpResponseInit | HttpResponse): Promise<void> {
  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  const bytes = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => (headers[key] = value));
  res.writeHead(response.status, headers);
  res.end(bytes);
}

/**
 * The body, read up to `maxBytes` and no further: a declared content-length above it is refused unread,
 * and a chunked body (or one lying about its length) stops being read the moment the count passes it.
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<{ ok: true; bytes: Buffer } | { ok: false }> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > maxBytes) return Promise.resolve({ ok: false });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > maxBytes) {
        req.off('data', onData);
        req.pause();
        chunks.length = 0;
        resolve({ ok: false });
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve({ ok: true, bytes: Buffer.concat(chunks, total) }));
    req.on('error', reject);
  });
}

/**
 * 413 without reading the rest: the request stays paused (TCP back-pressure stops the sender), the answer
 * says `connection: close`, and the socket is closed a moment after the answer went out, so a sender that
 * ignores the 413 cannot keep the connection.
 */
async function refuseTooLarge(req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<void> {
  const body = JSON.stringify({ error: { message: `request body is larger than ${maxBytes} bytes` } });
  res.writeHead(413, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body)});
  res.end(body);
  const socket = req.socket;
  const timer = setTimeout(() => socket.destroy(), 2000);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/** Matches `privacy-requests/{id}/export`-style routes (with optional `{name:constraint}` and `{name?}`). */
function routeMatcher(registration: Registration): (method: string, path: string) => Record<string, string> | undefined {
  const route = String(registration.trigger.route ?? registration.name);
  const methods = (registration.trigger.methods ?? ['GET', 'POST']).map((m) => m.toUpperCase());
  const segments = route.split('/').filter(Boolean);
  return (method, path) => {
    if (method !== '*' && !methods.includes(method)) return undefined;
    const parts = path.split('/').filter(Boolean);
    const params: Record<string, string> = {};
    for (let i = 0; i < Math.max(segments.length, parts.length); i++) {
      const segment = segments[i];
      const part = parts[i];
      if (segment === undefined) return undefined;
      const param = /^\{([A-Za-z0-9_]+)(\?)?(?::[^}]*)?\}$/.exec(segment);
      if (param) {
        if (part === undefined) {
          if (param[2]) continue;
          return undefined;
        }
        params[param[1]!] = part;
      } else if (part === undefined || segment.toLowerCase() !== part.toLowerCase()) {
        return undefined;
      }
    }
    return params;
  };
}

function logHandlerFor(functionName: string, log: (line: string) => void) {
  return (level: string, ...args: unknown[]): void => {
    log(`[${functionName}] ${level}: ${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`);
  };
}

function errorName(error: unknown): string {
  // The message is cut short: a library error may quote more of its input than a log should hold.
  return error instanceof Error ? `${error.name}: ${error.message.slice(0, 200)}` : 'error';
}

function stringValues(settings: object): Record<string, string> {
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** host.json's `extensions.serviceBus.maxConcurrentCalls` (messages per trigger at once), as the Functions host reads it. */
function serviceBusConcurrency(): number {
  // The app root: one level up from local/ (sources), two from dist/local/ (built).
  const path = [join(__dirname, '..', 'host.json'), join(__dirname, '..', '..', 'host.json')].find((p) => existsSync(p));
  if (!path) return 16; // the extension's default per core
  const hostJson = JSON.parse(readFileSync(path, 'utf8')) as { extensions?: { serviceBus?: { maxConcurrentCalls?: unknown } } };
  const value = hostJson.extensions?.serviceBus?.maxConcurrentCalls;
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : 16;
}
