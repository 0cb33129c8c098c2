/** Retention: every piece of personal data has an end date (docs/retention.md). */
export { RETENTION_SETTING_OF, retentionSecondsFor, subjectDocumentLifetime, isPastRetention } from './policy';
export { timeBudget, type TimeBudget } from './budget';
export { createdAtOf, CREATED_AT_METADATA, type BlobSweepTarget, type ListedBlob, type BlobListPage } from './blobSweep';
export { type ExpiredDocumentSource, type ExpiredDocument } from './expiredDocuments';
export { markerCheckpoints, type CheckpointStore, type CheckpointData } from './checkpoints';
export {
  runRetentionSweep,
  tenantExportsPrefix,
  SWEEP_PHASES,
  RUN_CHECKPOINT_KEY,
  TENANT_CHECKPOINT_KEY,
  MAX_TENANT_FAILURES,
  type RetentionSweepPorts,
  type RetentionSweepOptions,
  type RetentionSweepResult,
  type RemovedCounts,
} from './retentionSweep';
export { watchDeadlines, watchedRequestSchema, type DeadlineWatchPorts, type DeadlineWatchResult, type RequestDeadlineSource } from './deadlineWatch';
export { reportDeadLetters } from './deadLetterReport';
