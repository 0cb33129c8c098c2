/**
 * Privacy requests: the data subject's rights (access, rectification, erasure, restriction, objection)
 * carried out across every store of the registry, with per-store tasks, retries, verification and an
 * audit trail without personal data. See docs/privacy-requests.md.
 */
export * from './privacyRequest';
export * from './deps';
export * from './createPrivacyRequest';
export * from './registry';
export * from './errors';
export * from './ports';
export { triageDeadLetter, type DeadLetterVerdict } from './deadLetterTriage';
export { RecentTenants } from './recentTenants';
export { subjectPartitionDataStore } from './subjectPartitionDataStore';
export { processPrivacyRequest, type ProcessOutcome } from './processRequest';
export { runErasureTask, type TaskOutcome } from './runErasureTask';
export { verifyAndComplete, REQUEST_RECORD_TTL_SECONDS } from './completion';
export { retryPrivacyRequest, type RetryResult } from './retryRequest';
export { reconcilePrivacyRequests, type ReconcileOptions, type ReconcileReport } from './reconcile';
export { cancelTenant, advanceCancellation, cancellationProgress, type CancellationProgress, type CancelResult } from './cancellation';
export { readAccessExport, sweepExpiredExports, type ExportResult } from './accessExports';
export { exportBlobName } from './exportNames';
