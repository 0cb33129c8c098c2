import { createHmac, randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { startAzurite, startCosmosServer } from '../local/emulators';
import { startLocalHost } from '../local/host';
import { cpuMilliseconds } from './cpu';
import { InProcessQueue } from '../shared/queue';
import { createServices, useServices, rootOf } from '../shared/runtime';
import type { Dimensions, Telemetry } from '../shared/telemetry';
import { tenantInputSchema } from '../shared/tenants';
import type { TenantId } from '../shared/domain';
import { inboundMessage, messageIdFor, messagesChange, unixSeconds, webhookDelivery } from '../shared/whatsapp/envelope';
import { startGraphApiFake } from '../test/fakes/graphApi';

/**
 * `npm run bench:load`: sustained, signed webhook traffic against the local host, as `npm start` runs it
 * (the emulators from local/emulators.ts, `startLocalHost` with `createServices`, every function loaded
 * through its own registration, the in-process queue feeding the workers), while erasures run.
 *
 * Traffic (loopback only), paced at `--rate` deliveries per second with at most `--concurrency` in
 * flight, over `--subjects` people of one tenant (`--storage none`, the product's default mode, or
 * `encrypted`, where every message is also stored, encrypted, in Cosmos):
 *   62% text messages, 20% status updates (1-3 statuses), 12% completed flows with answers,
 *    4% images (downloaded from the Graph API fake into Blob), 2% flows asking for erasure (Privacy Centre).
 * The client runs in a worker thread, so it does not compete with the host's event loop.
 *
 * Reported: throughput, p50/p99 latency, errors (anything but a 200, or a network error: must be 0),
 * erasures requested and completed, and memory: heap and RSS after a forced GC at the start of the
 * measured run and at its end (after the queues drained), plus a heap sample every 30 s. "Flat" means the
 * heap grew by less than 32 MiB over the run and less than 16 MiB over its second half (a leak grows with
 * the traffic; a warm cache does not).
 *
 * Baseline, measured in the same run before the load: the same mix sent one at a time (no concurrency),
 * 200 deliveries: the latency of the path itself. `ratio` = p99 under load / baseline p99.
 *
 *   npm run bench:load -- [--seconds 300] [--rate 50] [--concurrency 32] [--subjects 2000] [--storage none|encrypted]
 *
 * The emulator is the limit, not Flowkeeper: cosmosdb-server ignores the partition key and evaluates
 * every query against every document of the container (the CPU seconds of each process are reported).
 * Erasure and media download query a subject's partition, so with `encrypted` storage the subjects
 * container grows by about 0.8 documents per delivery and, past roughly 10 000 deliveries, the emulator
 * saturates its core and latency climbs; real Cosmos DB reads one logical partition for such a query.
 *
 * cosmosdb-server is started as `npm start` and the tests start it (local/emulators.ts): with HTTP
 * keep-alive (by default it closes every connection, and five minutes of that exhausts the loopback's
 * ephemeral ports) and with query plans answered as Cosmos DB's gateway does.
 */
const SECRET = 'load-app-secret';
const PHONE_NUMBER_ID = '106540352200001';
const MB = 1024 * 1024;

interface ClientJob {
  url: string;
  seconds: number;
  rate: number;
  concurrency: number;
  subjects: number;
  media: { id: string; sha256: string }[];
  seed: string;
  /** Sequential (the baseline): one at a time, as fast as answered. */
  sequential?: number;
}

interface ClientResult {
  sent: number;
  errors: number;
  errorSamples: string[];
  latenciesMs: number[];
  /** Latency per kind of delivery, and per 30 s window of the run. */
  byKindMs: Record<string, number[]>;
  windowsP99Ms: number[];
  elapsedMs: number;
  kinds: Record<string, number>;
  erasureRequests: string[];
  maxInFlight: number;
  behindSchedule: number;
}

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

// ---------------------------------------------------------------- main thread: emulators, host, measurement

class LoadTelemetry implements Telemetry {
  readonly events = new Map<string, number>();
  readonly completed = new Set<string>();
  readonly failed = new Set<string>();
  event(name: string, dimensions: Dimensions = {}): void {
    this.events.set(name, (this.events.get(name) ?? 0) + 1);
    if (name === 'privacy.request.completed') this.completed.add(String(dimensions.requestId));
    if (name === 'privacy.request.failed') this.failed.add(String(dimensions.requestId));
  }
  metric(): void {}
}

function gc(): void {
  const global = globalThis as { gc?: () => void };
  if (!global.gc) {
    setFlagsFromString('--expose-gc');
    global.gc = runInNewContext('gc') as () => void;
  }
  global.gc();
  global.gc();
}

function memory(): { heapMb: number; rssMb: number } {
  gc();
  const m = process.memoryUsage();
  return { heapMb: Number((m.heapUsed / MB).toFixed(1)), rssMb: Number((m.rss / MB).toFixed(1)) };
}

function runClient(job: ClientJob): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(__filename, { workerData: job });
    worker.on('message', (message: ClientResult | { progress: string }) => {
      if ('progress' in message) console.log(message.progress);
      else resolve(message);
    });
    worker.once('error', reject);
  });
}

/** CPU seconds used so far by this process (`flowkeeper`) and by each emulator child. */
function cpuSeconds(): Record<string, number> {
  return Object.fromEntries(Object.entries(cpuMilliseconds()).map(([name, ms]) => [name === 'bench' ? 'flowkeeper' : name, Math.round(ms / 1000)]));
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const seconds = argument('seconds', 300);
  const rate = argument('rate', 50);
  const concurrency = argument('concurrency', 32);
  const subjects = argument('subjects', 2000);
  const storageIndex = process.argv.indexOf('--storage');
  const storage = storageIndex >= 0 ? process.argv[storageIndex + 1] : 'none';
  if (storage !== 'none' && storage !== 'encrypted') throw new Error('--storage must be none (the default mode) or encrypted');
  const [azurite, cosmos] = await Promise.all([startAzurite({ inMemory: true }), startCosmosServer()]);
  const graph = await startGraphApiFake({ token: 'load-graph-token' });
  const telemetry = new LoadTelemetry();
  const env: Record<string, string> = {
    WHATSAPP_APP_SECRET: SECRET,
    WHATSAPP_VERIFY_TOKEN: 'load-verify-token',
    WHATSAPP_ACCESS_TOKEN: 'load-graph-token',
    GRAPH_API_BASE_URL: graph.baseUrl,
    SUBJECT_HASH_KEY: randomBytes(32).toString('hex'),
    DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    COSMOS_CONNECTION: cosmos.connectionString,
    COSMOS_DATABASE: 'bench-load',
    MEDIA_STORAGE: azurite.connectionString,
    LOCAL_DEV_AUTH: 'false',
  };
  Object.assign(process.env, env);
  const queue = new InProcessQueue();
  const services = await createServices(env, { queue, telemetry });
  useServices(services);
  let hostLogLines = 0;
  const host = await startLocalHost({ services, port: 0, runTimers: false, log: () => void (hostLogLines += 1) });
  try {
    await rootOf(services).tenants.put('bench-load' as TenantId, tenantInputSchema.parse({ name: 'Load Lettings', phoneNumberIds: [PHONE_NUMBER_ID], messageStorage: storage }));
    // Unique media ids, as Meta's are (a media id is also the download's duplicate-detection key).
    const imageBytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(4096)]);
    const media = Array.from({ length: Math.ceil(rate * seconds * 0.05) + 200 }, (_, i) => {
      const id = `7${String(i).padStart(14, '0')}`;
      return { id, sha256: graph.addMedia(id, { bytes: imageBytes, mimeType: 'image/jpeg' }).webhookSha256 };
    });
    const base: Omit<ClientJob, 'seconds' | 'seed'> = { url: host.url, rate, concurrency, subjects, media: [] };
    console.log(`load: ${seconds} s at ${rate} deliveries/s (at most ${concurrency} in flight) over ${subjects} subjects, messageStorage ${storage}, local host ${host.url}`);

    // Warm-up (JIT, caches, containers), then the baseline: one at a time.
    await runClient({ ...base, seconds: 10, rate: Math.min(rate, 50), media: media.slice(0, 40), seed: 'warm' });
    const baseline = await runClient({ ...base, seconds: 0, sequential: 200, media: media.slice(40, 80), seed: 'baseline' });
    await drained(queue, 60_000);
    const baselineLatencies = [...baseline.latenciesMs].sort((a, b) => a - b);

    const cpuBefore = cpuSeconds();
    const start = memory();
    const samples: { atS: number; heapMb: number; rssMb: number }[] = [{ atS: 0, ...start }];
    const began = Date.now();
    const sampler = setInterval(() => samples.push({ atS: Math.round((Date.now() - began) / 1000), ...memory() }), 30_000);
    const loaded = await runClient({ ...base, seconds, media: media.slice(80), seed: 'load' });
    clearInterval(sampler);
    const drainedInMs = await drained(queue, 120_000);
    const requested = new Set(loaded.erasureRequests);
    const completed = [...requested].filter((id) => telemetry.completed.has(id)).length;
    const failed = [...requested].filter((id) => telemetry.failed.has(id)).length;
    const end = memory();
    samples.push({ atS: Math.round((Date.now() - began) / 1000), ...end });
    const half = samples.filter((s) => s.atS >= seconds / 2);
    const secondHalfGrowth = half.length > 1 ? half[half.length - 1]!.heapMb - half[0]!.heapMb : 0;
    const heapGrowthMb = Number((end.heapMb - start.heapMb).toFixed(1));
    const memoryFlat = heapGrowthMb < 32 && secondHalfGrowth < 16;

    const cpuAfter = cpuSeconds();
    const cpu = Object.fromEntries(Object.entries(cpuAfter).map(([k, v]) => [k, v - (cpuBefore[k] ?? 0)]));
    const p99ByKind = Object.fromEntries(Object.entries(loaded.byKindMs).map(([k, v]) => [k, Number(percentile([...v].sort((a, b) => a - b), 99).toFixed(1))]));
    const latencies = [...loaded.latenciesMs].sort((a, b) => a - b);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    const baselineP99 = percentile(baselineLatencies, 99);
    console.log(`mix: ${JSON.stringify(loaded.kinds)}; at most ${loaded.maxInFlight} in flight; ${loaded.behindSchedule} sends behind schedule`);
    console.log(`throughput ${(loaded.sent / (loaded.elapsedMs / 1000)).toFixed(1)}/s, p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, errors ${loaded.errors + baseline.errors}`);
    if (loaded.errorSamples.length > 0) console.log(`error samples: ${loaded.errorSamples.join(' | ')}`);
    console.log(`p99 by kind (ms): ${JSON.stringify(p99ByKind)}; p99 per 30 s window (ms): ${loaded.windowsP99Ms.join(', ')}`);
    console.log(`CPU seconds during the run: ${JSON.stringify(cpu)}`);
    console.log(`baseline (one at a time): p50 ${percentile(baselineLatencies, 50).toFixed(1)} ms, p99 ${baselineP99.toFixed(1)} ms`);
    console.log(`erasures: ${requested.size} requested, ${completed} completed, ${failed} failed; queues drained ${drainedInMs} ms after the traffic`);
    console.log(`heap after GC (MiB): ${samples.map((s) => `${s.atS}s ${s.heapMb}`).join(', ')}; RSS ${start.rssMb} -> ${end.rssMb} MiB`);
    console.log(`dead letters: ${JSON.stringify(Object.fromEntries(await Promise.all((['media-downloads', 'privacy-requests', 'erasure-tasks'] as const).map(async (q) => [q, await queue.countDeadLetters(q)]))))}; host log lines ${hostLogLines}`);
    console.log(
      JSON.stringify({
        bench: 'load',
        reqPerSec: Number((loaded.sent / (loaded.elapsedMs / 1000)).toFixed(1)),
        targetReqPerSec: rate,
        p50Ms: Number(p50.toFixed(1)),
        p99Ms: Number(p99.toFixed(1)),
        baselineP50Ms: Number(percentile(baselineLatencies, 50).toFixed(1)),
        baselineP99Ms: Number(baselineP99.toFixed(1)),
        ratio: Number((p99 / baselineP99).toFixed(2)),
        requests: loaded.sent,
        errors: loaded.errors + baseline.errors,
        erasuresRequested: requested.size,
        erasuresCompleted: completed,
        erasuresFailed: failed,
        heapStartMb: start.heapMb,
        heapEndMb: end.heapMb,
        heapGrowthMb,
        heapGrowthSecondHalfMb: Number(secondHalfGrowth.toFixed(1)),
        rssStartMb: start.rssMb,
        rssEndMb: end.rssMb,
        memoryFlat,
        p99ByKindMs: p99ByKind,
        p99ByWindowMs: loaded.windowsP99Ms,
        cpuSeconds: cpu,
        seconds,
        concurrency,
        messageStorage: storage,
      }),
    );
  } finally {
    await host.close();
    await services.close();
    await graph.close();
    await Promise.all([azurite.stop(), cosmos.stop()]);
  }
}

/** Waits until the queues hold nothing due (media downloads, privacy requests, erasure tasks); returns how long it took. */
async function drained(queue: InProcessQueue, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (queue.pending() > 0 && Date.now() - started < timeoutMs) await new Promise((r) => setTimeout(r, 100));
  return Date.now() - started;
}

// ---------------------------------------------------------------- client (worker thread)

type Kind = 'text' | 'status' | 'flow' | 'image' | 'erasure';

function pick(n: number): Kind {
  const r = (n * 2654435761) % 100; // a fixed, well-spread mix
  return r < 62 ? 'text' : r < 82 ? 'status' : r < 94 ? 'flow' : r < 98 ? 'image' : 'erasure';
}

function waIdOf(n: number, subjects: number): string {
  return `4477009${String((n * 7919) % subjects).padStart(5, '0')}`;
}

/** Shaped like Meta's ids (base64 that contains the number), distinct per request and repeatable per run. */
function wamid(waId: string, seed: string, n: number): string {
  return messageIdFor(waId, `${seed}${n.toString(16).padStart(12, '0')}`);
}

function delivery(job: ClientJob, n: number, mediaCursor: { next: number }): { kind: Kind; body: string } {
  let kind = pick(n);
  if (kind === 'image' && mediaCursor.next >= job.media.length) kind = 'text';
  const waId = waIdOf(n, job.subjects);
  const timestamp = unixSeconds();
  const sender = { waId, name: `Subject ${waId.slice(-5)}` };
  const id = wamid(waId, job.seed, n);
  let change;
  if (kind === 'status') {
    const count = 1 + (n % 3);
    const statuses = Array.from({ length: count }, (_, i) => ({ id: wamid('447700900000', job.seed, n * 4 + i), status: ['sent', 'delivered', 'read'][i]!, timestamp, recipient_id: waId }));
    change = messagesChange({ phoneNumberId: PHONE_NUMBER_ID, statuses });
  } else {
    let message;
    if (kind === 'text') message = inboundMessage(sender, { type: 'text', id, text: { body: `Is the flat on Lemon Street still free? (${n})` } });
    else if (kind === 'image') {
      const media = job.media[mediaCursor.next++]!;
      message = inboundMessage(sender, { type: 'image', id, image: { mime_type: 'image/jpeg', sha256: media.sha256, id: media.id, caption: 'the boiler' } });
    } else {
      const response = kind === 'erasure' ? { action: 'data_deletion_request', scope: 'all' } : { flow_token: `lead-${n}`, screen: 'LEAD', full_name: `Subject ${waId.slice(-5)}`, move_in: '2026-03-01', budget: 900 + (n % 700) };
      message = inboundMessage(sender, { type: 'interactive', id, context: { from: '447700900000', id: wamid('447700900000', job.seed, n) }, interactive: { type: 'nfm_reply', nfm_reply: { response_json: JSON.stringify(response), body: 'Sent', name: 'flow' } } });
    }
    change = messagesChange({ phoneNumberId: PHONE_NUMBER_ID, contacts: [sender], messages: [message] });
  }
  return { kind, body: JSON.stringify(webhookDelivery([[change]])) };
}

async function client(job: ClientJob): Promise<ClientResult> {
  const url = new URL(job.url);
  const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency });
  const result: ClientResult = { sent: 0, errors: 0, errorSamples: [], latenciesMs: [], byKindMs: {}, windowsP99Ms: [], elapsedMs: 0, kinds: {}, erasureRequests: [], maxInFlight: 0, behindSchedule: 0 };
  const mediaCursor = { next: 0 };
  let inFlight = 0;
  let n = 0;
  const post = (body: string): Promise<{ status: number; text: string }> =>
    new Promise((resolve) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          method: 'POST',
          path: '/api/whatsapp/webhook',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}` },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', () => resolve({ status: 0, text: 'response error' }));
        },
      );
      req.on('error', (e) => resolve({ status: 0, text: e.message }));
      req.end(body);
    });
  const one = async (): Promise<void> => {
    const { kind, body } = delivery(job, n++, mediaCursor);
    inFlight += 1;
    result.maxInFlight = Math.max(result.maxInFlight, inFlight);
    const sentAt = performance.now();
    const response = await post(body);
    const took = performance.now() - sentAt;
    result.latenciesMs.push(took);
    (result.byKindMs[kind] ??= []).push(took);
    inFlight -= 1;
    result.sent += 1;
    result.kinds[kind] = (result.kinds[kind] ?? 0) + 1;
    if (response.status !== 200) {
      result.errors += 1;
      if (result.errorSamples.length < 5) result.errorSamples.push(`${response.status} ${response.text.slice(0, 120)}`);
    } else if (kind === 'erasure') {
      const ids = (JSON.parse(response.text) as { received: { privacyRequestIds: string[] } }).received.privacyRequestIds;
      result.erasureRequests.push(...ids);
    }
  };

  const started = performance.now();
  if (job.sequential) {
    for (let i = 0; i < job.sequential; i++) await one();
  } else {
    // Open loop: a send every 1/rate s, skipped (and counted) when `concurrency` are already in flight.
    const interval = 1000 / job.rate;
    const deadline = started + job.seconds * 1000;
    let window: number[] = [];
    const progress = setInterval(() => {
      const recent = result.latenciesMs.slice(window.length === 0 ? 0 : window[0]);
      window = [result.latenciesMs.length];
      const sorted = recent.sort((a, b) => a - b);
      result.windowsP99Ms.push(Number(percentile(sorted, 99).toFixed(1)));
      parentPort?.postMessage({
        progress: `  ${Math.round((performance.now() - started) / 1000)} s: ${result.sent} answered, ${inFlight} in flight, ${result.errors} errors, last 30 s p50 ${percentile(sorted, 50).toFixed(0)} ms p99 ${percentile(sorted, 99).toFixed(0)} ms`,
      });
    }, 30_000);
    const pending = new Set<Promise<void>>();
    for (let i = 0; ; i++) {
      const due = started + i * interval;
      if (due >= deadline) break;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      if (inFlight >= job.concurrency) {
        result.behindSchedule += 1;
        await Promise.race(pending);
      }
      const p = one().finally(() => pending.delete(p));
      pending.add(p);
    }
    await Promise.all(pending);
    clearInterval(progress);
  }
  result.elapsedMs = performance.now() - started;
  agent.destroy();
  return result;
}

if (isMainThread) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
    process.exit(1);
  });
} else {
  void client(workerData as ClientJob).then((result) => parentPort!.postMessage(result));
}

