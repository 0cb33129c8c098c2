import { describe, expect, it } from 'vitest';
import { type TenantId } from '../../shared/domain';
import {
  computePrivacyMetrics,
  emitMetricsForTenants,
  emitPrivacyMetrics,
  EVENT_NAMES,
  METRIC_DIMENSIONS,
  METRIC_NAMES,
  nearestRank,
  parsePeriod,
  privacyMetricsSchema,
  type MetricsSource,
} from '../../shared/metrics';
import { AS_OF, EXPECTED, PERIOD, PLANTED, recordsOf, scriptedHistory } from './support/history';
import { ManualClock, RecordingTelemetry } from '../doubles';

const history = scriptedHistory();
const metrics = computePrivacyMetrics({ tenantId: history.tenantId, ...PERIOD, asOf: AS_OF }, recordsOf(history));
const f = metrics.figures;

describe('privacy metrics over a scripted history', () => {
  it('equal the expected figures exactly: completion, latency, counts, re-engagement, trust, screens', () => {
    expect(f.completionRate).toMatchObject(EXPECTED.completionRate);
    expect(f.latency.value).toMatchObject(EXPECTED.latency);
    expect(Object.fromEntries(f.latency.value.histogram.map((b) => [b.label, b.count]))).toEqual(EXPECTED.latencyHistogram);
    expect(f.deletionLatency.value).toMatchObject(EXPECTED.deletionLatency);
    expect(f.requestsByType.value).toEqual(EXPECTED.requestsByType);
    expect(f.requestsByType.total).toBe(EXPECTED.requestsTotal);
    expect(f.requestsByChannel.value).toEqual(EXPECTED.requestsByChannel);
    expect(f.overdue.value).toBe(EXPECTED.overdue);
    expect(f.failed).toMatchObject({ value: EXPECTED.failed, byStore: EXPECTED.failedByStore });
    expect(f.completedLate.value).toBe(EXPECTED.completedLate);
    expect(f.reengagementRate).toMatchObject(EXPECTED.reengagement);
    expect(f.trustCoefficient).toMatchObject(EXPECTED.trust);
    expect(f.deletionsByScreen.value).toEqual(EXPECTED.deletionsByScreen);
  });

  it('count completion over time per UTC day of the period, completions and failures on the day they happened', () => {
    const days = f.daily.value;
    expect(days).toHaveLength(31);
    expect(days[0]!.date).toBe('2026-01-01');
    expect(days[30]!.date).toBe('2026-01-31');
    const byDate = Object.fromEntries(days.map((d) => [d.date, d]));
    expect(byDate['2026-01-02']).toEqual({ date: '2026-01-02', received: 1, completed: 1, failed: 0 });
    expect(byDate['2026-01-06']).toEqual({ date: '2026-01-06', received: 1, completed: 0, failed: 1 });
    // r10 was received on 10 January and completed in February: received that day, completed outside the period.
    expect(byDate['2026-01-10']).toEqual({ date: '2026-01-10', received: 1, completed: 0, failed: 0 });
    expect(days.reduce((n, d) => n + d.received, 0)).toBe(9);
    expect(days.reduce((n, d) => n + d.completed, 0)).toBe(5);
    expect(days.reduce((n, d) => n + d.failed, 0)).toBe(1);
  });

  it('give each figure its definition and compare it with the seed article target', () => {
    for (const [name, figure] of Object.entries(f)) expect(figure.definition, name).toMatch(/\w{4,}.*\./);
    expect(f.completionRate.target).toEqual({ comparison: '>=', threshold: 0.999, met: false });
    expect(f.deletionLatency.target).toEqual({ comparison: '<', threshold: 5000, met: false });
    expect(f.reengagementRate.target).toEqual({ comparison: '<', threshold: 0.05, met: false });
    expect(f.trustCoefficient.target).toEqual({ comparison: '>', threshold: 50, met: false });
    expect(privacyMetricsSchema.parse(JSON.parse(JSON.stringify(metrics)))).toEqual(metrics);
  });

  it('carry no phone number and no name, even when a screen id or an audit detail holds one', () => {
    const text = JSON.stringify(metrics);
    for (const phone of PLANTED.phones) expect(text).not.toContain(phone);
    expect(text).not.toContain(PLANTED.name);
    expect(text).not.toContain(PLANTED.phoneScreen);
    // The keyed hashes of subjects are inputs, not outputs either.
    for (const r of history.requests) expect(text).not.toContain(r.subjectHash);
  });

  it('ignore other tenants and requests received outside the period', () => {
    const other = scriptedHistory('metrics-other' as TenantId);
    const mixed = computePrivacyMetrics({ tenantId: history.tenantId, ...PERIOD, asOf: AS_OF }, {
      ...recordsOf(history),
      requests: [...recordsOf(history).requests, ...recordsOf(other).requests],
    });
    expect(mixed.figures.requestsByType.total).toBe(EXPECTED.requestsTotal);
    expect(mixed.records.requests).toBe(EXPECTED.requestsTotal);
  });

  it('without records give null rates and percentiles (not 0, not NaN) and empty breakdowns', () => {
    const empty = computePrivacyMetrics({ tenantId: 'quiet', ...PERIOD, asOf: AS_OF }, { requests: [], audit: [], tombstones: [] });
    expect(empty.figures.completionRate).toMatchObject({ value: null, outOf: 0, target: { met: null } });
    expect(empty.figures.latency.value).toMatchObject({ count: 0, p50Ms: null, p95Ms: null, p99Ms: null, maxMs: null });
    expect(empty.figures.reengagementRate.value).toBeNull();
    expect(empty.figures.trustCoefficient).toMatchObject({ value: null, target: { met: null } });
    expect(empty.figures.deletionsByScreen.value).toEqual({});
    expect(JSON.stringify(empty)).not.toMatch(/NaN|Infinity/);
  });
});

describe('nearest-rank percentiles', () => {
  it('are the smallest value with at least p% of the values at or below it', () => {
    const values = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
    expect(nearestRank(values, 50)).toBe(50);
    expect(nearestRank(values, 95)).toBe(100);
    expect(nearestRank(values, 90)).toBe(90);
    expect(nearestRank([7], 99)).toBe(7);
    expect(nearestRank([], 50)).toBeNull();
  });
});

describe('the period of a metrics query', () => {
  const now = new Date('2026-03-15T12:00:00Z');
  it('reads dates as whole UTC days (to inclusive) and ISO date-times as given; defaults to the last 30 days', () => {
    expect(parsePeriod({ from: '2026-01-01', to: '2026-01-31' }, now)).toEqual({ ok: true, period: PERIOD });
    expect(parsePeriod({ from: '2026-01-01T06:00:00+01:00', to: '2026-01-02T00:00:00Z' }, now)).toEqual({
      ok: true,
      period: { from: new Date('2026-01-01T05:00:00Z'), to: new Date('2026-01-02T00:00:00Z') },
    });
    expect(parsePeriod({}, now)).toEqual({ ok: true, period: { from: new Date('2026-02-13T12:00:00Z'), to: now } });
  });

  it('names the field of a bad date, a reversed period and one longer than a year', () => {
    expect(parsePeriod({ from: 'yesterday' }, now)).toMatchObject({ ok: false, field: 'from' });
    expect(parsePeriod({ to: '2026-02-30' }, now)).toMatchObject({ ok: false, field: 'to' });
    expect(parsePeriod({ from: '2026-02-01', to: '2026-01-01' }, now)).toMatchObject({ ok: false, field: 'to', message: 'to must be after from' });
    expect(parsePeriod({ from: '2024-01-01', to: '2026-01-01' }, now)).toMatchObject({ ok: false, field: 'to', message: expect.stringMatching(/at most 366 days/) });
  });
});

describe('emitted as telemetry', () => {
  it('every figure becomes a metric whose only dimensions are tenantId, type, channel, screen and store, without personal data', () => {
    const telemetry = new RecordingTelemetry();
    const lines = emitPrivacyMetrics(telemetry, metrics);
    expect(lines).toBe(telemetry.metrics.length + telemetry.events.length);
    const emitted = new Set(telemetry.metrics.map((m) => m.name));
    expect([...emitted].sort()).toEqual(Object.values(METRIC_NAMES).sort());
    for (const m of telemetry.metrics) {
      for (const key of Object.keys(m.dimensions)) expect(METRIC_DIMENSIONS as readonly string[]).toContain(key);
      expect(m.dimensions.tenantId).toBe(history.tenantId);
      expect(Number.isFinite(m.value)).toBe(true);
    }
    const serialised = JSON.stringify([telemetry.metrics, telemetry.events]);
    for (const phone of PLANTED.phones) expect(serialised).not.toContain(phone);
    expect(serialised).not.toContain(PLANTED.name);
    for (const r of history.requests) expect(serialised).not.toContain(r.subjectHash);

    const value = (name: string, dims: Record<string, string> = {}) =>
      telemetry.metrics.find((m) => m.name === name && Object.entries(dims).every(([k, v]) => m.dimensions[k] === v) && Object.keys(m.dimensions).length === Object.keys(dims).length + 1)?.value;
    expect(value(METRIC_NAMES.completionRate)).toBe(0.75);
    expect(value(METRIC_NAMES.latencyP95, { type: 'erasure' })).toBe(8000);
    expect(value(METRIC_NAMES.latencyP50)).toBe(4000);
    expect(value(METRIC_NAMES.requests, { type: 'restriction' })).toBe(0);
    expect(value(METRIC_NAMES.requestsByChannel, { channel: 'flow' })).toBe(3);
    expect(value(METRIC_NAMES.failedByStore, { store: 'hubspot' })).toBe(1);
    expect(value(METRIC_NAMES.reengagementRate)).toBe(0.5);
    expect(value(METRIC_NAMES.trustCoefficient)).toBe(20);
    expect(value(METRIC_NAMES.deletionsByScreen, { screen: '(other)' })).toBe(1);
    expect(telemetry.events).toEqual([{ name: EVENT_NAMES.computed, dimensions: { tenantId: history.tenantId } }]);
  });

  it('the timer use case emits every tenant over the trailing 30 days, and one tenant that fails does not stop the others', async () => {
    const telemetry = new RecordingTelemetry();
    const asked: { tenantId: string; from: string; to: string }[] = [];
    const source: MetricsSource = {
      async load(tenantId, from, to) {
        asked.push({ tenantId, from: from.toISOString(), to: to.toISOString() });
        if (tenantId === 'broken') throw new Error('query timed out');
        return recordsOf(history);
      },
    };
    const report = await emitMetricsForTenants({
      tenants: { list: async () => [{ id: 'broken' as TenantId }, { id: history.tenantId }] },
      source,
      telemetry,
      clock: new ManualClock(new Date('2026-01-31T00:00:00Z')),
    });
    expect(asked).toEqual([
      { tenantId: 'broken', from: '2026-01-01T00:00:00.000Z', to: '2026-01-31T00:00:00.000Z' },
      { tenantId: history.tenantId, from: '2026-01-01T00:00:00.000Z', to: '2026-01-31T00:00:00.000Z' },
    ]);
    expect(report).toMatchObject({ tenants: 2, unavailable: 1 });
    expect(telemetry.events).toContainEqual({ name: EVENT_NAMES.unavailable, dimensions: { tenantId: 'broken', error: 'Error' } });
    expect(telemetry.events).toContainEqual({ name: EVENT_NAMES.computed, dimensions: { tenantId: history.tenantId } });
    expect(telemetry.metrics.every((m) => m.dimensions.tenantId === history.tenantId)).toBe(true);
  });
});
