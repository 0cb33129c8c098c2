import type { Container } from '@azure/cosmos';
import { z } from 'zod';
import { tenantIdSchema, type TenantId } from '../domain/ids';
import {
  privacyRequestDocumentSchema,
  REQUEST_STATUSES,
  viewOf,
  type PrivacyRequestStatus,
  type PrivacyRequestView,
} from '../privacy/privacyRequest';
import { safeScreen } from './privacyMetrics';

/** Query of GET /api/privacy-requests: every filter optional, a page of at most 500. */
export const requestListQuerySchema = z
  .object({
    tenantId: tenantIdSchema.optional(),
    status: z.enum(REQUEST_STATUSES, { error: `must be one of ${REQUEST_STATUSES.join(', ')}` }).optional(),
    overdue: z.enum(['true', 'false'], { error: 'must be true or false' }).optional().transform((v) => v === 'true'),
    limit: z.coerce.number({ error: 'must be a number' }).int('must be a whole number').min(1, 'must be at least 1').max(500, 'must be at most 500').default(100),
  });
export type RequestListQuery = z.infer<typeof requestListQuerySchema>;

export interface RequestListFilter {
  /** One tenant, or the tenants the caller may see (an operator), or every tenant (undefined: an admin). */
  tenants?: readonly TenantId[];
  status?: PrivacyRequestStatus;
  /** Not completed, and the legal due date is at or before `now` (failed requests included). */
  overdue?: boolean;
  limit: number;
}

export interface RequestListResult {
  requests: PrivacyRequestView[];
  /** Documents that did not parse (reported, never silently dropped). */
  unreadable: number;
}

/** The request documents matching a filter, newest first: a port over the `privacyRequests` container. */
export interface RequestListSource {
  list(filter: RequestListFilter, now: Date): Promise<unknown[]>;
}

export function cosmosRequestList(container: Container): RequestListSource {
  return {
    async list(filter, now) {
      const where = ["c.docType = 'request'"];
      const parameters: { name: string; value: string | string[] }[] = [];
      if (filter.tenants) {
        where.push('ARRAY_CONTAINS(@tenants, c.tenantId)');
        parameters.push({ name: '@tenants', value: [...filter.tenants] });
      }
      if (filter.status) {
        where.push('c.status = @status');
        parameters.push({ name: '@status', value: filter.status });
      }
      if (filter.overdue) {
        where.push("c.status != 'completed' AND c.dueAt <= @now");
        parameters.push({ name: '@now', value: now.toISOString() });
      }
      // The projection leaves out the encrypted subject and rectification references: a list never needs them.
      const iterator = container.items.query<unknown>(
        {
          query:
            'SELECT c.id, c.docType, c.tenantId, c.type, c.scope, c.channel, c.screen, c.actor, c.subjectHash, c.openKey, c.status, c.receivedAt, c.dueAt, ' +
            'c.enqueuedAt, c.startedAt, c.completedAt, c.failedAt, c.updatedAt, c.failure, c.attempts, c.tasks, c.verification, c.export, c.outcome, c.ttl ' +
            `FROM c WHERE ${where.join(' AND ')} ORDER BY c.receivedAt DESC`,
          parameters,
        },
        { maxItemCount: Math.min(filter.limit, 100) },
      );
      const out: unknown[] = [];
      while (out.length < filter.limit && iterator.hasMoreResults()) {
        const { resources } = await iterator.fetchNext();
        out.push(...resources);
      }
      return out.slice(0, filter.limit);
    },
  };
}

export async function listPrivacyRequests(source: RequestListSource, filter: RequestListFilter, now: Date): Promise<RequestListResult> {
  if (filter.tenants && filter.tenants.length === 0) return { requests: [], unreadable: 0 };
  const docs = await source.list(filter, now);
  const requests: PrivacyRequestView[] = [];
  let unreadable = 0;
  for (const raw of docs) {
    const parsed = privacyRequestDocumentSchema.safeParse(stripNulls(raw));
    if (!parsed.success) {
      unreadable += 1;
      continue;
    }
    const view = viewOf(parsed.data);
    // A flow screen id comes from the business's flow JSON: shown only when it is a plain identifier.
    const screen = safeScreen(view.screen);
    requests.push({ ...view, ...(screen !== undefined ? { screen } : {}) });
  }
  return { requests, unreadable };
}

/** A projection returns absent fields as absent or null depending on the engine: absent either way. */
function stripNulls(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  return Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== null && v !== undefined));
}
