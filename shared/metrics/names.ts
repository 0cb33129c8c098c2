/**
 * The names of the telemetry metrics and events the privacy-outcome figures are emitted as, one place.
 * The workbook template (infra/workbook/privacy-outcomes.workbook.json) queries these names, and
 * test/metrics/workbook.test.ts checks it references no other: rename one here and the test names the
 * workbook query to change. docs/metrics.md documents each with its dimensions.
 */
export const METRIC_NAMES = {
  /** completed ÷ (completed + failed + overdue still open), requests received in the window. */
  completionRate: 'privacy.metrics.completion_rate',
  /** Receipt → verified completion, nearest-rank percentiles: all types (no `type`), and erasures (`type: erasure`). */
  latencyP50: 'privacy.metrics.latency_p50_ms',
  latencyP95: 'privacy.metrics.latency_p95_ms',
  latencyP99: 'privacy.metrics.latency_p99_ms',
  /** Requests received, per type (every type, zeros included). */
  requests: 'privacy.metrics.requests',
  /** Requests received, per channel (every channel, zeros included). */
  requestsByChannel: 'privacy.metrics.requests_by_channel',
  /** Requests received in the window, not completed, past their legal due date. */
  overdue: 'privacy.metrics.overdue',
  /** Requests received in the window that failed (total), and per failing store. */
  failed: 'privacy.metrics.failed',
  failedByStore: 'privacy.metrics.failed_by_store',
  /** Erased subjects (keyed hash) who wrote again ÷ erased subjects. */
  reengagementRate: 'privacy.metrics.reengagement_rate',
  /** Flow completions ÷ deletion requests. */
  trustCoefficient: 'privacy.metrics.trust_coefficient',
  /** Deletion requests per preceding flow screen. */
  deletionsByScreen: 'privacy.metrics.deletions_by_screen',
} as const;
export type MetricName = (typeof METRIC_NAMES)[keyof typeof METRIC_NAMES];

export const EVENT_NAMES = {
  /** One per tenant and run, after its metrics: the workbook finds each tenant's latest snapshot by it. */
  computed: 'privacy.metrics.computed',
  /** A tenant's figures could not be computed in this run (the next run tries again). */
  unavailable: 'privacy.metrics.unavailable',
  /** An operator replayed a dead-letter queue (dimensions: queue, count, redriven, stale, kept). */
  deadLettersReplayed: 'queue.dead_letters.replayed',
  /** Erasure drills (shared/drills/erasureDrill.ts, its DRILL_EVENTS): the workbook's drill history; failed and slow raise the drill alert. */
  drillPassed: 'privacy.drill.passed',
  drillFailed: 'privacy.drill.failed',
  drillSlow: 'privacy.drill.slow',
} as const;
export type EventName = (typeof EVENT_NAMES)[keyof typeof EVENT_NAMES];

/**
 * Events emitted elsewhere that the workbook lists request by request (they carry the request id, which
 * an operator needs to act): `privacy.request.overdue` by the deadline watch (shared/retention), and
 * `privacy.request.failed` by the privacy pipeline (shared/privacy/completion.ts).
 */
export const LISTED_EVENT_NAMES = {
  overdueRequest: 'privacy.request.overdue',
  failedRequest: 'privacy.request.failed',
} as const;

/** The only dimensions a privacy metric carries: ids of the tenant and enums, never a subject. */
export const METRIC_DIMENSIONS = ['tenantId', 'type', 'channel', 'screen', 'store'] as const;
export type MetricDimension = (typeof METRIC_DIMENSIONS)[number];

/** How far back each emitted figure looks: a rolling window, recomputed every run. */
export const EMIT_WINDOW_DAYS = 30;
