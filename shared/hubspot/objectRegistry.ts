/*
 * HubSpot reference (read 2026-12-04): the ids it records are those of the contacts OpenAPI
 * (https://github.com/HubSpot/HubSpot-public-api-spec-collection/blob/main/PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json, 2026-06-23: `hs_object_id`)
 * and the conversations OpenAPI (.../Conversations/Conversations/Rollouts/54902/v3/conversations.json,
 * 2026-08-14: thread `id`, `originalChannelAccountId`). See docs/hubspot.md "Sources".
 */
import type { SubjectHash, TenantId } from '../domain/ids';

/**
 * What Flowkeeper itself put in a tenant's HubSpot for a subject: the contact it created or found and
 * published to, and the inbox threads its custom-channel messages made (with their channel account). An
 * erasure reads it and needs no search for any of them; search remains for contacts made by others.
 *
 * Stored by `CosmosHubSpotObjectRegistry` (shared/cosmos/hubspotObjectRecords.ts): one document per subject in the `markers` container (kind `hubspot-objects`, partition
 * `<tenantId>|hubspot-objects|<subjectHash>`, as every marker): HubSpot object ids, the keyed hash and
 * times only, no personal data. Lifetime: the tenant's `retention.contactDays`, as the subject's contact
 * document, refreshed by every write and at least once a day while messages are published (so it lives
 * as long as Flowkeeper knows the subject); an expired one is swept by the retention sweep like every
 * marker with `expiresAt`. The erasure deletes it once HubSpot has done its part; an account
 * cancellation deletes what is left of the tenant's (see docs/hubspot.md).
 */
export interface RecordedContact {
  id: string;
  /** `created` by Flowkeeper, or `found` (made by someone else, then used by Flowkeeper). */
  origin: 'created' | 'found';
  /** The contact properties that identify the subject (`phone` for a contact Flowkeeper created). */
  matchedBy: string[];
  at: string;
}

export interface RecordedThread {
  id: string;
  channelAccountId: string;
  at: string;
}

export interface RecordedObjects {
  contacts: RecordedContact[];
  threads: RecordedThread[];
}

/** The port the sync and the erasure use; `CosmosHubSpotObjectRegistry` (shared/cosmos) is the adapter. */
export interface HubSpotObjectRegistry {
  get(tenantId: TenantId, subjectHash: SubjectHash): Promise<RecordedObjects | undefined>;
  recordContact(tenantId: TenantId, subjectHash: SubjectHash, contact: Omit<RecordedContact, 'at'>, ttlSeconds: number): Promise<void>;
  recordThread(tenantId: TenantId, subjectHash: SubjectHash, thread: { id: string; channelAccountId: string }, ttlSeconds: number): Promise<void>;
  /** A recorded contact HubSpot no longer has (deleted or merged away by someone): dropped from the record. */
  forgetContact(tenantId: TenantId, subjectHash: SubjectHash, contactId: string): Promise<void>;
  /** The whole record (after the subject's erasure). */
  forget(tenantId: TenantId, subjectHash: SubjectHash): Promise<void>;
  /** Every record of a tenant (account cancellation); how many were deleted. */
  forgetTenant(tenantId: TenantId): Promise<number>;
}

/** The marker kind of the records (partition `<tenantId>|hubspot-objects|<subjectHash>`). */
export const HUBSPOT_OBJECTS_KIND = 'hubspot-objects';
