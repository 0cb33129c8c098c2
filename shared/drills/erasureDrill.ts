import { randomInt, randomUUID } from 'node:crypto';
import type { AuditEventInput } from '../audit/auditLog';
import { hashSubject } from '../crypto/subjectKeys';
import type { Clock } from '../domain/clock';
import { normaliseWaId, type SubjectHash, type TenantId, type WaId } from '../domain/ids';
import { createPrivacyRequest, type PrivacyDeps, type PrivacyRequestDocument } from '../privacy';
import type { Telemetry } from '../telemetry/telemetry';
import type { Tenant } from '../tenants/tenant';

/**
 * The erasure drill: what the seed asks of a business ("run periodic tests to confirm that a deletion
 * request successfully purges data from all connected services"), done by the app itself. A synthetic
 * subject is written to every store the tenant uses, through the app's own adapters; it is erased through
 * the normal path (a privacy request, the queues, every store's eraser, the verification); then the drill
 * looks for anything left and records the outcome and the latency. Nothing of it stays: the stores are
 * emptied, the tombstone removed, and the request and audit events are marked `drill` so no figure counts
 * them.
 *
 * The synthetic subject is never a real person: its number is in +999, a country code the ITU has not
 * assigned (reserved), as `9990000` and eight random digits, and one whose number already has a contact
 * or a tombstone is never used.
 */
export const DRILL_EVENTS = {
  /** The drill erased and verified everything in time (dimensions: tenantId, drillId, latencyMs). */
  passed: 'privacy.drill.passed',
  /** Something was left, the request failed, or a store could not be written (+ reason, store). The alert's. */
  failed: 'privacy.drill.failed',
  /** Erased and verified, but slower than the target (+ targetMs). The alert's. */
  slow: 'privacy.drill.slow',
} as const;
/** Each drill's latency, planting to verified (dimensions: tenantId, outcome). */
export const DRILL_LATENCY_METRIC = 'privacy.drill.latency_ms';
export const DRILL_AUDIT_TYPE = 'privacy.drill.completed';
export const DRILL_ACTOR = 'erasure-drill';
/** The reserved country code and the prefix of every synthetic subject's number. */
export const DRILL_NUMBER_PREFIX = '9990000';

export interface DrillSubject {
  tenantId: TenantId;
  waId: WaId;
  subjectHash: SubjectHash;
  /** Where the drill's planted data is tagged, so a store's own figures can tell it apart. */
  drillId: string;
}

/** The stores, as the drill sees them: written through the app's adapters (shared/runtime/drillStores.ts). */
export interface DrillStores {
  /** Writes the subject to every store the tenant uses; returns their names. */
  plant(tenant: Tenant, subject: DrillSubject): Promise<string[]>;
  /** What is left of the subject, per store (0 everywhere when the erasure worked). */
  leftovers(tenant: Tenant, subject: DrillSubject): Promise<Record<string, number>>;
  /** Removes whatever the drill left: planted data a failed erasure did not reach, and the tombstone. */
  remove(tenant: Tenant, subject: DrillSubject): Promise<void>;
  /** Whether this number is taken (a contact or a tombstone): such a number is never used. */
  taken(tenant: Tenant, subject: DrillSubject): Promise<boolean>;
}

export interface DrillPorts {
  privacy: PrivacyDeps;
  stores: DrillStores;
  audit: { record(input: AuditEventInput): Promise<unknown> };
  telemetry: Telemetry;
  clock: Clock;
  sleep(ms: number): Promise<void>;
  /** Longer than this is `slow`. */
  targetMs: number;
  /** The drill stops waiting for the request after this long: `failed`. */
  timeoutMs: number;
  pollMs?: number;
}

export type DrillOutcome = 'passed' | 'failed' | 'slow';

export interface DrillResult {
  tenantId: TenantId;
  drillId: string;
  outcome: DrillOutcome;
  latencyMs: number;
  targetMs: number;
  /** The stores the synthetic subject was written to. */
  stores: string[];
  requestId?: string;
  /** Why it failed: a store and an error class, or what was left: ids and counts only. */
  reason?: string;
  leftovers: Record<string, number>;
}

export async function runErasureDrill(ports: DrillPorts, tenantId: TenantId): Promise<DrillResult | { kind: 'unknown-tenant' }> {
  const tenant = await ports.privacy.tenants.get(tenantId);
  if (!tenant) return { kind: 'unknown-tenant' };
  const drillId = `drill-${randomUUID()}`;
  const subject = await syntheticSubject(ports, tenant, drillId);
  const started = ports.clock.now().getTime();
  let stores: string[] = [];
  let request: PrivacyRequestDocument | undefined;
  let requestId: string | undefined;
  let reason: string | undefined;
  let leftovers: Record<string, number> = {};
  try {
    stores = await ports.stores.plant(tenant, subject);
    const created = await createPrivacyRequest(ports.privacy, { tenantId, subject: { kind: 'waId', value: subject.waId }, type: 'erasure', channel: 'admin', actor: DRILL_ACTOR, drill: true });
    if (created.kind === 'unknown-tenant') throw new Error('the tenant disappeared during the drill');
    requestId = created.request.id;
    request = await settled(ports, requestId);
    leftovers = await ports.stores.leftovers(tenant, subject);
    if (!request) reason = `the erasure did not finish within ${Math.round(ports.timeoutMs / 1000)} s`;
    else if (request.status === 'failed') reason = `the erasure failed at ${request.failure?.store ?? 'a store'}`;
    const left = Object.entries(leftovers).filter(([, n]) => n > 0);
    if (!reason && left.length > 0) reason = `left after the erasure: ${left.map(([store, n]) => `${store} ${n}`).join(', ')}`;
  } catch (error) {
    reason = `the drill could not run (${error instanceof Error ? error.name : 'error'})`;
  }
  const latencyMs = ports.clock.now().getTime() - started;
  // Nothing of the drill stays, whatever happened: planted data a failed erasure missed, the tombstone.
  try {
    await ports.stores.remove(tenant, subject);
  } catch (error) {
    reason ??= `the drill's data could not be removed (${error instanceof Error ? error.name : 'error'})`;
  }

  const outcome: DrillOutcome = reason ? 'failed' : latencyMs > ports.targetMs ? 'slow' : 'passed';
  const failedStore = request?.status === 'failed' ? request.failure?.store : Object.entries(leftovers).find(([, n]) => n > 0)?.[0];
  // One JSON line per drill; the alert (alerts.bicep, erasure-drill-failed) reads the failed and slow ones.
  const line = { tenantId, drillId, latencyMs };
  if (outcome === 'failed') ports.telemetry.event(DRILL_EVENTS.failed, { ...line, ...(failedStore ? { store: failedStore } : {}) });
  else if (outcome === 'slow') ports.telemetry.event(DRILL_EVENTS.slow, { ...line, targetMs: ports.targetMs });
  else ports.telemetry.event(DRILL_EVENTS.passed, line);
  ports.telemetry.metric(DRILL_LATENCY_METRIC, latencyMs, { tenantId, outcome });
  await ports.audit.record({
    tenantId,
    type: DRILL_AUDIT_TYPE,
    actor: DRILL_ACTOR,
    ...(requestId ? { requestId } : {}),
    idempotencyKey: drillId,
    details: { drill: true, outcome, latencyMs, targetMs: ports.targetMs, stores: stores.join(','), ...(reason ? { reason } : {}) },
  });
  return { tenantId, drillId, outcome, latencyMs, targetMs: ports.targetMs, stores, ...(requestId ? { requestId } : {}), ...(reason ? { reason } : {}), leftovers };
}

/** Every tenant that opted in, one after the other (a drill loads every store a little). */
export async function runScheduledDrills(ports: DrillPorts): Promise<DrillResult[]> {
  const results: DrillResult[] = [];
  for (const tenant of await ports.privacy.tenants.list()) {
    if (!tenant.drills?.enabled || tenant.cancelledAt) continue;
    const result = await runErasureDrill(ports, tenant.id);
    if ('outcome' in result) results.push(result);
  }
  return results;
}

async function syntheticSubject(ports: DrillPorts, tenant: Tenant, drillId: string): Promise<DrillSubject> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const waId = normaliseWaId(`${DRILL_NUMBER_PREFIX}${String(randomInt(0, 100_000_000)).padStart(8, '0')}`)!;
    const subject = { tenantId: tenant.id, waId, subjectHash: await hashSubject(ports.privacy.secrets, tenant.id, waId), drillId };
    if (!(await ports.stores.taken(tenant, subject))) return subject;
  }
  throw new Error('no free synthetic number after 5 tries');
}

async function settled(ports: DrillPorts, requestId: string): Promise<PrivacyRequestDocument | undefined> {
  const deadline = ports.clock.now().getTime() + ports.timeoutMs;
  for (;;) {
    const doc = await ports.privacy.requests.get(requestId);
    if (doc && (doc.status === 'completed' || doc.status === 'failed')) return doc;
    if (ports.clock.now().getTime() >= deadline) return undefined;
    await ports.sleep(ports.pollMs ?? 250);
  }
}
