import './startupCheck';
import { app, type HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { tenantIdSchema } from '../shared/domain';
import { adminRoute, validationError, type AdminCall } from '../shared/http';
import { compositionRoot, type CompositionRoot } from '../shared/runtime';

const DAY_MS = 86_400_000;

const auditQuerySchema = z
  .object({
    tenantId: tenantIdSchema,
    from: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).optional(),
    to: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).optional(),
    type: z.string().regex(/^[a-z0-9.-]{1,100}$/, 'must be an event type such as privacy.erasure.completed').optional(),
    limit: z.coerce.number({ error: 'must be a number' }).int().min(1).max(1000).default(1000),
  })
  .refine((q) => !q.from || !q.to || q.from < q.to, { path: ['to'], message: 'must be after from' });

/** GET /api/audit?tenantId=&from=&to=[&type=&limit=]: a tenant's audit events in [from, to), oldest first (default: the last 30 days). */
export async function getAudit({ request, root, hidden }: AdminCall<CompositionRoot>): Promise<HttpResponseInit> {
  const query = auditQuerySchema.safeParse(Object.fromEntries(request.query.entries()));
  if (!query.success) return validationError(query.error);
  const { tenantId, type, limit } = query.data;
  const notVisible = hidden(tenantId);
  if (notVisible) return notVisible;
  const to = query.data.to ? new Date(query.data.to) : new Date(root.clock.now().getTime() + 1000);
  const from = query.data.from ? new Date(query.data.from) : new Date(to.getTime() - 30 * DAY_MS);
  const events = await root.audit.query(tenantId, from, to, { ...(type ? { type } : {}), limit });
  return { status: 200, jsonBody: { tenantId, from: from.toISOString(), to: to.toISOString(), events } };
}

app.http('getAudit', { route: 'audit', methods: ['GET'], authLevel: 'anonymous', handler: adminRoute(compositionRoot, getAudit) });
