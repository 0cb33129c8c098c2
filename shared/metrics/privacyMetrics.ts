import { z } from 'zod';
import {
  PRIVACY_REQUEST_TYPES,
  REQUEST_CHANNELS,
  REQUEST_STATUSES,
  TASK_STORES,
  type PrivacyRequestType,
  type RequestChannel,
} from '../privacy/privacyRequest';

/**
 * The privacy programme's figures (the seed article's four, and what an operator needs beside them),
 * computed from Flowkeeper's own records for one tenant and period. A pure function: the records come
 * from shared/cosmos/metricsSource.ts in the app, from a scripted history in tests.
 *
 * No personal data goes in or out: requests are read without their encrypted subject reference, audit
 * events and tombstones carry keyed hashes, and the result holds counts, rates, durations, enums and
 * flow screen ids only. Every figure carries its definition, so a number is never read without it.
 */

const DAY_MS = 86_400_000;
const OPEN_STATUSES = ['received', 'in_progress', 'verifying'] as const;

/** Targets from the seed article; `met` is null when the figure has no value in the period. */
export const TARGETS = {
  completionRate: { comparison: '>=', threshold: 0.999 },
  deletionLatencyP95Ms: { comparison: '<', threshold: 5000 },
  reengagementRate: { comparison: '<', threshold: 0.05 },
  trustCoefficient: { comparison: '>', threshold: 50 },
} as const;

/** Audit event types the figures read. `flow.completed` is written by the webhook per flow completion. */
export const AUDIT_TYPES = {
  flowCompleted: 'flow.completed',
  reengaged: 'subject.reengaged',
  erasureCompleted: 'privacy.erasure.completed',
  /** The person's own marketing stop / resume in WhatsApp (`user_preferences`), written by the webhook. */
  marketingPreference: 'subject.marketing-preference',
} as const;

/** How far before a deletion request the preceding flow completion is looked for. */
export const SCREEN_LOOKBACK_DAYS = 30;

/** Latency histogram buckets (upper bounds, inclusive); the last one is open. */
export const LATENCY_BUCKETS: readonly { label: string; upToMs: number | null }[] = [
  { label: '≤1 s', upToMs: 1000 },
  { label: '≤2 s', upToMs: 2000 },
  { label: '≤5 s', upToMs: 5000 },
  { label: '≤10 s', upToMs: 10_000 },
  { label: '≤30 s', upToMs: 30_000 },
  { label: '≤1 min', upToMs: 60_000 },
  { label: '≤5 min', upToMs: 300_000 },
  { label: '≤1 h', upToMs: 3_600_000 },
  { label: '≤1 day', upToMs: DAY_MS },
  { label: '>1 day', upToMs: null },
];

// ------------------------------------------------------------------------------------------- input records

const isoText = z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'must be an ISO 8601 date-time');
/** Cosmos returns a missing projected field as absent, some emulators as null: both mean "not set". */
const optional = <T extends z.ZodType>(schema: T) => schema.nullish().transform((v) => v ?? undefined);

/** The fields of a privacy request document the figures read: no subject reference, not even encrypted. */
export const requestRecordSchema = z.object({
  id: z.string().min(1),
  tenantId: z.string().min(1),
  type: z.enum(PRIVACY_REQUEST_TYPES),
  scope: optional(z.string()),
  channel: z.enum(REQUEST_CHANNELS),
  screen: optional(z.string()),
  status: z.enum(REQUEST_STATUSES),
  receivedAt: isoText,
  dueAt: isoText,
  completedAt: optional(isoText),
  failedAt: optional(isoText),
  subjectHash: optional(z.string()),
  failure: optional(z.object({ store: z.string(), reason: z.string().optional() })),
});
export type RequestRecord = z.infer<typeof requestRecordSchema>;

export const auditRecordSchema = z.object({
  type: z.string(),
  at: isoText,
  subjectHash: optional(z.string()),
  requestId: optional(z.string()),
  details: optional(z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))),
});
export type AuditRecord = z.infer<typeof auditRecordSchema>;

/** An erasure tombstone (`markers`, kind `tombstone`): the keyed hash and when the subject was erased. */
export const tombstoneRecordSchema = z.object({
  subjectHash: z.string().min(1),
  erasedAt: isoText,
  scope: optional(z.string()),
});
export type TombstoneRecord = z.infer<typeof tombstoneRecordSchema>;

export interface MetricsRecords {
  requests: readonly RequestRecord[];
  /** Audit events of the tenant from SCREEN_LOOKBACK_DAYS before `from` up to `to`. */
  audit: readonly AuditRecord[];
  tombstones: readonly TombstoneRecord[];
  /** Documents the loader could not read (counted, never silently skipped). */
  unreadable?: number;
}

// ------------------------------------------------------------------------------------------- output

const targetSchema = z.object({
  comparison: z.enum(['>=', '<', '>']),
  threshold: z.number(),
  met: z.boolean().nullable(),
});

const latencySchema = z.object({
  count: z.number(),
  p50Ms: z.number().nullable(),
  p95Ms: z.number().nullable(),
  p99Ms: z.number().nullable(),
  maxMs: z.number().nullable(),
  histogram: z.array(z.object({ label: z.string(), upToMs: z.number().nullable(), count: z.number() })),
});
export type LatencySummary = z.infer<typeof latencySchema>;

const dailySchema = z.object({ date: z.string(), received: z.number(), completed: z.number(), failed: z.number() });
export type DailyPoint = z.infer<typeof dailySchema>;

const counts = z.record(z.string(), z.number());

/** What GET /api/privacy-metrics returns; the CLI parses the answer with it. */
export const privacyMetricsSchema = z.object({
  tenantId: z.string(),
  from: z.string(),
  to: z.string(),
  asOf: z.string(),
  records: z.object({ requests: z.number(), auditEvents: z.number(), tombstones: z.number(), unreadable: z.number() }),
  figures: z.object({
    completionRate: z.object({ value: z.number().nullable(), completed: z.number(), outOf: z.number(), definition: z.string(), target: targetSchema }),
    latency: z.object({ value: latencySchema, definition: z.string() }),
    deletionLatency: z.object({ value: latencySchema, definition: z.string(), target: targetSchema }),
    requestsByType: z.object({ value: counts, total: z.number(), definition: z.string() }),
    requestsByChannel: z.object({ value: counts, definition: z.string() }),
    overdue: z.object({ value: z.number(), definition: z.string() }),
    failed: z.object({ value: z.number(), byStore: counts, definition: z.string() }),
    completedLate: z.object({ value: z.number(), definition: z.string() }),
    reengagementRate: z.object({ value: z.number().nullable(), reengaged: z.number(), erased: z.number(), definition: z.string(), target: targetSchema }),
    trustCoefficient: z.object({
      value: z.number().nullable(),
      flowCompletions: z.number(),
      deletionRequests: z.number(),
      definition: z.string(),
      target: targetSchema,
    }),
    deletionsByScreen: z.object({ value: counts, definition: z.string() }),
    marketingPreferences: z.object({ value: z.object({ stop: z.number(), resume: z.number() }), definition: z.string() }).optional(),
    daily: z.object({ value: z.array(dailySchema), definition: z.string() }),
  }),
});
export type PrivacyMetrics = z.infer<typeof privacyMetricsSchema>;

export const DEFINITIONS = {
  completionRate:
    'Requests received in the period that are completed, divided by those that reached an outcome or their legal due date: completed + failed + still open past the due date. Open requests not yet due are not counted. Target ≥ 99.9%.',
  latency:
    'Time from receipt to verified completion (completedAt − receivedAt) of the requests received in the period and completed by asOf, all types; percentiles by nearest rank (the smallest value with at least p% of the values at or below it).',
  deletionLatency:
    'As latency, erasure requests only: completion is set after the verification pass re-read every store and found nothing. Target: p95 < 5 s.',
  requestsByType: 'Requests received in the period, per type (access, rectification, erasure, restriction, objection).',
  requestsByChannel: 'Requests received in the period, per channel: admin (the admin API or CLI), flow (a WhatsApp Flow), message (a WhatsApp message).',
  overdue: 'Requests received in the period, not completed at asOf, whose legal due date (dueAt) is at or before asOf; failed ones included.',
  failed: 'Requests received in the period whose status is failed at asOf, in total and by the store (or step) that failed.',
  completedLate: 'Requests received in the period and completed after their legal due date.',
  reengagementRate:
    'Erased subjects who wrote again ÷ erased subjects. Erased: distinct keyed hashes with a full erasure (scope all) completed in the period, from the erasure tombstones and the privacy.erasure.completed audit events. Re-engaged: those with a subject.reengaged audit event after that erasure and before the end of the period. Recognised by keyed hash only. Target < 5%.',
  trustCoefficient:
    'Flow completions (flow.completed audit events in the period) ÷ deletion requests (erasure requests received in the period, every channel). Null without deletion requests. Target > 50 (50:1).',
  deletionsByScreen:
    `Erasure requests received in the period, per preceding flow screen: the screen the request was made on when it came from a flow, else the screen of the subject's latest flow completion in the ${SCREEN_LOOKBACK_DAYS} days before the request (matched by keyed hash), else "(none)". Screen ids that are not plain identifiers are counted as "(other)".`,
  marketingPreferences:
    'Marketing preferences people set in WhatsApp itself (user_preferences webhooks) in the period: stop and resume events (subject.marketing-preference audit events). Each is honoured for the person across identifiers: shown by the Privacy Centre, refused by marketing sends.',
  daily: 'Per UTC day of the period: requests received that day, requests (of the period) completed that day, and requests (of the period) failed that day.',
} as const;

// ------------------------------------------------------------------------------------------- computation

export interface MetricsQuery {
  tenantId: string;
  from: Date;
  to: Date;
  /** When the statuses were read: "overdue" and "open" are as of this instant. */
  asOf: Date;
}

export function computePrivacyMetrics(query: MetricsQuery, records: MetricsRecords): PrivacyMetrics {
  const from = query.from.getTime();
  const to = query.to.getTime();
  const asOf = query.asOf.getTime();
  const inPeriod = (iso: string | undefined): boolean => {
    if (iso === undefined) return false;
    const t = Date.parse(iso);
    return t >= from && t < to;
  };

  const requests = records.requests.filter((r) => r.tenantId === query.tenantId && inPeriod(r.receivedAt));
  const completed = requests.filter((r) => r.status === 'completed');
  const failed = requests.filter((r) => r.status === 'failed');
  const pastDue = (r: RequestRecord) => Date.parse(r.dueAt) <= asOf;
  const overdueOpen = requests.filter((r) => (OPEN_STATUSES as readonly string[]).includes(r.status) && pastDue(r));
  const overdue = requests.filter((r) => r.status !== 'completed' && pastDue(r));
  const completedLate = completed.filter((r) => r.completedAt !== undefined && Date.parse(r.completedAt) > Date.parse(r.dueAt));

  const outOf = completed.length + failed.length + overdueOpen.length;
  const completionRate = outOf === 0 ? null : round(completed.length / outOf);

  const latency = latencyOf(completed);
  const deletionLatency = latencyOf(completed.filter((r) => r.type === 'erasure'));

  const byType = zeroCounts<PrivacyRequestType>(PRIVACY_REQUEST_TYPES);
  const byChannel = zeroCounts<RequestChannel>(REQUEST_CHANNELS);
  for (const r of requests) {
    byType[r.type] += 1;
    byChannel[r.channel] += 1;
  }
  const failedByStore: Record<string, number> = {};
  for (const r of failed) increment(failedByStore, failureStoreOf(r));

  const audit = records.audit;
  const flowCompletions = audit.filter((e) => e.type === AUDIT_TYPES.flowCompleted && inPeriod(e.at));
  const deletions = requests.filter((r) => r.type === 'erasure');
  const trust = deletions.length === 0 ? null : round(flowCompletions.length / deletions.length);
  const trustMet = deletions.length === 0 ? (flowCompletions.length > 0 ? true : null) : (trust as number) > TARGETS.trustCoefficient.threshold;

  const reengagement = reengagementOf(records, audit, inPeriod, to);
  const deletionsByScreen = screensOf(deletions, audit);

  return {
    tenantId: query.tenantId,
    from: query.from.toISOString(),
    to: query.to.toISOString(),
    asOf: query.asOf.toISOString(),
    records: {
      requests: requests.length,
      auditEvents: audit.length,
      tombstones: records.tombstones.length,
      unreadable: records.unreadable ?? 0,
    },
    figures: {
      completionRate: {
        value: completionRate,
        completed: completed.length,
        outOf,
        definition: DEFINITIONS.completionRate,
        target: { ...TARGETS.completionRate, met: completionRate === null ? null : completionRate >= TARGETS.completionRate.threshold },
      },
      latency: { value: latency, definition: DEFINITIONS.latency },
      deletionLatency: {
        value: deletionLatency,
        definition: DEFINITIONS.deletionLatency,
        target: {
          ...TARGETS.deletionLatencyP95Ms,
          met: deletionLatency.p95Ms === null ? null : deletionLatency.p95Ms < TARGETS.deletionLatencyP95Ms.threshold,
        },
      },
      requestsByType: { value: byType, total: requests.length, definition: DEFINITIONS.requestsByType },
      requestsByChannel: { value: byChannel, definition: DEFINITIONS.requestsByChannel },
      overdue: { value: overdue.length, definition: DEFINITIONS.overdue },
      failed: { value: failed.length, byStore: failedByStore, definition: DEFINITIONS.failed },
      completedLate: { value: completedLate.length, definition: DEFINITIONS.completedLate },
      reengagementRate: {
        value: reengagement.rate,
        reengaged: reengagement.reengaged,
        erased: reengagement.erased,
        definition: DEFINITIONS.reengagementRate,
        target: { ...TARGETS.reengagementRate, met: reengagement.rate === null ? null : reengagement.rate < TARGETS.reengagementRate.threshold },
      },
      trustCoefficient: {
        value: trust,
        flowCompletions: flowCompletions.length,
        deletionRequests: deletions.length,
        definition: DEFINITIONS.trustCoefficient,
        target: { ...TARGETS.trustCoefficient, met: trustMet },
      },
      deletionsByScreen: { value: deletionsByScreen, definition: DEFINITIONS.deletionsByScreen },
      marketingPreferences: { value: marketingPreferencesOf(audit, inPeriod), definition: DEFINITIONS.marketingPreferences },
      daily: { value: dailyOf(query, requests), definition: DEFINITIONS.daily },
    },
  };
}

function marketingPreferencesOf(audit: MetricsRecords['audit'], inPeriod: (at: string) => boolean): { stop: number; resume: number } {
  const counted = { stop: 0, resume: 0 };
  for (const e of audit) {
    if (e.type !== AUDIT_TYPES.marketingPreference || !inPeriod(e.at)) continue;
    const value = e.details?.value;
    if (value === 'stop' || value === 'resume') counted[value] += 1;
  }
  return counted;
}

/** Nearest-rank percentile of ascending values: the smallest value with at least p% at or below it. */
export function nearestRank(sortedAscending: readonly number[], p: number): number | null {
  if (sortedAscending.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sortedAscending.length));
  return sortedAscending[Math.min(rank, sortedAscending.length) - 1]!;
}

function latencyOf(completed: readonly RequestRecord[]): LatencySummary {
  const values = completed
    .filter((r) => r.completedAt !== undefined)
    .map((r) => Math.max(0, Date.parse(r.completedAt!) - Date.parse(r.receivedAt)))
    .sort((a, b) => a - b);
  const histogram = LATENCY_BUCKETS.map((b) => ({ label: b.label, upToMs: b.upToMs, count: 0 }));
  for (const v of values) {
    const bucket = histogram.find((b) => b.upToMs === null || v <= b.upToMs)!;
    bucket.count += 1;
  }
  return {
    count: values.length,
    p50Ms: nearestRank(values, 50),
    p95Ms: nearestRank(values, 95),
    p99Ms: nearestRank(values, 99),
    maxMs: values.length === 0 ? null : values[values.length - 1]!,
    histogram,
  };
}

/** A full erasure: scope `all` (a tombstone or audit event without a scope predates scopes: full). */
function isFullErasure(scope: string | number | boolean | null | undefined): boolean {
  return scope === undefined || scope === null || scope === 'all';
}

function reengagementOf(
  records: MetricsRecords,
  audit: readonly AuditRecord[],
  inPeriod: (iso: string | undefined) => boolean,
  to: number,
): { erased: number; reengaged: number; rate: number | null } {
  // The first full erasure of each subject in the period, by keyed hash.
  const erasedAt = new Map<string, number>();
  const note = (hash: string | undefined, at: string) => {
    if (!hash || !inPeriod(at)) return;
    const t = Date.parse(at);
    const known = erasedAt.get(hash);
    if (known === undefined || t < known) erasedAt.set(hash, t);
  };
  for (const t of records.tombstones) if (isFullErasure(t.scope)) note(t.subjectHash, t.erasedAt);
  for (const e of audit) {
    if (e.type !== AUDIT_TYPES.erasureCompleted) continue;
    if (e.details && e.details.type !== undefined && e.details.type !== 'erasure') continue;
    if (isFullErasure(e.details?.scope)) note(e.subjectHash, e.at);
  }
  const reengaged = new Set<string>();
  for (const e of audit) {
    if (e.type !== AUDIT_TYPES.reengaged || !e.subjectHash) continue;
    const erased = erasedAt.get(e.subjectHash);
    const at = Date.parse(e.at);
    if (erased !== undefined && at >= erased && at < to) reengaged.add(e.subjectHash);
  }
  const erased = erasedAt.size;
  return { erased, reengaged: reengaged.size, rate: erased === 0 ? null : round(reengaged.size / erased) };
}

import { storedScreen as safeScreen } from '../domain/allowList';

function screensOf(deletions: readonly RequestRecord[], audit: readonly AuditRecord[]): Record<string, number> {
  const flowsBySubject = new Map<string, { at: number; screen: string | undefined }[]>();
  for (const e of audit) {
    if (e.type !== AUDIT_TYPES.flowCompleted || !e.subjectHash) continue;
    const screen = typeof e.details?.screen === 'string' ? e.details.screen : undefined;
    const list = flowsBySubject.get(e.subjectHash) ?? [];
    list.push({ at: Date.parse(e.at), screen });
    flowsBySubject.set(e.subjectHash, list);
  }
  const out: Record<string, number> = {};
  for (const r of deletions) {
    let screen = safeScreen(r.screen);
    if (screen === undefined && r.subjectHash) {
      const received = Date.parse(r.receivedAt);
      const earliest = received - SCREEN_LOOKBACK_DAYS * DAY_MS;
      const preceding = (flowsBySubject.get(r.subjectHash) ?? [])
        .filter((f) => f.at <= received && f.at >= earliest && safeScreen(f.screen) !== undefined)
        .sort((a, b) => b.at - a.at)[0];
      screen = safeScreen(preceding?.screen);
    }
    increment(out, screen ?? '(none)');
  }
  return out;
}

function dailyOf(query: MetricsQuery, requests: readonly RequestRecord[]): DailyPoint[] {
  const start = Math.floor(query.from.getTime() / DAY_MS) * DAY_MS;
  const days: DailyPoint[] = [];
  const index = new Map<string, DailyPoint>();
  for (let t = start; t < query.to.getTime(); t += DAY_MS) {
    const point = { date: new Date(t).toISOString().slice(0, 10), received: 0, completed: 0, failed: 0 };
    days.push(point);
    index.set(point.date, point);
  }
  const dayOf = (iso: string | undefined) => (iso === undefined ? undefined : index.get(new Date(Date.parse(iso)).toISOString().slice(0, 10)));
  const within = (iso: string | undefined) => iso !== undefined && Date.parse(iso) >= query.from.getTime() && Date.parse(iso) < query.to.getTime();
  for (const r of requests) {
    const received = dayOf(r.receivedAt);
    if (received) received.received += 1;
    if (r.status === 'completed' && within(r.completedAt)) dayOf(r.completedAt)!.completed += 1;
    if (r.status === 'failed' && within(r.failedAt)) dayOf(r.failedAt)!.failed += 1;
  }
  return days;
}

/** The store (or step) a request failed in, as a dimension: a known name or `other`. */
const FAILURE_STORES: readonly string[] = [...TASK_STORES, 'verification', 'request'];
export function failureStoreOf(r: Pick<RequestRecord, 'failure'>): string {
  const store = r.failure?.store;
  return store !== undefined && FAILURE_STORES.includes(store) ? store : 'other';
}

function zeroCounts<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** Rates to six decimals: exact for the fractions an operator reads, stable in JSON. */
function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
