/**
 * npm run bench:erasure: N subjects, each with 20 Cosmos documents (contact, consent, flow responses,
 * messages, media references), 5 media blobs and, in HubSpot, the contact and the inbox thread Flowkeeper
 * made for it (recorded in its HubSpot object record, as the sync leaves them), erased at concurrency C through the
 * real use cases (createPrivacyRequest, the privacy-requests and erasure-tasks consumers, verification)
 * and the in-process queue, against Azurite, cosmosdb-server and the HubSpot fake. Measures request ->
 * verified completion per request: p50/p95/p99 and the completion rate, beside the seed article's bar
 * (under 5 seconds, over 99.9% completed); ratio = p99 / 5000.
 *
 * The subjects belong to T tenants (business customers), each with its own HubSpot portal and token,
 * and the fake holds every token to HubSpot's Free/Starter limits: 100 calls per 10 s and 5 searches
 * per second. Each erasure needs its own thread archive, GDPR delete and thread read (HubSpot has no
 * batch for any of them), so one portal takes at most 100 / 10 / (calls per erasure) erasures a second:
 * BENCH_TENANTS=1 measures that case, and prints the calls per 10 s achieved beside the limit and the
 * erasures per second beside that bound.
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

const round2 = (n: number) => Math.round(n * 100) / 100;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const [azurite, cosmos] = await Promise.all([startAzurite({ inMemory: true }), startCosmosServer()]);
  // HubSpot's Free/Starter limits per token: 100 calls per 10 s, 5 searches per second (the client paces
  // under both); switched on once the seed is in.
  const LIMIT = 100;
  const WINDOW_MS = 10_000;
  const hubspot = await startHubSpotFake({ requestsPerTenSeconds: 0 });
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
      await rootOf(services).tenants.put(
        id,
        tenantInputSchema.parse({ name: `Bench Lettings ${i + 1}`, phoneNumberIds: [String(106540352242922 + i)], messageStorage: 'hubspot', hubspot: { enabled: true, customChannelId: String(7000 + i), channelAccountId: String(880000 + i) } }),
      );
    }

    // Seed: 20 documents, 5 blobs, and in HubSpot the contact and thread the sync made (and recorded) per subject.
    const registry = rootOf(services).hubspotObjects;
    const seedStarted = performance.now();
    const waIds = Array.from({ length: WARMUP + SUBJECTS }, (_, i) => `4477009${String(10_000 + i).padStart(5, '0')}` as WaId);
    const now = new Date();
    let next = 0;
    const seedOne = async (index: number) => {
      const waId = waIds[index]!;
      const tenantId = tenantOf(index);
      const pk = subjectPartitionKey(tenantId, await hashSubject(services.secrets, tenantId, waId));
      const docs = Object.entries(DOC_MIX).flatMap(([type, n]) =>
        Array.from({ length: n }, (_, j) => ({ id: type === 'contact' ? 'contact' : `${type}-${j}`, pk, tenantId, type, createdAt: now.toISOString(), ...lifetime(now, 86_400), payload: randomBytes(64).toString('base64') })),
      );
      for (let i = 0; i < docs.length; i += 10) await Promise.all(docs.slice(i, i + 10).map((d) => services.cosmos.subjects.items.create(d)));
      const subjectHash = await hashSubject(services.secrets, tenantId, waId);
      const prefix = mediaPrefixFor(tenantId, subjectHash);
      await Promise.all(Array.from({ length: BLOBS }, (_, j) => services.blobs.media.getBlockBlobClient(`${prefix}media-${j}`).uploadData(randomBytes(4096))));
      const tenantIndex = tenantIds.indexOf(tenantId);
      const contact = hubspot.addContact({ firstname: 'Bench', phone: `+${waId}` });
      const message = hubspot.addPublishedMessage({ channelId: String(7000 + tenantIndex), channelAccountId: String(880000 + tenantIndex), contactId: contact.id, integrationThreadId: subjectHash, phone: `+${waId}`, text: 'bench message' });
      await registry.recordContact(tenantId, subjectHash, { id: contact.id, origin: 'created', matchedBy: ['phone'] }, 86_400);
      await registry.recordThread(tenantId, subjectHash, { id: message.threadId, channelAccountId: String(880000 + tenantIndex) }, 86_400);
    };
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < waIds.length) await seedOne(next++);
    }));
    const seedMs = Math.round(performance.now() - seedStarted);
    console.log(`seeded ${waIds.length} subjects of ${TENANTS} tenants (${waIds.length * 20} documents, ${waIds.length * BLOBS} blobs, ${waIds.length} HubSpot contacts and threads) in ${seedMs} ms`);
    hubspot.requestsPerTenSeconds = LIMIT;
    hubspot.rateLimitWindowMs = WINDOW_MS;

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
          const created = await createPrivacyRequest(deps, { tenantId, subject: { kind: 'waId', value: waId }, type: 'erasure', channel: 'flow', screen: 'PRIVACY' });
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
    const requestsBefore = hubspot.requests.length;
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

    // HubSpot calls of the measured run: per erasure and step, and how full each portal's window was kept.
    const runCalls = hubspot.requests.slice(requestsBefore);
    const kindOf = (r: (typeof runCalls)[number]) =>
      r.path.endsWith('/search') ? 'search' : r.path.endsWith('/gdpr-delete') ? 'gdprDelete' : r.path.endsWith('/batch/read') ? 'batchRead' : r.method === 'DELETE' && r.path.includes('/threads/') ? 'threadArchive' : r.method === 'GET' && r.path.includes('/threads/') ? 'threadRead' : r.method === 'GET' && r.path.includes('/threads') ? 'threadList' : 'other';
    const perKind: Record<string, number> = {};
    for (const r of runCalls) if (r.status !== 429) perKind[kindOf(r)] = (perKind[kindOf(r)] ?? 0) + 1;
    const callsPerErasure = Object.fromEntries(Object.entries(perKind).map(([k, n]) => [k, round2(n / SUBJECTS)]));
    const burstCalls = runCalls.filter((r) => r.counted);
    const burstPerErasure = burstCalls.length / SUBJECTS;
    const tokens = [...new Set(burstCalls.map((r) => r.token!))];
    const perTenant = tokens.map((token) => {
      const times = burstCalls.filter((r) => r.token === token).map((r) => r.at!).sort((a, b) => a - b);
      // The mean number of calls in a 10 s window, over every window inside the run (sampled every 100 ms);
      // a run shorter than one window counts its busiest.
      const busiest = hubspot.maxAcceptedInWindow(token, WINDOW_MS);
      const [first, last] = [times[0]!, times.at(-1)!];
      const counts: number[] = [];
      for (let t = first, i = 0, j = 0; t + WINDOW_MS <= last; t += 100) {
        while (i < times.length && times[i]! < t) i++;
        while (j < times.length && times[j]! < t + WINDOW_MS) j++;
        counts.push(j - i);
      }
      return { achievedPer10s: counts.length > 0 ? counts.reduce((a, b) => a + b, 0) / counts.length : busiest, busiest };
    });
    const achievedPer10s = perTenant.reduce((a, t) => a + t.achievedPer10s, 0) / Math.max(1, perTenant.length);
    const busiestWindow = Math.max(0, ...perTenant.map((t) => t.busiest));
    const boundPerSec = (TENANTS * LIMIT) / (WINDOW_MS / 1000) / burstPerErasure;

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
    const erasuresPerSec = round((outcomes.completed / runMs) * 1000);
    const p50 = round(percentile(latencies, 50));
    const p95 = round(percentile(latencies, 95));
    const p99 = round(percentile(latencies, 99));
    const completionRate = outcomes.completed / SUBJECTS;
    console.log(`erased ${outcomes.completed}/${SUBJECTS} at concurrency ${CONCURRENCY} in ${Math.round(runMs)} ms (${round((outcomes.completed / runMs) * 1000)} erasures/s); failed ${outcomes.failed}, timed out ${outcomes.timedOut}`);
    console.log(`request -> verified completion: p50 ${p50} ms, p95 ${p95} ms, p99 ${p99} ms, max ${round(latencies.at(-1) ?? NaN)} ms (seed's bar: < ${SEED_BAR_MS} ms, > 99.9% completed)`);
    const openThreads = hubspot.openThreads().length;
    console.log(`left behind: ${leftDocs[0] ?? '?'} documents, ${leftBlobs} blobs, ${hubspot.contacts.size} HubSpot contacts, ${openThreads} open threads, ${hubspot.conversationMessages.size} messages; HubSpot: ${searches} search calls for ${SUBJECTS} look-ups, ${rateLimited} answered 429`);
    console.log(`HubSpot calls per erasure: ${JSON.stringify(callsPerErasure)}; ${round2(burstPerErasure)} against the burst limit (searches have their own)`);
    console.log(`portal window: ${round(achievedPer10s)} calls per 10 s achieved beside a limit of ${LIMIT} (ratio ${round2(achievedPer10s / LIMIT)}; busiest 10 s window ${busiestWindow}); ${erasuresPerSec} erasures/s beside the bound the limit allows, ${round2(boundPerSec)}/s (${TENANTS} x ${LIMIT} / 10 s / ${round2(burstPerErasure)} calls)`);
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
        erasuresPerSec,
        erasuresPerSecBound: round2(boundPerSec),
        hubspotCallsPerErasure: round2(burstPerErasure),
        hubspotCallsPer10s: round(achievedPer10s),
        hubspotLimitPer10s: LIMIT,
        hubspotWindowRatio: round2(achievedPer10s / LIMIT),
        hubspotBusiestWindow: busiestWindow,
        leftovers: { documents: leftDocs[0] ?? null, blobs: leftBlobs, hubspotContacts: hubspot.contacts.size, hubspotOpenThreads: openThreads, hubspotMessages: hubspot.conversationMessages.size },
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
