import { z } from 'zod';
import type { AuditEventInput } from '../audit/auditLog';
import type { Clock } from '../domain/clock';
import type { TenantId } from '../domain/ids';
import type { Telemetry } from '../telemetry/telemetry';
import type { Retention } from '../tenants/tenant';
import { sweepBlobPrefix, type BlobOperations, type BlobSweepCounts, type BlobSweepTarget } from './blobSweep';
import type { TimeBudget } from './budget';
import type { CheckpointData, CheckpointStore } from './checkpoints';
import { sweepExpiredDocuments, type ExpiredDocumentSource } from './expiredDocuments';

/**
 * The nightly retention sweep: what Cosmos TTL cannot do.
 * - media blobs past the tenant's `mediaDays` (by creation time), snapshots and versions included;
 * - access exports past `exportDays`;
 * - expired markers (seen-message idempotency keys and other markers with an `expiresAt`);
 * - subject documents past their `expiresAt` whose TTL was lost or is not honoured.
 * Tombstones and suppressions are never swept: they hold keyed hashes only and are what lets every
 * erasure be re-applied after a backup restore, and keeps an opted-out person from being messaged again.
 *
 * Tenant by tenant, phase by phase, page by page, with a checkpoint after every page; an invocation stops
 * when its time budget is spent and the next one resumes where it stopped. A tenant that fails is
 * reported and retried, without holding up the others. Each tenant's removals are reported once, as one
 * audit event with counts only.
 */
export interface RetentionSweepPorts {
  tenants: { list(): Promise<{ id: TenantId; retention: Retention }[]> };
  media: BlobSweepTarget;
  exports: BlobSweepTarget;
  markers: ExpiredDocumentSource;
  subjects: ExpiredDocumentSource;
  checkpoints: CheckpointStore;
  audit: { record(input: AuditEventInput): Promise<unknown> };
  telemetry: Telemetry;
  clock: Clock;
}

export interface RetentionSweepOptions {
  budget: TimeBudget;
  /** Blob listing page size (Azure allows up to 5000). */
  blobPageSize?: number;
  /** Cosmos documents per query page. */
  documentPageSize?: number;
  /** Deletes in flight at once. */
  concurrency?: number;
}

/** Blob access exports: one container, one prefix per tenant (a subject's exports are `<tenantId>/<subject-hash>/<requestId>.json`). */
export function tenantExportsPrefix(tenantId: TenantId): string {
  return `${tenantId}/`;
}

export const SWEEP_PHASES = ['media', 'exports', 'markers', 'subjects'] as const;
export type SweepPhase = (typeof SWEEP_PHASES)[number];

/** What one tenant's sweep removed: counts only, the details of the audit event. */
export interface RemovedCounts {
  mediaBlobs: number;
  mediaSnapshots: number;
  exports: number;
  exportSnapshots: number;
  markers: number;
  subjectDocuments: number;
  contacts: number;
  flowResponses: number;
  messages: number;
  mediaRefs: number;
  consents: number;
}

export interface SweepOperations extends BlobOperations {
  queries: number;
  checkpointWrites: number;
}

export interface RetentionSweepResult {
  /** `paused`: the time budget ran out; `incomplete`: a tenant failed and is retried at the next invocation. */
  status: 'completed' | 'paused' | 'incomplete';
  runStartedAt: string;
  /** True when this invocation continued a run that an earlier one left unfinished. */
  resumed: boolean;
  /** Tenants whose sweep finished in this invocation. */
  tenants: { tenantId: TenantId; removed: RemovedCounts }[];
  /** Tenants whose sweep failed in this invocation (reported as `retention.sweep.failed`, never skipped silently). */
  failures: { tenantId: TenantId; phase: SweepPhase; failures: number; error: string }[];
  operations: SweepOperations;
  durationMs: number;
}

/** Checkpoint keys: the run's under `system`, each tenant's under its id (distinct keys, so a tenant named "system" is harmless). */
export const RUN_CHECKPOINT_KEY = 'retention-sweep-run';
export const TENANT_CHECKPOINT_KEY = 'retention-sweep';

const runCheckpoint = z.object({ startedAt: z.string(), tenantCursor: z.string(), retry: z.string().default('') });

const tenantCheckpoint = z.object({
  runStartedAt: z.string(),
  phase: z.enum(SWEEP_PHASES),
  continuationToken: z.string(),
  handledName: z.string(),
  startedAt: z.string(),
  failures: z.number().int().min(0).default(0),
});

const COUNT_PREFIX = 'n:';

export async function runRetentionSweep(ports: RetentionSweepPorts, options: RetentionSweepOptions): Promise<RetentionSweepResult> {
  const { budget } = options;
  const { telemetry } = ports;
  const operations: SweepOperations = { listPages: 0, listedEntries: 0, deletes: 0, queries: 0, checkpointWrites: 0 };
  const saved = runCheckpoint.safeParse(await ports.checkpoints.get('system', RUN_CHECKPOINT_KEY));
  const resumed = saved.success;
  const run = saved.success ? saved.data : { startedAt: ports.clock.now().toISOString(), tenantCursor: '', retry: '' };
  const retry = new Set(run.retry.split(',').filter(Boolean));
  const saveRun = async (): Promise<void> => {
    operations.checkpointWrites += 1;
    await ports.checkpoints.put('system', RUN_CHECKPOINT_KEY, { ...run, retry: [...retry].join(',') });
  };

  // A new run is recorded before any work, so a crash in its first tenant resumes this run, not a new one.
  if (!resumed) await saveRun();

  // Tenants that failed earlier in this run come first, then those after the cursor, in id order.
  const all = (await ports.tenants.list()).sort((a, b) => (a.id < b.id ? -1 : 1));
  const queue = [...all.filter((t) => retry.has(t.id) && t.id <= run.tenantCursor), ...all.filter((t) => t.id > run.tenantCursor)];
  for (const id of retry) if (!all.some((t) => t.id === id)) retry.delete(id); // a tenant removed meanwhile
  const finished: RetentionSweepResult['tenants'] = [];
  const failures: RetentionSweepResult['failures'] = [];
  let paused = false;
  for (const [index, tenant] of queue.entries()) {
    // Every invocation finishes at least one page, so a tight budget still makes progress.
    if (index > 0 && budget.exhausted()) {
      paused = true;
      break;
    }
    try {
      const outcome = await sweepTenant(ports, tenant, run.startedAt, options, operations);
      if (!outcome.done) {
        paused = true;
        break;
      }
      retry.delete(tenant.id);
      finished.push({ tenantId: tenant.id, removed: outcome.removed });
    } catch (error) {
      // One tenant's failure (a Blob 500, a throttled query) does not stop the others: it is reported, and
      // retried from its checkpoint at the next invocation, up to MAX_TENANT_FAILURES times in a run.
      if (!(error instanceof TenantSweepFailed)) throw error;
      const failure = { tenantId: tenant.id, phase: error.phase, failures: error.failures, error: errorClass(error.cause) };
      failures.push(failure);
      telemetry.event('retention.sweep.failed', failure);
      if (error.failures < MAX_TENANT_FAILURES) retry.add(tenant.id);
      else {
        retry.delete(tenant.id);
        await ports.audit.record({ tenantId: tenant.id, type: 'retention.sweep.failed', actor: 'system', details: { runStartedAt: run.startedAt, phase: error.phase, failures: error.failures, error: failure.error } });
        await ports.checkpoints.delete(tenant.id, TENANT_CHECKPOINT_KEY);
      }
    }
    if (tenant.id > run.tenantCursor) run.tenantCursor = tenant.id;
    await saveRun();
  }

  const status: RetentionSweepResult['status'] = paused ? 'paused' : retry.size > 0 ? 'incomplete' : 'completed';
  if (status === 'completed') await ports.checkpoints.delete('system', RUN_CHECKPOINT_KEY);
  else await saveRun();

  const durationMs = budget.elapsedMs();
  telemetry.event(`retention.sweep.${status}`, { runStartedAt: run.startedAt, resumed, tenants: finished.length, failed: failures.length, durationMs });
  telemetry.metric('retention.sweep.duration_ms', durationMs, { status });
  telemetry.metric('retention.sweep.list_pages', operations.listPages);
  telemetry.metric('retention.sweep.deletes', operations.deletes);
  telemetry.metric('retention.sweep.queries', operations.queries);
  return { status, runStartedAt: run.startedAt, resumed, tenants: finished, failures, operations, durationMs };
}

/** Invocations in one run a tenant may fail before the run gives up on it (audited as retention.sweep.failed). */
export const MAX_TENANT_FAILURES = 3;

class TenantSweepFailed extends Error {
  constructor(
    readonly phase: SweepPhase,
    readonly failures: number,
    override readonly cause: unknown,
  ) {
    super(`retention sweep failed in phase ${phase}`);
    this.name = 'TenantSweepFailed';
  }
}

/** What failed, in words that hold no data: the error class and a status code if there is one. */
function errorClass(error: unknown): string {
  const e = error as { name?: unknown; statusCode?: unknown; code?: unknown };
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const status = typeof e.statusCode === 'number' ? e.statusCode : typeof e.code === 'number' ? e.code : undefined;
  return status === undefined ? name : `${name} ${status}`;
}

interface TenantState {
  phase: SweepPhase;
  failures: number;
  continuationToken: string;
  handledName: string;
  startedAt: string;
  media: BlobSweepCounts;
  exports: BlobSweepCounts;
  markers: Record<string, number>;
  subjects: Record<string, number>;
}

async function sweepTenant(
  ports: RetentionSweepPorts,
  tenant: { id: TenantId; retention: Retention },
  runStartedAt: string,
  options: RetentionSweepOptions,
  operations: SweepOperations,
): Promise<{ done: false } | { done: true; removed: RemovedCounts }> {
  const state = readTenantState(await ports.checkpoints.get(tenant.id, TENANT_CHECKPOINT_KEY), runStartedAt) ?? freshState(ports.clock.now());
  const save = async (): Promise<void> => {
    operations.checkpointWrites += 1;
    await ports.checkpoints.put(tenant.id, TENANT_CHECKPOINT_KEY, writeTenantState(state, runStartedAt));
  };
  const now = ports.clock.now();
  const blobPageSize = options.blobPageSize ?? 1000;
  const documentPageSize = options.documentPageSize ?? 100;
  const concurrency = options.concurrency ?? 16;

  const runPhases = async (): Promise<boolean> => {
    for (const phase of SWEEP_PHASES.slice(SWEEP_PHASES.indexOf(state.phase))) {
      if (phase !== state.phase) {
        Object.assign(state, { phase, continuationToken: '', handledName: '' });
        await save();
      }
      let done: boolean;
      if (phase === 'media' || phase === 'exports') {
        const outcome = await sweepBlobPrefix({
          target: phase === 'media' ? ports.media : ports.exports,
          prefix: phase === 'media' ? `${tenant.id}/` : tenantExportsPrefix(tenant.id),
          retentionDays: phase === 'media' ? tenant.retention.mediaDays : tenant.retention.exportDays,
          now,
          cursor: { continuationToken: state.continuationToken, handledName: state.handledName },
          budget: options.budget,
          pageSize: blobPageSize,
          concurrency,
          counts: state[phase],
          operations,
          saveProgress: async (cursor) => {
            Object.assign(state, cursor);
            await save();
          },
        });
        done = outcome.done;
      } else {
        const outcome = await sweepExpiredDocuments({
          source: phase === 'markers' ? ports.markers : ports.subjects,
          tenantId: tenant.id,
          now,
          budget: options.budget,
          pageSize: documentPageSize,
          concurrency,
          counts: state[phase],
          operations,
          saveProgress: save,
        });
        done = outcome.done;
      }
      if (!done) return false;
    }
    return true;
  };
  let done: boolean;
  try {
    done = await runPhases();
  } catch (error) {
    state.failures += 1;
    await save().catch(() => undefined); // best effort: the store that failed may be the checkpoint's own
    throw new TenantSweepFailed(state.phase, state.failures, error);
  }
  if (!done) return { done: false };

  const removed = removedCounts(state);
  await ports.audit.record({
    tenantId: tenant.id,
    type: 'retention.sweep.completed',
    actor: 'system',
    details: { runStartedAt, ...removed },
  });
  const stores: [string, number][] = [
    ['media', removed.mediaBlobs],
    ['mediaSnapshots', removed.mediaSnapshots],
    ['exports', removed.exports + removed.exportSnapshots],
    ['markers', removed.markers],
    ['subjects', removed.subjectDocuments],
  ];
  for (const [store, value] of stores) ports.telemetry.metric('retention.sweep.removed', value, { tenantId: tenant.id, store });
  await ports.checkpoints.delete(tenant.id, TENANT_CHECKPOINT_KEY);
  return { done: true, removed };
}

function freshState(now: Date): TenantState {
  return {
    phase: 'media',
    failures: 0,
    continuationToken: '',
    handledName: '',
    startedAt: now.toISOString(),
    media: { blobs: 0, snapshots: 0 },
    exports: { blobs: 0, snapshots: 0 },
    markers: {},
    subjects: {},
  };
}

/** A tenant checkpoint of this run, or undefined (none, unreadable, or left by an abandoned earlier run). */
function readTenantState(data: CheckpointData | undefined, runStartedAt: string): TenantState | undefined {
  const parsed = tenantCheckpoint.safeParse(data);
  if (!parsed.success || parsed.data.runStartedAt !== runStartedAt || !data) return undefined;
  const count = (key: string): number => {
    const value = data[`${COUNT_PREFIX}${key}`];
    return typeof value === 'number' ? value : 0;
  };
  const group = (prefix: string): Record<string, number> =>
    Object.fromEntries(
      Object.entries(data)
        .filter(([key, value]) => key.startsWith(`${COUNT_PREFIX}${prefix}.`) && typeof value === 'number')
        .map(([key, value]) => [key.slice(COUNT_PREFIX.length + prefix.length + 1), value as number]),
    );
  const { phase, failures, continuationToken, handledName, startedAt } = parsed.data;
  return {
    phase,
    failures,
    continuationToken,
    handledName,
    startedAt,
    media: { blobs: count('media.blobs'), snapshots: count('media.snapshots') },
    exports: { blobs: count('exports.blobs'), snapshots: count('exports.snapshots') },
    markers: group('markers'),
    subjects: group('subjects'),
  };
}

function writeTenantState(state: TenantState, runStartedAt: string): CheckpointData {
  const counts: CheckpointData = {};
  for (const group of ['media', 'exports', 'markers', 'subjects'] as const) {
    for (const [key, value] of Object.entries(state[group])) counts[`${COUNT_PREFIX}${group}.${key}`] = value;
  }
  return {
    runStartedAt,
    phase: state.phase,
    failures: state.failures,
    continuationToken: state.continuationToken,
    handledName: state.handledName,
    startedAt: state.startedAt,
    ...counts,
  };
}

const SUBJECT_COUNT_FIELDS = {
  contact: 'contacts',
  flowResponse: 'flowResponses',
  message: 'messages',
  mediaRef: 'mediaRefs',
  consent: 'consents',
} as const satisfies Record<string, keyof RemovedCounts>;

function removedCounts(state: TenantState): RemovedCounts {
  const sum = (values: Record<string, number>): number => Object.values(values).reduce((a, b) => a + b, 0);
  const removed: RemovedCounts = {
    mediaBlobs: state.media.blobs,
    mediaSnapshots: state.media.snapshots,
    exports: state.exports.blobs,
    exportSnapshots: state.exports.snapshots,
    markers: sum(state.markers),
    subjectDocuments: sum(state.subjects),
    contacts: 0,
    flowResponses: 0,
    messages: 0,
    mediaRefs: 0,
    consents: 0,
  };
  for (const [type, field] of Object.entries(SUBJECT_COUNT_FIELDS)) removed[field] = state.subjects[type] ?? 0;
  return removed;
}
