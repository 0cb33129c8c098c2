import type { Container } from '@azure/cosmos';
import type { MetricsSource } from '../metrics/metricsSource';
import {
  AUDIT_TYPES,
  auditRecordSchema,
  requestRecordSchema,
  SCREEN_LOOKBACK_DAYS,
  tombstoneRecordSchema,
  type AuditRecord,
  type RequestRecord,
  type TombstoneRecord,
} from '../metrics/privacyMetrics';

const DAY_MS = 86_400_000;

/**
 * The records of one tenant and period from Cosmos, three queries, each naming the tenant in its WHERE
 * clause (cosmosdb-server ignores the partitionKey option; real Cosmos uses it where it applies):
 * - `privacyRequests` (partition /id, cross-partition): the requests received in [from, to), projected
 *   to the fields the figures read, so the encrypted subject reference is never even read;
 * - `audit` (partition /tenantId, single partition): flow completions from SCREEN_LOOKBACK_DAYS before
 *   `from` (the screen preceding a deletion), re-engagements and erasure completions up to `to`;
 * - `markers` (kind `tombstone`): the erasures of the period, by keyed hash.
 * A document that does not parse is counted in `unreadable`, never silently dropped.
 */
export function cosmosMetricsSource(containers: { privacyRequests: Container; audit: Container; markers: Container }): MetricsSource {
  return {
    async load(tenantId, from, to) {
      const lookback = new Date(from.getTime() - SCREEN_LOOKBACK_DAYS * DAY_MS);
      const [requests, audit, tombstones] = await Promise.all([
        readAll(
          containers.privacyRequests,
          {
            query:
              'SELECT c.id, c.tenantId, c.type, c.scope, c.channel, c.screen, c.status, c.receivedAt, c.dueAt, c.completedAt, c.failedAt, c.subjectHash, c.failure, c.drill ' +
              "FROM c WHERE c.docType = 'request' AND c.tenantId = @tenantId AND c.receivedAt >= @from AND c.receivedAt < @to",
            parameters: [
              { name: '@tenantId', value: tenantId },
              { name: '@from', value: from.toISOString() },
              { name: '@to', value: to.toISOString() },
            ],
          },
          undefined,
        ),
        readAll(
          containers.audit,
          {
            query:
              'SELECT c.type, c.at, c.subjectHash, c.requestId, c.details FROM c ' +
              'WHERE c.tenantId = @tenantId AND c.at >= @from AND c.at < @to AND ARRAY_CONTAINS(@types, c.type)',
            parameters: [
              { name: '@tenantId', value: tenantId },
              { name: '@from', value: lookback.toISOString() },
              { name: '@to', value: to.toISOString() },
              { name: '@types', value: Object.values(AUDIT_TYPES) },
            ],
          },
          tenantId,
        ),
        readAll(
          containers.markers,
          {
            query:
              "SELECT c.key, c.at, c.data FROM c WHERE c.kind = 'tombstone' AND c.tenantId = @tenantId " +
              'AND ((IS_DEFINED(c.data.erasedAt) AND c.data.erasedAt >= @from AND c.data.erasedAt < @to) OR (NOT IS_DEFINED(c.data.erasedAt) AND c.at >= @from AND c.at < @to))',
            parameters: [
              { name: '@tenantId', value: tenantId },
              { name: '@from', value: from.toISOString() },
              { name: '@to', value: to.toISOString() },
            ],
          },
          undefined,
        ),
      ]);
      let unreadable = 0;
      // Erasure drills (shared/drills) are not privacy work: their requests, the audit events of those
      // requests and of their synthetic subjects are left out of every figure.
      const drills = requests.filter((r) => (r as { drill?: unknown }).drill === true) as { id?: unknown; subjectHash?: unknown }[];
      const drillRequests = new Set(drills.map((r) => r.id));
      const drillSubjects = new Set(drills.map((r) => r.subjectHash));
      const parsedRequests: RequestRecord[] = [];
      for (const raw of requests) {
        if (drillRequests.has((raw as { id?: unknown }).id)) continue;
        const parsed = requestRecordSchema.safeParse(raw);
        if (parsed.success) parsedRequests.push(parsed.data);
        else unreadable += 1;
      }
      const parsedAudit: AuditRecord[] = [];
      for (const raw of audit) {
        const event = raw as { requestId?: unknown; subjectHash?: unknown; details?: { drill?: unknown } | null };
        if (event.details?.drill === true || drillRequests.has(event.requestId) || drillSubjects.has(event.subjectHash)) continue;
        const parsed = auditRecordSchema.safeParse(raw);
        if (parsed.success) parsedAudit.push(parsed.data);
        else unreadable += 1;
      }
      const parsedTombstones: TombstoneRecord[] = [];
      for (const raw of tombstones) {
        const marker = raw as { key?: unknown; at?: unknown; data?: { erasedAt?: unknown; scope?: unknown } | null };
        if (drillSubjects.has(marker.key)) continue;
        const parsed = tombstoneRecordSchema.safeParse({
          subjectHash: marker.key,
          erasedAt: marker.data?.erasedAt ?? marker.at,
          scope: marker.data?.scope,
        });
        if (parsed.success) parsedTombstones.push(parsed.data);
        else unreadable += 1;
      }
      return { requests: parsedRequests, audit: parsedAudit, tombstones: parsedTombstones, unreadable };
    },
  };
}

async function readAll(
  container: Container,
  query: { query: string; parameters: { name: string; value: string | string[] }[] },
  partitionKey: string | undefined,
): Promise<unknown[]> {
  const iterator = container.items.query<unknown>(query, { maxItemCount: 1000, ...(partitionKey ? { partitionKey } : {}) });
  const out: unknown[] = [];
  while (iterator.hasMoreResults()) {
    const { resources } = await iterator.fetchNext();
    out.push(...resources);
  }
  return out;
}
