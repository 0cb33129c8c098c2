import { HttpRequest, type HttpResponseInit } from '@azure/functions';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { systemClock, timerSleep } from '../shared/domain';
import { CachedSecretProvider, SettingsSecretProvider } from '../shared/secrets';
import { JsonLineTelemetry } from '../shared/telemetry';
import { tenantSchema } from '../shared/tenants';
import { inboundMessage, messageIdFor, messagesChange, webhookDelivery, type WebhookDeps } from '../shared/whatsapp';
import type { handleWebhookPost, WebhookRequest } from '../functions/whatsappWebhook';
import { InMemoryAudit, InMemoryIdentityLinks, InMemoryMarkers, InMemorySubjectStore, InMemoryTenants, RecordingQueue } from '../test/doubles';

/**
 * `npm run bench:webhook`: signed text-message deliveries (a new message id each, 1000 subjects, the
 * tenant in the default `none` mode) through the real POST handler of functions/whatsappWebhook.ts
 * (`handleWebhookPost`: size check, HMAC over the raw bytes, JSON, zod, tenant lookup, keyed hashes,
 * idempotency lease, tombstone and suppression checks, contact upsert with TTL refresh, telemetry) with
 * in-memory adapters, beside a bare node:http server that only checks the HMAC and parses the JSON.
 *
 * Three servers, one client (a worker thread with raw keep-alive sockets, so the client is cheap and
 * the servers are measured near their capacity), rounds alternating between them so that load from
 * elsewhere hits all alike:
 * - `baseline`: node:http + HMAC + JSON.parse;
 * - `handler`: node:http + the handler, the request handed over as a thin adapter (headers + bytes);
 * - `handler+HttpRequest`: the same, but first building `@azure/functions`' HttpRequest (an undici
 *   Request), as the Functions worker does for every invocation: the library's cost, reported apart.
 * The headline ratio is `handler` / `baseline`. Last line: one JSON result.
 *
 *   npm run bench:webhook -- [--seconds 20] [--concurrency 32]
 */
const SECRET = 'bench-app-secret';
const PHONE_NUMBER_ID = '106540352242922';
const SUBJECTS = 1000;

interface ClientJob {
  port: number;
  seconds: number;
  concurrency: number;
  seed: string;
}

interface ClientResult {
  requests: number;
  errors: number;
  latenciesMs: number[];
  elapsedMs: number;
}

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

// ---------------------------------------------------------------- servers (main thread)

function inMemoryDeps(): WebhookDeps {
  const now = new Date().toISOString();
  const tenant = tenantSchema.parse({ id: 'bench', name: 'Bench', phoneNumberIds: [PHONE_NUMBER_ID], messageStorage: 'none', createdAt: now, updatedAt: now });
  const secrets = new CachedSecretProvider(
    new SettingsSecretProvider({
      WHATSAPP_APP_SECRET: SECRET,
      SUBJECT_HASH_KEY: 'bench-subject-hash-key-0123456789abcdef0123',
      DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    }),
    300_000,
    systemClock,
  );
  return {
    secrets,
    tenants: new InMemoryTenants([tenant]),
    subjects: new InMemorySubjectStore(),
    markers: new InMemoryMarkers(systemClock),
    // The bench sends no revoke: no media file is ever deleted.
    media: { deleteFile: async () => undefined },
    links: new InMemoryIdentityLinks(),
    audit: new InMemoryAudit(systemClock),
    queue: new RecordingQueue(),
    clock: systemClock,
    sleep: timerSleep,
    // As in production (one JSON line per event or metric), written nowhere.
    telemetry: new JsonLineTelemetry(() => undefined),
    requestPrivacy: async () => ({ id: 'none' }),
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, result: HttpResponseInit): void {
  const text = JSON.stringify(result.jsonBody ?? null);
  res.writeHead(result.status ?? 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The real handler; `viaHttpRequest` builds the Functions library's HttpRequest first, as the worker does. */
function handlerServer(handle: typeof handleWebhookPost, viaHttpRequest: boolean): Server {
  const deps = inMemoryDeps();
  return createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      let request: WebhookRequest;
      if (viaHttpRequest) {
        const headers: Record<string, string> = {};
        for (const [key, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[key] = value;
        request = new HttpRequest({ method: req.method ?? 'POST', url: `http://127.0.0.1${req.url ?? '/'}`, headers, body: { bytes: body } });
      } else {
        request = {
          headers: { get: (name) => (req.headers[name.toLowerCase()] as string | undefined) ?? null },
          body: new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(body);
              controller.close();
            },
          }),
        };
      }
      send(res, await handle(request, deps, 3_145_728));
    })().catch(() => {
      res.writeHead(500);
      res.end();
    });
  });
}

/** The floor: HMAC of the raw bytes, constant-time compare, JSON.parse, 200. */
function baselineServer(): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    void readBody(req).then((body) => {
      const given = Buffer.from(String(req.headers['x-hub-signature-256'] ?? '').replace(/^sha256=/, ''), 'hex');
      const expected = createHmac('sha256', SECRET).update(body).digest();
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        res.writeHead(401);
        res.end();
        return;
      }
      JSON.parse(body.toString('utf8'));
      send(res, { status: 200, jsonBody: { received: true } });
    });
  });
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function runClient(job: ClientJob): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(__filename, { workerData: job });
    worker.once('message', (result: ClientResult) => resolve(result));
    worker.once('error', reject);
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summarise(results: ClientResult[]) {
  const requests = results.reduce((n, r) => n + r.requests, 0);
  const elapsed = results.reduce((n, r) => n + r.elapsedMs, 0);
  const latencies = results.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  return {
    requests,
    errors: results.reduce((n, r) => n + r.errors, 0),
    reqPerSec: Math.round((requests / elapsed) * 1000),
    p50Ms: Number(percentile(latencies, 50).toFixed(2)),
    p99Ms: Number(percentile(latencies, 99).toFixed(2)),
  };
}

async function main(): Promise<void> {
  const seconds = argument('seconds', 20);
  const concurrency = argument('concurrency', 32);
  const rounds = 2;
  // Loading a function file is starting the app: its first import checks the settings
  // (functions/startupCheck.ts). These pass the check; the handler itself runs on the in-memory ports.
  Object.assign(process.env, {
    WHATSAPP_APP_SECRET: SECRET,
    WHATSAPP_VERIFY_TOKEN: 'bench-verify-token',
    SUBJECT_HASH_KEY: 'bench-subject-hash-key-0123456789abcdef0123',
    DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    COSMOS_CONNECTION: 'AccountEndpoint=http://127.0.0.1:9/;AccountKey=a2V5;',
    MEDIA_STORAGE: 'UseDevelopmentStorage=true',
  });
  const { handleWebhookPost } = await import('../functions/whatsappWebhook.js');
  const servers = { baseline: baselineServer(), handler: handlerServer(handleWebhookPost, false), 'handler+HttpRequest': handlerServer(handleWebhookPost, true) };
  const names = Object.keys(servers) as (keyof typeof servers)[];
  const ports = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await listen(servers[n])] as const))) as Record<keyof typeof servers, number>;
  console.log(`webhook benchmark: ${seconds} s per server in ${rounds} alternating rounds, ${concurrency} keep-alive connections, signed text deliveries to ${SUBJECTS} subjects`);

  for (const n of names) await runClient({ port: ports[n], seconds: 1, concurrency, seed: `warm-${n}` }); // JIT, caches: not measured
  const results = Object.fromEntries(names.map((n) => [n, [] as ClientResult[]])) as Record<keyof typeof servers, ClientResult[]>;
  for (let round = 0; round < rounds; round++) {
    for (const n of names) results[n].push(await runClient({ port: ports[n], seconds: seconds / rounds, concurrency, seed: `${n}-${round}` }));
  }
  for (const server of Object.values(servers)) server.close();

  const [b, h, r] = names.map((n) => summarise(results[n])) as [ReturnType<typeof summarise>, ReturnType<typeof summarise>, ReturnType<typeof summarise>];
  for (const [n, s] of [[names[0], b], [names[1], h], [names[2], r]] as const) {
    console.log(`${String(n).padEnd(20)} ${String(s.reqPerSec).padStart(6)} req/s  p50 ${s.p50Ms} ms  p99 ${s.p99Ms} ms  (${s.requests} requests, ${s.errors} errors)`);
  }
  console.log(
    JSON.stringify({
      bench: 'webhook',
      reqPerSec: h.reqPerSec,
      baselineReqPerSec: b.reqPerSec,
      ratio: Number((h.reqPerSec / b.reqPerSec).toFixed(2)),
      p50Ms: h.p50Ms,
      p99Ms: h.p99Ms,
      baselineP50Ms: b.p50Ms,
      baselineP99Ms: b.p99Ms,
      withHttpRequestReqPerSec: r.reqPerSec,
      withHttpRequestRatio: Number((r.reqPerSec / b.reqPerSec).toFixed(2)),
      withHttpRequestP99Ms: r.p99Ms,
      requests: h.requests,
      errors: b.errors + h.errors + r.errors,
      concurrency,
      seconds,
    }),
  );
}

// ---------------------------------------------------------------- client (worker thread)

function delivery(n: number, seed: string): string {
  const sender = { waId: `4477009${String(n % SUBJECTS).padStart(5, '0')}`, name: `Tenant ${n % SUBJECTS}` };
  // Shaped like Meta's ids (base64 that contains the number), distinct per request and repeatable per run.
  const id = messageIdFor(sender.waId, `${seed}${n.toString(16).padStart(12, '0')}`);
  const message = inboundMessage(sender, { type: 'text', id, text: { body: `Is the flat still available? (${n})` } });
  return JSON.stringify(webhookDelivery([[messagesChange({ phoneNumberId: PHONE_NUMBER_ID, contacts: [sender], messages: [message] })]]));
}

/** One keep-alive connection sending requests one after another; responses parsed just enough (status, length). */
function connection(job: ClientJob, next: () => number, deadline: number, result: ClientResult): Promise<void> {
  return new Promise((resolve) => {
    const socket: Socket = connect(job.port, '127.0.0.1');
    socket.setNoDelay(true);
    let buffer: Buffer = Buffer.alloc(0);
    let sentAt = 0;
    const fire = () => {
      if (performance.now() >= deadline) {
        socket.end();
        resolve();
        return;
      }
      const body = delivery(next(), job.seed);
      const signature = createHmac('sha256', SECRET).update(body).digest('hex');
      sentAt = performance.now();
      socket.write(
        `POST /api/whatsapp/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Hub-Signature-256: sha256=${signature}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      const headerEnd = buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const head = buffer.subarray(0, headerEnd).toString('latin1');
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buffer.length < headerEnd + 4 + length) return;
      buffer = buffer.subarray(headerEnd + 4 + length);
      result.latenciesMs.push(performance.now() - sentAt);
      result.requests += 1;
      if (!head.startsWith('HTTP/1.1 200')) result.errors += 1;
      fire();
    });
    socket.on('error', () => {
      result.errors += 1;
      resolve();
    });
    socket.on('connect', fire);
  });
}

async function client(job: ClientJob): Promise<ClientResult> {
  const result: ClientResult = { requests: 0, errors: 0, latenciesMs: [], elapsedMs: 0 };
  let counter = 0;
  const started = performance.now();
  const deadline = started + job.seconds * 1000;
  await Promise.all(Array.from({ length: job.concurrency }, () => connection(job, () => counter++, deadline, result)));
  result.elapsedMs = performance.now() - started;
  return result;
}

if (isMainThread) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
} else {
  void client(workerData as ClientJob).then((result) => parentPort!.postMessage(result));
}
