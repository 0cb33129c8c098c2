/**
 * npm run bench:erasure: N subjects, each with 20 Cosmos documents (contact, consent, flow responses,
 * messages, media references), 5 media blobs and a HubSpot contact, erased at concurrency C through the
 * real use cases (createPrivacyRequest, the privacy-requests and erasure-tasks consumers, verification)
 * and the in-process queue, against Azurite, cosmosdb-server and the HubSpot fake. Measures request ->
 * verified completion per request: p50/p95/p99 and the completion rate, beside the seed article's bar
 * (under 5 seconds, over 99.9% completed); ratio = p99 / 5000.
 *
 * The subjects belong to T tenants (business customers), each with its own HubSpot portal and token,
 * and the fake holds every token to HubSpot's Free/Starter limits: 100 calls per 10 s and 4 searches
 * per second. One portal therefore takes at most about 10 erasures a second (each needs its own GDPR
 * delete call; HubSpot has no batch GDPR delete): BENCH_TENANTS=1 measures that case.
 *
 * Environment (or --name=): BENCH_SUBJECTS (default 200), BENCH_CONCURRENCY (requests in flight,
 * default 20), BENCH_TENANTS (default 10), BENCH_WORKERS (messages each queue trigger handles at once,
 * default 32 = host.json maxConcurrentCalls), BENCH_WARMUP (subjects erased first and not counted, so a
 * fresh process's JIT and connection set-up are not measured; default 2 x C, 0 counts everything).
 * The result is the last line.
 */
import { randomBytes } from 'node:crypto';
import { startAzurite, startCosmosServer } from '../local/emulators';
import { cpuMilliseconds } from './cpu';
import { subjectPartitionKey, type TenantId, type WaId } from '../shared/domain';
import { hashSubject } from '../shared/crypto';
import { createPrivacyRequest, processPrivacyRequest, runErasureTask } from '../shared/privacy';
import { InProcessQueue } from '../shared/queue';
import { createServices, buildPrivacyDeps, rootOf } from '../shared/runtime';
import { hubspotTokenSecret } from '../shared/secrets';
import { mediaPrefixFor } from '../shared/storage';
import { lifetime } from '../shared/subjects';
import type { Dimensions, Telemetry } from '../shared/telemetry';
import { tenantInputSchema } from '../shared/tenants';
import { startHubSpotFake } from '../test/fakes/hubspot';

function option(name: string, env: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const value = Number(arg ? arg.split('=')[1] : (process.env[env] ?? fallback));
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number`);
  return value;
}

const SUBJECTS = option('subjects', 'BENCH_SUBJECTS', 200);
const CONCURRENCY = option('concurrency', 'BENCH_CONCURRENCY', 20);
const WORKERS = option('workers', 'BENCH_WORKERS', 32);
const TENANTS = option('tenants', 'BENCH_TENANTS', 10);
const WARMUP = process.env.BENCH_WARMUP === '0' || process.argv.includes('--warmup=0') ? 0 : option('warmup', 'BENCH_WARMUP', 2 * CONCURRENCY);
const SEED_BAR_MS = 5000;
const DOC_MIX = { contact: 1, consent: 1, flowResponse: 6, message: 8, mediaRef: 4 } as const; // 20
const BLOBS = 5;

/** Resolves a waiter when its request's completed or failed event is emitted. */
class CompletionTelemetry implements Telemetry {
  private readonly waiting = new Map<string, (outcome: 'completed' | 'failed') => void>();
  readonly counts = new Map<string, number>();
  wait(requestId: string): Promise<'completed' | 'failed'> {
    return new Promise((resolve) => this.waiting.set(requestId, resolve));
  }
  event(name: string, dimensions: Dimensions = {}): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
    const id = String(dimensions.requestId ?? '');
    if (name === 'privacy.request.completed' || name === 'privacy.request.failed') {
      this.waiting.get(id)?.(name === 'privacy.request.completed' ? 'completed' : 'failed');
      this.waiting.delete(id);
    }
  }
  metric(): void {}
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const [azurite, cosmos] = await Promise.all([startAzurite({ inMemory: true }), startCosmosServer()]);
  // HubSpot's Free/Starter limits per token: 100 calls per 10 s, 4 searches per second (the client paces under both).
  const hubspot = await startHubSpotFake({ requestsPerTenSeconds: 100 });
  // Each tenant is a business customer with its own HubSpot portal and private-app token.
  const tenantIds = Array.from({ length: TENANTS }, (_, i) => `bench-erasure-${i + 1}` as TenantId);
  const tenantOf = (i: number) => tenantIds[i % TENANTS]!;
  const telemetry = new CompletionTelemetry();
  const queue = new InProcessQueue();
  const services = await createServices(
    {
      WHATSAPP_APP_SECRET: 'bench-app-secret',
      WHATSAPP_VERIFY_TOKEN: 'bench-verify-token',
      SUBJECT_HASH_KEY: randomBytes(32).toString('hex'),
      DATA_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      COSMOS_CONNECTION: cosmos.connectionString,
      COSMOS_DATABASE: 'bench-erasure',
      MEDIA_STORAGE: azurite.connectionString,
      HUBSPOT_API_BASE_URL: hubspot.url,
      ...Object.fromEntries(tenantIds.map((id) => [hubspotTokenSecret(id), `pat-eu1-${randomBytes(8).toString('hex')}`])),
    },
    { queue, telemetry },
  );
  const stops: (() => Promise<void>)[] = [];
  try {
    const deps = buildPrivacyDeps(services);
    for (const [i, id] of tenantIds.entries()) {
      await rootOf(services).tenants.put(id, tenantInputSchema.parse({ name: `Bench Lettings ${i + 1}`, phoneNumberIds: [String(106540352242922 + i)], messageStorage: 'encrypted', hubspot: { enabled: true } }));
    }

    // Seed: 20 documents, 5 blobs and a HubSpot contact per subject.
    const seedStarted = performance.now();
    const waIds = Array.from({ length: WARMUP + SUBJECTS }, (_, i) => `4477009${String(10_000 + i).padStart(5, '0')}` as WaId);
    const now = new Date();
    let next = 0;
    const seedOne = async (index: number) => {
      const waId = waIds[index]!;
      const tenantId = tenantOf(index);
      const pk = subjectPartitionKey(tenantId, waId);
      const docs = Object.entries(DOC_MIX).flatMap(([type, n]) =>
        Array.from({ length: n }, (_, j) => ({ id: type === 'contact' ? 'contact' : `${type}-${j}`, pk, tenantId, type, createdAt: now.toISOString(), ...lifetime(now, 86_400), payload: randomBytes(64).toString('base64') })),
      );
      for (let i = 0; i < docs.length; i += 10) await Promise.all(docs.slice(i, i + 10).map((d) => services.cosmos.subjects.items.create(d)));
      const prefix = mediaPrefixFor(tenantId, await hashSubject(services.secrets, tenantId, waId));
      await Promise.all(Array.from({ length: BLOBS }, (_, j) => services.blobs.media.getBlockBlobClient(`${prefix}media-${j}`).uploadData(randomBytes(4096))));
      hubspot.addContact({ firstname: 'Bench', phone: `+44 ${waId.slice(2, 6)} ${waId.slice(6)}` });
    };
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < waIds.length) await seedOne(next++);
    }));
    const seedMs = Math.round(performance.now() - seedStarted);
    console.log(`seeded ${waIds.length} subjects of ${TENANTS} tenants (${waIds.length * 20} documents, ${waIds.length * BLOBS} blobs, ${waIds.length} HubSpot contacts) in ${seedMs} ms`);

    // The two queue triggers, as the Functions host runs them (maxConcurrentCalls per queue).
    stops.push(queue.subscribe('privacy-requests', async (m) => void (await processPrivacyRequest(deps, m.body)), { maxConcurrent: WORKERS }));
    stops.push(queue.subscribe('erasure-tasks', async (m) => void (await runErasureTask(deps, m.body)), { maxConcurrent: WORKERS }));

    // C clients, each: request an erasure, wait for its verified completion, take the next subject.
    const eraseRound = async (from: number, to: number) => {
      const round = { latencies: [] as number[], completed: 0, failed: 0, timedOut: 0 };
      let cursor = from;
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (cursor < to) {
          const index = cursor++;
          const [waId, tenantId] = [waIds[index]!, tenantOf(index)];
          const started = performance.now();
          const created = await createPrivacyRequest(deps, { tenantId, waId, type: 'erasure', channel: 'flow', screen: 'PRIVACY' });
          if (created.kind !== 'created') throw new Error(`unexpected ${created.kind}`);
          const outcome = await Promise.race([telemetry.wait(created.request.id), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 120_000).unref())]);
          if (outcome === 'completed') {
            round.completed += 1;
            round.latencies.push(performance.now() - started);
          } else if (outcome === 'failed') round.failed += 1;
          else round.timedOut += 1;
        }
      }));
      return round;
    };
    // A fresh process pays for its first requests: JIT compilation, TCP connections, the SDKs' first
    // metadata reads (bench:coldstart measures that). The warm-up subjects go first and are not counted.
    if (WARMUP > 0) {
      const warm = await eraseRound(0, WARMUP);
      const sorted = [...warm.latencies].sort((a, b) => a - b);
      console.log(`warm-up: ${warm.completed}/${WARMUP} erased (not counted), slowest ${Math.round(sorted.at(-1) ?? NaN)} ms`);
    }
    const searchesBefore = hubspot.searchCalls();
    const rateLimitedBefore = hubspot.requests.filter((r) => r.status === 429).length;
    const cpuBefore = cpuMilliseconds();
    const runStarted = performance.now();
    const measured = await eraseRound(WARMUP, WARMUP + SUBJECTS);
    const { latencies } = measured;
    const outcomes = { completed: measured.completed, failed: measured.failed, timedOut: measured.timedOut };
    const runMs = performance.now() - runStarted;
    const cpuAfter = cpuMilliseconds();
    const cpuPerErasure = Object.fromEntries(Object.entries(cpuAfter).map(([k, v]) => [k, Math.round(((v - (cpuBefore[k] ?? 0)) / SUBJECTS) * 10) / 10]));

    // Prove it: nothing of any subject is left in Cosmos, Blob or HubSpot.
    const { resources: leftDocs } = await services.cosmos.subjects.items.query<number>({ query: 'SELECT VALUE COUNT(1) FROM c' }).fetchAll();
    let leftBlobs = 0;
    for await (const item of services.blobs.media.listBlobsFlat()) if (item) leftBlobs += 1;
    const rateLimited = hubspot.requests.filter((r) => r.status === 429).length - rateLimitedBefore;
    const searches = hubspot.searchCalls() - searchesBefore;

    // Where the time goes: queue wait before planning, each store's task, verification and completion.
    const docs = (await deps.requests.listByStatus(['completed', 'failed'], { limit: 100_000 })).filter((d) => Date.parse(d.receivedAt) >= Date.now() - runMs - 1000);
    const mean = (values: number[]) => (values.length ? Math.round(values.reduce((a, b) => a + b, 0) / values.length) : NaN);
    const t = (v: string | undefined) => Date.parse(v ?? '');
    const firstTask = (d: (typeof docs)[number]) => Math.min(...d.tasks.filter((x) => !x.note).map((x) => t(x.startedAt)));
    const lastTask = (d: (typeof docs)[number]) => Math.max(...d.tasks.map((x) => t(x.finishedAt)));
    const phasesOf = (list: typeof docs) => ({
      enqueueMs: mean(list.map((d) => t(d.enqueuedAt) - t(d.receivedAt))),
      planMs: mean(list.map((d) => Date.parse(d.startedAt ?? d.receivedAt) - Date.parse(d.receivedAt))),
      taskQueueMs: mean(list.map((d) => firstTask(d) - t(d.startedAt))),
      taskSpanMs: mean(list.map((d) => lastTask(d) - firstTask(d))),
      ...Object.fromEntries(['cosmos', 'blob', 'hubspot', 'exports'].map((store) => [`${store}Ms`, mean(list.map((d) => d.tasks.find((t) => t.store === store)?.durationMs ?? 0))])),
      verifyMs: mean(list.map((d) => Date.parse(d.completedAt ?? d.updatedAt) - Math.max(...d.tasks.map((t) => Date.parse(t.finishedAt ?? d.receivedAt))))),
    });
    const total = (d: (typeof docs)[number]) => Date.parse(d.completedAt ?? d.updatedAt) - Date.parse(d.receivedAt);
    const slowest = [...docs].sort((a, b) => total(b) - total(a)).slice(0, Math.max(1, Math.ceil(docs.length / 20)));
    console.log(`mean phases: ${JSON.stringify(phasesOf(docs))}`);
    console.log(`mean phases of the slowest 5%: ${JSON.stringify(phasesOf(slowest))}`);
    console.log(`CPU ms per erasure: ${JSON.stringify(cpuPerErasure)}`);
    latencies.sort((a, b) => a - b);
    const round = (n: number) => Math.round(n * 10) / 10;
    const p50 = round(percentile(latencies, 50));
    const p95 = round(percentile(latencies, 95));
    const p99 = round(percentile(latencies, 99));
    const completionRate = outcomes.completed / SUBJECTS;
    console.log(`erased ${outcomes.completed}/${SUBJECTS} at concurrency ${CONCURRENCY} in ${Math.round(runMs)} ms (${round((outcomes.completed / runMs) * 1000)} erasures/s); failed ${outcomes.failed}, timed out ${outcomes.timedOut}`);
    console.log(`request -> verified completion: p50 ${p50} ms, p95 ${p95} ms, p99 ${p99} ms, max ${round(latencies.at(-1) ?? NaN)} ms (seed's bar: < ${SEED_BAR_MS} ms, > 99.9% completed)`);
    console.log(`left behind: ${leftDocs[0] ?? '?'} documents, ${leftBlobs} blobs, ${hubspot.contacts.size} HubSpot contacts; HubSpot: ${searches} search calls for ${SUBJECTS} look-ups, ${rateLimited} answered 429`);
    console.log(
      JSON.stringify({
        bench: 'erasure',
        subjects: SUBJECTS,
        concurrency: CONCURRENCY,
        workers: WORKERS,
        tenants: TENANTS,
        warmup: WARMUP,
        p50Ms: p50,
        p95Ms: p95,
        p99Ms: p99,
        completionRate,
        baselineP99Ms: SEED_BAR_MS,
        baselineCompletionRate: 0.999,
        ratio: Math.round((p99 / SEED_BAR_MS) * 1000) / 1000,
        erasuresPerSec: round((outcomes.completed / runMs) * 1000),
        leftovers: { documents: leftDocs[0] ?? null, blobs: leftBlobs, hubspotContacts: hubspot.contacts.size },
        hubspotSearchCalls: searches,
        hubspot429: rateLimited,
      }),
    );
  } finally {
    for (const stop of stops) await stop();
    await services.close();
    await hubspot.close();
    await Promise.all([azurite.stop(), cosmos.stop()]);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
  process.exit(1);
});
