import type { SubjectHash, TenantId } from '../domain/ids';

/**
 * Append-only audit events. They prove what happened without holding
 * personal data: the subject is a keyed hash, details are ids, counts, store names and timings. The
 * type of `details` admits only scalars so a whole payload cannot be dropped in by accident.
 */
export interface AuditEventInput {
  tenantId: TenantId;
  type: string;
  subjectHash?: SubjectHash;
  requestId?: string;
  /** The Entra ID object id of the operator, for admin actions; `system` for automatic ones. */
  actor?: string;
  details?: Record<string, string | number | boolean | null>;
  /**
   * Makes the record idempotent: a retried delivery that records the same fact again (same key) leaves
   * one event. Keys are ids or keyed hashes, never personal data.
   */
  idempotencyKey?: string;
}

export interface AuditEvent extends Omit<AuditEventInput, 'idempotencyKey'> {
  id: string;
  at: string;
}

/** The audit trail (shared/cosmos/auditLog.ts in the app). */
export interface AuditLog {
  record(input: AuditEventInput): Promise<AuditEvent>;
  /** Events of one tenant in [from, to), oldest first. */
  query(tenantId: TenantId, from: Date, to: Date, options?: { type?: string; limit?: number }): Promise<AuditEvent[]>;
}
