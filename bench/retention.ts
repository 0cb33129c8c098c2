/**
 * npm run bench:retention: the retention sweep over 10,000 media blobs on Azurite (100,000 with
 * `npm run bench:retention:full`, which takes over 15 minutes: Azurite's cost per operation grows with the
 * store), with 1% and with 10% expired, to show that its cost follows what expired.
 *
 * One upload serves both measurements (uploading to Azurite is the slow part, see docs/retention.md):
 * N + N/100 tiny blobs across 10 tenants (N = 10,000 by default), N/100 of them 50 days old, N/10 40 days
 * old, the rest 1 day old.
 *   1. mediaDays 45: the N/100 oldest expire (1% of the store);
 *   2. mediaDays 45 again: nothing expires, so this is the listing alone (the baseline: the cost that
 *      does not follow expiry);
 *   3. mediaDays 30: the N/10 of 40 days expire (10% of the N left).
 * After each sweep the store is counted to check that exactly the expired blobs are gone. Setup time is
 * reported separately. The result is the last line, one JSON object.
 *
 * Environment: BENCH_BLOBS (store size N, default 10000, or 100000 with `--full`), BENCH_CONCURRENCY
 * (uploads in flight, default 64).
 */
import { createHash } from 'node:crypto';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { startAzurite } from '../local/emulators';
import { type TenantId } from '../shared/domain';
import { runRetentionSweep, timeBudget, type BlobSweepTarget, type ExpiredDocumentSource, type RetentionSweepResult } from '../shared/retention';
import { retentionSchema } from '../shared/tenants';
import { blobSweepTarget } from '../shared/storage';
import { InMemoryCheckpoints, ManualClock, RecordingTelemetry } from '../test/doubles';

const STORE = Number(process.env.BENCH_BLOBS ?? (process.argv.includes('--full') ? 100_000 : 10_000));
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const ONE_PERCENT = Math.round(STORE / 100);
const TOTAL = STORE + ONE_PERCENT;
const TENANTS = 10;
const BLOBS_PER_SUBJECT = 10;
const DAY_MS = 86_400_000;
const now = new Date();

const tenantIds = Array.from({ length: TENANTS }, (_, i) => `bench-tenant-${String(i).padStart(2, '0')}` as TenantId);

/** Blob i: tenant, subject (a keyed-hash-like hex name) and media id, spread evenly. */
function blobName(i: number): string {
  const tenant = tenantIds[i % TENANTS]!;
  const subject = createHash('sha256').update(`subject-${Math.floor(i / BLOBS_PER_SUBJECT)}`).digest('hex');
  return `${tenant}/${subject}/${1_000_000_000_000 + i}`;
}

/** Ages spread through the store: every 101st blob is 50 days old, every 10th of the others 40 days. */
function ageDays(i: number): number {
  if (i % 101 === 0) return 50;
  const rest = i - Math.floor(i / 101) - 1;
  return rest % 10 === 0 ? 40 : 1;
}

async function upload(container: ContainerClient): Promise<{ ms: number; ages: Map<number, number> }> {
  const started = performance.now();
  const ages = new Map<number, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < TOTAL) {
      const i = next++;
      const age = ageDays(i);
      ages.set(age, (ages.get(age) ?? 0) + 1);
      const createdat = new Date(now.getTime() - age * DAY_MS).toISOString();
      await container.getBlockBlobClient(blobName(i)).upload('x', 1, { metadata: { createdat } });
      if (i > 0 && i % 10_000 === 0) console.log(`  uploaded ${i} (${Math.round(performance.now() - started)} ms)`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { ms: Math.round(performance.now() - started), ages };
}

async function count(container: ContainerClient): Promise<number> {
  let n = 0;
  for await (const page of container.listBlobsFlat().byPage({ maxPageSize: 5000 })) n += page.segment.blobItems.length;
  return n;
}

/** Time spent waiting for list calls (sequential, so their sum is wall time). */
function timed(target: BlobSweepTarget, times: { listMs: number }): BlobSweepTarget {
  return {
    listPage: async (prefix, options) => {
      const started = performance.now();
      try {
        return await target.listPage(prefix, options);
      } finally {
        times.listMs += performance.now() - started;
      }
    },
    deleteEntry: (entry) => target.deleteEntry(entry),
  };
}

const noDocuments: ExpiredDocumentSource = { findExpired: async () => [], delete: async () => 'gone' };

interface Sweep {
  ms: number;
  listMs: number;
  listPages: number;
  listedEntries: number;
  deletes: number;
  left: number;
}

async function sweep(container: ContainerClient, mediaDays: number, expectedLeft: number, label: string): Promise<Sweep> {
  const times = { listMs: 0 };
  const result: RetentionSweepResult = await runRetentionSweep(
    {
      tenants: { list: async () => tenantIds.map((id) => ({ id, retention: retentionSchema.parse({ mediaDays }) })) },
      media: timed(blobSweepTarget(container), times),
      // Exports live in another container; an empty one keeps this run about media.
      exports: { listPage: async () => ({ items: [] }), deleteEntry: async () => false },
      markers: noDocuments,
      subjects: noDocuments,
      checkpoints: new InMemoryCheckpoints(),
      audit: { record: async () => undefined },
      telemetry: new RecordingTelemetry(),
      clock: new ManualClock(now),
    },
    { budget: timeBudget(4 * 3_600_000) },
  );
  const left = await count(container);
  const listMs = Math.round(times.listMs);
  console.log(
    `${label}: ${result.durationMs} ms (${listMs} ms waiting for list calls), ${result.operations.listPages} list pages, ` +
      `${result.operations.listedEntries} entries listed, ${result.operations.deletes} deletes; ${left} blobs left (expected ${expectedLeft})`,
  );
  if (left !== expectedLeft || result.status !== 'completed') throw new Error(`${label}: the sweep did not delete exactly the expired blobs`);
  const { listPages, listedEntries, deletes } = result.operations;
  return { ms: result.durationMs, listMs, listPages, listedEntries, deletes, left };
}

async function main(): Promise<void> {
  const azurite = await startAzurite({ inMemory: true });
  try {
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('media');
    await container.createIfNotExists();
    console.log(`uploading ${TOTAL} blobs (${CONCURRENCY} in flight) to Azurite`);
    const setup = await upload(container);
    console.log(`setup: ${setup.ms} ms (${Math.round((TOTAL / setup.ms) * 1000)} uploads/s); ages in days: ${JSON.stringify(Object.fromEntries(setup.ages))}`);
    const old = setup.ages.get(50) ?? 0;
    const middle = setup.ages.get(40) ?? 0;

    const one = await sweep(container, 45, TOTAL - old, `sweep 1, ${old} of ${TOTAL} expired (${((old / TOTAL) * 100).toFixed(2)}%)`);
    const baseline = await sweep(container, 45, TOTAL - old, 'sweep 2, nothing expired (listing only)');
    const ten = await sweep(container, 30, TOTAL - old - middle, `sweep 3, ${middle} of ${TOTAL - old} expired (${((middle / (TOTAL - old)) * 100).toFixed(2)}%)`);

    console.log(
      JSON.stringify({
        bench: 'retention',
        blobs: TOTAL - old,
        sweepMs1pct: one.ms,
        deletes1pct: one.deletes,
        listPages1pct: one.listPages,
        listMs1pct: one.listMs,
        sweepMs10pct: ten.ms,
        deletes10pct: ten.deletes,
        listPages10pct: ten.listPages,
        listMs10pct: ten.listMs,
        baselineListOnlyMs: baseline.ms,
        baselineListPages: baseline.listPages,
        ratio: Number((ten.ms / one.ms).toFixed(2)),
        deleteRatio: Number((ten.deletes / one.deletes).toFixed(2)),
        msPerDelete1pct: Number(((one.ms - one.listMs) / one.deletes).toFixed(2)),
        msPerDelete10pct: Number(((ten.ms - ten.listMs) / ten.deletes).toFixed(2)),
        setupMs: setup.ms,
      }),
    );
  } finally {
    await azurite.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
