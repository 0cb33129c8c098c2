import type { SubjectIdentifier, TenantId } from '../domain/ids';
import type { ErasureScope, PrivacyRequestStatus, PrivacyRequestType } from '../privacy/privacyRequest';

/**
 * What the Privacy Centre flow needs from the rest of Flowkeeper. The functions entry point wires it to
 * the same privacy-request use cases as the admin API (shared/privacy); tests pass an in-memory one.
 */
export interface PrivacyCentrePort {
  /** The tenant's display name and retention, or undefined when it does not exist (or is being cancelled). */
  tenant(tenantId: TenantId): Promise<TenantView | undefined>;
  /** What is held about the subject (the access use case's summary): kinds and counts, never contents. */
  heldData(tenantId: TenantId, subject: SubjectIdentifier): Promise<HeldDataView>;
  /** The subject's privacy requests, newest first. */
  requests(tenantId: TenantId, subject: SubjectIdentifier): Promise<RequestView[]>;
  createRequest(input: {
    tenantId: TenantId;
    subject: SubjectIdentifier;
    type: Extract<PrivacyRequestType, 'erasure' | 'objection'>;
    scope: ErasureScope;
    /** The flow screen the request was made on (for the request record). */
    screen: string;
  }): Promise<RequestView>;
}

export interface TenantView {
  name: string;
  retention: { contactDays: number; flowResponseDays: number; messageDays: number; mediaDays: number };
  /** The tenant passes message content to HubSpot, or syncs contacts there. */
  usesHubspot: boolean;
}

export interface HeldDataView {
  contact: { firstSeenAt?: string; lastSeenAt?: string; hasProfileName: boolean } | undefined;
  flowResponses: number;
  messages: number;
  media: number;
  marketing: 'opted_in' | 'opted_out' | 'unknown';
  /** The subject's own stop / resume in WhatsApp (`user_preferences`), when one was received. */
  whatsappMarketing?: 'stop' | 'resume';
  restricted: boolean;
}

export interface RequestView {
  id: string;
  type: PrivacyRequestType;
  scope: ErasureScope;
  status: PrivacyRequestStatus;
  receivedAt: string;
  dueAt: string;
  completedAt?: string;
}

export const OPEN_STATUSES: readonly PrivacyRequestStatus[] = ['received', 'in_progress', 'verifying'];
