import type { AuditEvent, AuditEventInput } from '../audit/auditLog';
import type { DataKeyring } from '../crypto/dataEncryption';
import type { SubjectHash, SubjectIdentifier, TenantId } from '../domain/ids';
import type { Marker, MarkerKind } from '../markers/markerStore';
import type { AnySubjectDocument, StoredContact } from '../subjects/subjectStore';
import type { ConsentDocument, SubjectDocumentType } from '../subjects/documents';
import type { Tenant } from '../tenants/tenant';
import type { PrivacyRequestDocument, PrivacyRequestStatus, PrivacyRequestType } from './privacyRequest';

/**
 * What the privacy use cases need from the outside world, declared here, by the core: adapters (Cosmos in
 * shared/cosmos, Blob in shared/storage, HubSpot in shared/hubspot, the Graph API in shared/whatsapp)
 * implement these, and the unit tests pass in-memory doubles (test/doubles). No port exposes an SDK type.
 *
 * A subject is passed as a `SubjectRef` value, not as a bare wa_id: when a subject becomes a person with
 * several identifiers, the value grows and the ports keep their shape.
 */
export interface SubjectRef {
  tenantId: TenantId;
  /** The identifier the request names (decrypted for the step), and its keyed hash. */
  identifier: SubjectIdentifier;
  subjectHash: SubjectHash;
  /** Every identifier hash of the person (shared/identity), `subjectHash` included. */
  subjectHashes: readonly SubjectHash[];
}

/** Where one subject document is: its id and partition. */
export interface SubjectDocumentKey {
  id: string;
  pk: string;
  type: SubjectDocumentType;
}

/** A privacy request document with the version (etag) it was read or written at. */
export interface VersionedRequest {
  doc: PrivacyRequestDocument;
  etag: string;
}

/**
 * The privacy request records. Every change is a guarded read-modify-write: `change` must be a pure
 * function of the document (it may run more than once) and returns undefined to leave it as it is.
 */
export interface PrivacyRequestRepository {
  create(doc: PrivacyRequestDocument): Promise<VersionedRequest>;
  get(id: string): Promise<PrivacyRequestDocument | undefined>;
  read(id: string): Promise<VersionedRequest | undefined>;
  /** As `read`, but may answer with the version this instance wrote a moment ago (a queue step's next hop). */
  readForStep(id: string): Promise<VersionedRequest | undefined>;
  mutate(
    id: string,
    change: (doc: PrivacyRequestDocument) => PrivacyRequestDocument | undefined,
    known?: VersionedRequest,
  ): Promise<(VersionedRequest & { changed: boolean }) | undefined>;
  /** One open request per (tenant, subject, type, scope): the lock, or the open request that holds it. */
  acquireOpenLock(openKey: string, requestId: string): Promise<{ acquired: true; etag: string } | { acquired: false; holder: PrivacyRequestDocument }>;
  releaseOpenLock(openKey: string, requestId: string, etag?: string): Promise<void>;
  /** A subject's requests, newest first. */
  listForSubject(tenantId: TenantId, subjectHash: SubjectHash, options?: { type?: PrivacyRequestType; limit?: number }): Promise<PrivacyRequestDocument[]>;
  /** Requests in the given statuses (all tenants, or one), oldest first. */
  listByStatus(statuses: readonly PrivacyRequestStatus[], options?: { tenantId?: TenantId; limit?: number }): Promise<PrivacyRequestDocument[]>;
  /** Completed access requests whose export is past `expiresAt` and not deleted yet. */
  listExpiredExports(now: string, limit: number): Promise<PrivacyRequestDocument[]>;
  countByStatus(tenantId: TenantId): Promise<Record<PrivacyRequestStatus, number>>;
}

/** The fields of a subject document the access summary reads (kinds and flags, never contents). */
export interface SubjectDocumentSummary {
  type: string;
  firstSeenAt?: string;
  lastSeenAt?: string;
  profileName?: string;
  optIn?: string;
  restricted?: boolean;
  granted?: boolean;
}

/** A subject's documents (the Cosmos `subjects` partition): what erasure, export, summary and the direct rights need. */
export interface SubjectDocumentStore {
  /**
   * Ids, partitions and types of the person's documents (every identifier's partition, and the legacy
   * phone-number partition until migrated), of the given types (every type when omitted).
   */
  list(subject: SubjectRef, types?: readonly SubjectDocumentType[]): Promise<SubjectDocumentKey[]>;
  /** Deletes these documents; one already gone counts as done. Returns how many were deleted. */
  delete(subject: SubjectRef, docs: readonly SubjectDocumentKey[]): Promise<number>;
  /** Every document of the subject as stored (the access export). */
  readAll(subject: SubjectRef): Promise<Record<string, unknown>[]>;
  summary(subject: SubjectRef): Promise<SubjectDocumentSummary[]>;
  consents(subject: SubjectRef): Promise<ConsentDocument[]>;
  getContact(tenantId: TenantId, subjectHash: SubjectHash): Promise<StoredContact | undefined>;
  updateContact(
    tenantId: TenantId,
    subjectHash: SubjectHash,
    change: (current: StoredContact | undefined) => StoredContact | undefined,
  ): Promise<{ contact: StoredContact | undefined; created: boolean }>;
  upsert(doc: AnySubjectDocument): Promise<void>;
  /** Up to `max` subjects of the tenant that still hold a contact (account cancellation), by the identifier the contact holds. */
  subjectsWithData(tenantId: TenantId, max: number): Promise<SubjectIdentifier[]>;
  /** Deletes every subject document of the tenant that is left (the end of an account cancellation); how many. */
  deleteRemaining(tenantId: TenantId): Promise<number>;
  /** How many subjects of the tenant have a contact document. */
  countSubjects(tenantId: TenantId): Promise<number>;
}

/** Access exports as named files (the Blob `exports` container). */
export interface ExportStore {
  write(name: string, content: Buffer): Promise<void>;
  /** The content, or undefined when it is gone. */
  read(name: string): Promise<Buffer | undefined>;
  /** With its snapshots; false when it was already gone. */
  delete(name: string): Promise<boolean>;
}

/** Every file under a tenant's prefixes (media and exports), for the end of an account cancellation. */
export interface TenantFiles {
  deleteAll(tenantId: TenantId): Promise<number>;
}

/** Tombstones, the suppression list and checkpoints: keyed hashes and ids only. */
export interface PrivacyMarkers {
  get(kind: MarkerKind, tenantId: TenantId, key: string): Promise<Marker | undefined>;
  put(kind: MarkerKind, tenantId: TenantId, key: string, options?: { ttlSeconds?: number; data?: Marker['data'] }): Promise<Marker>;
  delete(kind: MarkerKind, tenantId: TenantId, key: string): Promise<void>;
}

export interface TenantDirectory {
  get(id: TenantId): Promise<Tenant | undefined>;
  list(): Promise<Tenant[]>;
  save(tenant: Tenant): Promise<void>;
  delete(id: TenantId): Promise<void>;
}

export interface AuditTrail {
  record(input: AuditEventInput): Promise<AuditEvent>;
}

/** The subject's contacts in the tenant's CRM (HubSpot), for a rectification (Art. 16/19). */
export interface CrmContacts {
  /** Pushes the corrected name to every contact of the subject; returns how many were updated. */
  renameSubject(subject: SubjectRef, profileName: string): Promise<number>;
}

/**
 * What Flowkeeper recorded of the CRM objects it created or used, per subject (HubSpot ids under keyed
 * hashes, no personal data): the HubSpot store reads it to erase without a search; an account
 * cancellation deletes what is left of a tenant's.
 */
export interface CrmRecords {
  /** Deletes every record of the tenant; how many there were. */
  forgetTenant(tenantId: TenantId): Promise<number>;
}

/** The optional WhatsApp message that tells the subject their data was erased (best effort). */
export interface ErasureConfirmations {
  /** True when the message was accepted; false (never a throw) when it could not be sent. */
  send(tenant: Tenant, subject: SubjectRef): Promise<boolean>;
}

/**
 * The data keyring (current key, and the previous one during a rotation). Given the key id a ciphertext
 * names, a ring without it is read again from Key Vault first (shared/crypto/subjectKeys.ts: dataKeyring).
 */
export type Keyring = (needs?: string) => Promise<DataKeyring>;
