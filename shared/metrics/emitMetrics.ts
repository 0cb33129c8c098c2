import type { Clock } from '../domain/clock';
import type { TenantId } from '../domain/ids';
import type { Dimensions, Telemetry } from '../telemetry/telemetry';
import type { MetricsSource } from './metricsSource';
import { EMIT_WINDOW_DAYS, EVENT_NAMES, METRIC_NAMES, type MetricDimension, type MetricName } from './names';
import { computePrivacyMetrics, type LatencySummary, type PrivacyMetrics } from './privacyMetrics';

const DAY_MS = 86_400_000;

type MetricDimensions = Partial<Record<MetricDimension, string>>;

/**
 * The figures of one tenant as telemetry metrics (one JSON line each, App Insights `traces`), then the
 * event `privacy.metrics.computed`, which marks the tenant's latest snapshot for the workbook. The only
 * dimensions are tenantId, type, channel, screen and store: enums and ids, never a subject. Figures
 * without a value in the window (a rate with nothing to divide by) are not emitted, rather than as 0.
 */
export function emitPrivacyMetrics(telemetry: Telemetry, metrics: PrivacyMetrics): number {
  let lines = 0;
  const tenantId = metrics.tenantId;
  const metric = (name: MetricName, value: number | null, dimensions: MetricDimensions = {}) => {
    if (value === null) return;
    telemetry.metric(name, value, { tenantId, ...dimensions } satisfies Dimensions);
    lines += 1;
  };
  const f = metrics.figures;
  metric(METRIC_NAMES.completionRate, f.completionRate.value);
  const latency = (summary: LatencySummary, dimensions: MetricDimensions) => {
    metric(METRIC_NAMES.latencyP50, summary.p50Ms, dimensions);
    metric(METRIC_NAMES.latencyP95, summary.p95Ms, dimensions);
    metric(METRIC_NAMES.latencyP99, summary.p99Ms, dimensions);
  };
  latency(f.latency.value, {});
  latency(f.deletionLatency.value, { type: 'erasure' });
  for (const [type, count] of Object.entries(f.requestsByType.value)) metric(METRIC_NAMES.requests, count, { type });
  for (const [channel, count] of Object.entries(f.requestsByChannel.value)) metric(METRIC_NAMES.requestsByChannel, count, { channel });
  metric(METRIC_NAMES.overdue, f.overdue.value);
  metric(METRIC_NAMES.failed, f.failed.value);
  for (const [store, count] of Object.entries(f.failed.byStore)) metric(METRIC_NAMES.failedByStore, count, { store });
  metric(METRIC_NAMES.reengagementRate, f.reengagementRate.value);
  metric(METRIC_NAMES.trustCoefficient, f.trustCoefficient.value);
  for (const [screen, count] of Object.entries(f.deletionsByScreen.value)) metric(METRIC_NAMES.deletionsByScreen, count, { screen });
  telemetry.event(EVENT_NAMES.computed, { tenantId });
  return lines + 1;
}

export interface EmitPorts {
  tenants: { list(): Promise<{ id: TenantId }[]> };
  source: MetricsSource;
  telemetry: Telemetry;
  clock: Clock;
}

export interface EmitReport {
  tenants: number;
  /** Tenants whose figures could not be computed this run (event `privacy.metrics.unavailable`). */
  unavailable: number;
  lines: number;
}

/**
 * The timer's use case: every tenant's figures over the trailing window, emitted. One tenant's failure
 * (a query that timed out) is reported as an event naming the tenant and does not stop the others.
 */
export async function emitMetricsForTenants(ports: EmitPorts, options: { windowDays?: number } = {}): Promise<EmitReport> {
  const asOf = ports.clock.now();
  const from = new Date(asOf.getTime() - (options.windowDays ?? EMIT_WINDOW_DAYS) * DAY_MS);
  const report: EmitReport = { tenants: 0, unavailable: 0, lines: 0 };
  for (const tenant of await ports.tenants.list()) {
    report.tenants += 1;
    try {
      const records = await ports.source.load(tenant.id, from, asOf);
      report.lines += emitPrivacyMetrics(ports.telemetry, computePrivacyMetrics({ tenantId: tenant.id, from, to: asOf, asOf }, records));
    } catch (error) {
      report.unavailable += 1;
      ports.telemetry.event(EVENT_NAMES.unavailable, { tenantId: tenant.id, error: error instanceof Error ? error.name : 'error' });
    }
  }
  return report;
}
