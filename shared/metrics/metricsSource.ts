import type { TenantId } from '../domain/ids';
import type { MetricsRecords } from './privacyMetrics';

/** Where the figures' records come from: a port, so tests can pass a scripted history. */
export interface MetricsSource {
  load(tenantId: TenantId, from: Date, to: Date): Promise<MetricsRecords>;
}
