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
