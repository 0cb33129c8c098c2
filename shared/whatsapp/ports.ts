import type { AuditLog } from '../audit/auditLog';
import type { Clock, Sleep } from '../domain/clock';
import type { SubjectIdentifier, TenantId } from '../domain/ids';
import type { IdentityLinkStore } from '../identity/identityLinks';
import type { LegacyDocumentStore } from '../identity/migration';
import type { MarkerStore } from '../markers/markerStore';
import type { ErasureScope, PrivacyRequestType } from '../privacy/privacyRequest';
import type { QueueSender } from '../queue/queuePort';
import type { SecretProvider } from '../secrets/secretProvider';
import type { SubjectStore } from '../subjects/subjectStore';
import type { Telemetry } from '../telemetry/telemetry';
import type { TenantRepository } from '../tenants/tenantRepository';

/** The parts of the shared stores the webhook uses (ports: tests and the benchmark pass in-memory ones, test/doubles). */
export type Markers = Pick<MarkerStore, 'get' | 'put' | 'claim' | 'delete'>;
export type AuditRecorder = Pick<AuditLog, 'record'>;
export type TenantLookup = Pick<TenantRepository, 'findByPhoneNumberId'>;

/** What the webhook asks of the privacy module when a flow completion is a data request. */
export interface PrivacyRequestCall {
  tenantId: TenantId;
  subject: SubjectIdentifier;
  type: PrivacyRequestType;
  scope: ErasureScope;
  channel: 'flow' | 'message';
  screen?: string;
  rectification?: { profileName: string };
}
export type RequestPrivacy = (input: PrivacyRequestCall) => Promise<{ id: string }>;

/**
 * The stored media files the webhook may have to remove itself: a `revoke` takes the file of the revoked
 * message with it (every version and snapshot), not only its reference.
 */
export interface RevokedMedia {
  deleteFile(blobName: string): Promise<void>;
}

export interface WebhookDeps {
  secrets: SecretProvider;
  tenants: TenantLookup;
  subjects: SubjectStore;
  /** Which identifiers are one person (shared/identity). */
  links: IdentityLinkStore;
  /**
   * Documents still under a legacy `<tenantId>|<waId>` key: a phone number newly linked to another
   * identifier has its legacy partition moved at once (docs/identity.md). Absent: nothing is moved.
   */
  legacy?: LegacyDocumentStore;
  markers: Markers;
  /** Media files of revoked messages (Blob `media`). */
  media: RevokedMedia;
  audit: AuditRecorder;
  queue: QueueSender;
  clock: Clock;
  /** How the webhook waits for a message lease another delivery holds (timerSleep in the app). */
  sleep: Sleep;
  telemetry: Telemetry;
  requestPrivacy: RequestPrivacy;
}
