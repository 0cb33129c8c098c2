import type { Clock } from '../domain/clock';
import type { IdentityLinkStore } from '../identity/identityLinks';
import type { QueueSender } from '../queue/queuePort';
import type { Backoff } from '../retry';
import type { SecretProvider } from '../secrets/secretProvider';
import type { Telemetry } from '../telemetry/telemetry';
import type {
  AuditTrail,
  CrmContacts,
  CrmRecords,
  ErasureConfirmations,
  ExportStore,
  Keyring,
  PrivacyMarkers,
  PrivacyRequestRepository,
  SubjectDocumentStore,
  TenantDirectory,
  TenantFiles,
} from './ports';
import type { StoreRegistry } from './registry';
import type { RecentTenants } from './recentTenants';

/** The backoff of the privacy workers (shared/retry), and how long they keep trying. */
export interface RetryPolicy extends Backoff {
  /** Attempts (transient failures) before the task fails and its message goes to the dead-letter queue. */
  maxAttempts: number;
  /** 429 answers honoured with Retry-After before the task fails anyway. */
  maxRateLimited: number;
}

/**
 * 1.6-2 s after the first failure, doubling, at most 4-5 min; after a 429 what the store asked for (10 s
 * when it named nothing, never under 1 s) plus up to a quarter.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseMs: 1600, capMs: 4 * 60_000, jitter: 0.25, throttledMs: 10_000, minRetryAfterMs: 1000, maxAttempts: 8, maxRateLimited: 50 };

/**
 * Everything the privacy use cases need, as ports (./ports.ts). The composition root
 * (shared/runtime/compositionRoot.ts) binds them to the app's adapters once per process; the unit tests
 * bind them to in-memory doubles (test/doubles).
 */
export interface PrivacyDeps {
  requests: PrivacyRequestRepository;
  tenants: TenantDirectory;
  /** The tenant as read a few seconds ago at most: every store task and verification needs it. */
  recentTenants: RecentTenants;
  audit: AuditTrail;
  markers: PrivacyMarkers;
  subjects: SubjectDocumentStore;
  /** Which identifiers belong to one person (shared/identity). */
  links: IdentityLinkStore;
  exports: ExportStore;
  tenantFiles: TenantFiles;
  queue: QueueSender;
  secrets: SecretProvider;
  clock: Clock;
  telemetry: Telemetry;
  registry: StoreRegistry;
  crm: CrmContacts;
  /** What Flowkeeper recorded of the tenant's CRM objects (account cancellation deletes the tenant's). */
  crmRecords: CrmRecords;
  /** The subject's WhatsApp confirmation (optional per tenant). */
  confirmations: ErasureConfirmations;
  keyring: Keyring;
  retry: RetryPolicy;
  /** [0, 1): the jitter of the backoff (a parameter so tests can pin it). */
  random: () => number;
}
