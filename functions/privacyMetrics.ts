import './startupCheck';
import { app, type HttpResponseInit, type InvocationContext, type Timer } from '@azure/functions';
import { tenantIdSchema } from '../shared/domain';
import { adminRoute, errorResponse, validationError, type AdminCall } from '../shared/http';
import { computePrivacyMetrics, emitMetricsForTenants, parsePeriod } from '../shared/metrics';
import { compositionRoot, type CompositionRoot } from '../shared/runtime';

/** GET /api/privacy-metrics?tenantId=&from=&to=: a tenant's privacy figures for [from, to), each with its definition. */
export async function getPrivacyMetrics({ request, root, hidden }: AdminCall<CompositionRoot>): Promise<HttpResponseInit> {
  const rawTenantId = request.query.get('tenantId');
  if (!rawTenantId) return errorResponse(400, 'tenantId is required', 'tenantId');
  const tenantId = tenantIdSchema.safeParse(rawTenantId);
  if (!tenantId.success) return validationError(tenantId.error, 'tenantId');
  const notVisible = hidden(tenantId.data);
  if (notVisible) return notVisible;
  const asOf = root.clock.now();
  const period = parsePeriod({ from: request.query.get('from'), to: request.query.get('to') }, asOf);
  if (!period.ok) return errorResponse(400, period.message, period.field);
  const records = await root.metrics.load(tenantId.data, period.period.from, period.period.to);
  return { status: 200, jsonBody: computePrivacyMetrics({ tenantId: tenantId.data, ...period.period, asOf }, records) };
}

/** Timer: every tenant's figures over the trailing 30 days as telemetry metrics (docs/metrics.md). */
export async function emitPrivacyMetrics(_timer: Timer, context: InvocationContext): Promise<void> {
  const root = await compositionRoot();
  const report = await emitMetricsForTenants({ tenants: root.tenants, source: root.metrics, telemetry: root.telemetry, clock: root.clock });
  context.log(`privacy metrics: ${report.tenants} tenants, ${report.lines} lines, ${report.unavailable} unavailable`);
}

app.http('getPrivacyMetrics', { route: 'privacy-metrics', methods: ['GET'], authLevel: 'anonymous', handler: adminRoute(compositionRoot, getPrivacyMetrics) });
// Hourly at :45 (UTC), away from the deadline watch (:15): a 30-day window moves little in an hour.
app.timer('emitPrivacyMetrics', { schedule: '0 45 * * * *', handler: emitPrivacyMetrics });
