import { z } from 'zod';
import type { AuditEventInput } from '../audit/auditLog';
import type { Clock } from '../domain/clock';
import { tenantIdSchema, type TenantId } from '../domain/ids';
import type { MarkerStore } from '../markers/markerStore';
import type { Telemetry } from '../telemetry/telemetry';

const DAY_MS = 86_400_000;

/**
 * Deadline watch: a privacy request that is not completed within `alertDays` of its legal due date
 * raises an alert an operator cannot miss:
 * - telemetry event `privacy.request.overdue` {tenantId, requestId, type, status, dueAt, daysLeft} on every
 *   run while the request stays open (the Azure Monitor alert rule queries this event name);
 * - metrics `privacy.requests.at_risk` and `privacy.requests.past_due` per tenant (0 for a tenant with
 *   none, so a metric alert sees the series);
 * - one audit event per request and stage (`privacy.request.deadline-at-risk`, then
 *   `privacy.request.deadline-missed` once the due date passed), not one per run: a marker remembers it.
 * Re-driving a stuck request is the reconciler's job (shared/privacy); this only makes it visible.
 */

/** The fields the watch reads from a privacy request document, and nothing else (no subject, not even hashed). */
export const watchedRequestSchema = z.object({
  id: z.string().min(1),
  tenantId: tenantIdSchema,
  type: z.string().min(1),
  status: z.string().min(1),
  dueAt: z.iso.datetime({ offset: true }),
  receivedAt: z.iso.datetime({ offset: true }).optional(),
});
export type WatchedRequest = z.infer<typeof watchedRequestSchema>;

export interface RequestDeadlineSource {
  /** Documents of requests not completed whose `dueAt` is at or before `dueBefore`, a page at a time. */
  openDueBefore(dueBefore: Date, pageSize: number): AsyncIterable<unknown[]>;
}

export interface DeadlineWatchPorts {
  requests: RequestDeadlineSource;
  tenants: { list(): Promise<{ id: TenantId }[]> };
  markers: Pick<MarkerStore, 'claim'>;
  audit: { record(input: AuditEventInput): Promise<unknown> };
  telemetry: Telemetry;
  clock: Clock;
}

export interface AtRiskRequest {
  tenantId: TenantId;
  requestId: string;
  type: string;
  status: string;
  dueAt: string;
  daysLeft: number;
  pastDue: boolean;
}

export interface DeadlineWatchResult {
  atRisk: AtRiskRequest[];
  /** Audit events written in this run (a request is audited once per stage). */
  audited: number;
  /** Documents the watch could not read (reported by id only); they are not silently skipped. */
  unreadable: number;
}

/** How long the "already audited" marker lives: past the longest legal deadline (GDPR 3 months, CCPA 90 days). */
const ALERT_MARKER_TTL_SECONDS = 120 * 86_400;

export async function watchDeadlines(
  ports: DeadlineWatchPorts,
  options: { alertDays: number; pageSize?: number },
): Promise<DeadlineWatchResult> {
  const now = ports.clock.now();
  const dueBefore = new Date(now.getTime() + options.alertDays * DAY_MS);
  const atRisk: AtRiskRequest[] = [];
  let audited = 0;
  let unreadable = 0;

  for await (const page of ports.requests.openDueBefore(dueBefore, options.pageSize ?? 100)) {
    for (const raw of page) {
      const parsed = watchedRequestSchema.safeParse(raw);
      if (!parsed.success) {
        unreadable += 1;
        const id = (raw as { id?: unknown }).id;
        ports.telemetry.event('privacy.request.unreadable', {
          requestId: typeof id === 'string' ? id : undefined,
          fields: [...new Set(parsed.error.issues.map((i) => i.path.join('.')))].join(','),
        });
        continue;
      }
      const request = parsed.data;
      const due = new Date(request.dueAt);
      const daysLeft = Math.floor((due.getTime() - now.getTime()) / DAY_MS);
      const pastDue = due.getTime() <= now.getTime();
      atRisk.push({ tenantId: request.tenantId, requestId: request.id, type: request.type, status: request.status, dueAt: request.dueAt, daysLeft, pastDue });
      ports.telemetry.event('privacy.request.overdue', {
        tenantId: request.tenantId,
        requestId: request.id,
        type: request.type,
        status: request.status,
        dueAt: request.dueAt,
        daysLeft,
      });
      const stage = pastDue ? 'deadline-missed' : 'deadline-at-risk';
      if (await ports.markers.claim('checkpoint', request.tenantId, `${stage}:${request.id}`, ALERT_MARKER_TTL_SECONDS)) {
        await ports.audit.record({
          tenantId: request.tenantId,
          type: `privacy.request.${stage}`,
          requestId: request.id,
          actor: 'system',
          details: { type: request.type, status: request.status, dueAt: request.dueAt, daysLeft, alertDays: options.alertDays },
        });
        audited += 1;
      }
    }
  }

  const perTenant = new Map<TenantId, { atRisk: number; pastDue: number }>();
  for (const tenant of await ports.tenants.list()) perTenant.set(tenant.id, { atRisk: 0, pastDue: 0 });
  for (const request of atRisk) {
    const counts = perTenant.get(request.tenantId) ?? { atRisk: 0, pastDue: 0 };
    counts.atRisk += 1;
    if (request.pastDue) counts.pastDue += 1;
    perTenant.set(request.tenantId, counts);
  }
  for (const [tenantId, counts] of perTenant) {
    ports.telemetry.metric('privacy.requests.at_risk', counts.atRisk, { tenantId });
    ports.telemetry.metric('privacy.requests.past_due', counts.pastDue, { tenantId });
  }
  return { atRisk, audited, unreadable };
}
