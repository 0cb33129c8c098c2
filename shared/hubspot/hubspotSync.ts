/*
 * HubSpot reference (read 2026-12-04): custom channels OpenAPI, https://github.com/HubSpot/HubSpot-public-api-spec-collection/blob/main/PublicApiSpecs/Conversations/Custom%20Channels/Rollouts/160898/v3/customChannels.json
 * (2026-08-18: publish body, `preResolvedContacts`, 201 with `conversationsThreadId`); custom channels guide,
 * https://developers.hubspot.com/docs/api-reference/conversations-custom-channels-v3/guide (undated:
 * `associateWithContactId` is legacy); conversations OpenAPI, .../Conversations/Conversations/Rollouts/54902/v3/conversations.json
 * (2026-08-14: thread archive). See docs/hubspot.md "Sources".
 */
import { z } from 'zod';
import { decryptText, keyIdOf } from '../crypto/dataEncryption';
import { dataKeyring } from '../crypto/subjectKeys';
import type { Clock } from '../domain/clock';
import { hashOfPartitionKey, identifierOf, normaliseWaId, subjectPartitionKey, tenantIdSchema, toE164, type SubjectHash, type SubjectIdentifier, type TenantId } from '../domain/ids';
import { coverOf, erasedAtOf, erasureCovering } from '../markers/erasureFence';
import type { MarkerStore } from '../markers/markerStore';
import type { MessageStore } from '../messages/messageStore';
import { DeadLetterError, type QueueSender } from '../queue/queuePort';
import { retryDelayMs, throttledDelayMs, type Backoff } from '../retry';
import type { SecretProvider } from '../secrets/secretProvider';
import type { MessageDocument } from '../subjects/documents';
import type { StoredContact, SubjectStore, VersionedDocument } from '../subjects/subjectStore';
import type { Telemetry } from '../telemetry/telemetry';
import type { Tenant } from '../tenants/tenant';
import type { ContactDirectory } from './contactDirectory';
import type { HubSpotContacts } from './contacts';
import { conversationText, HubSpotConversations, type ConversationActor, type CustomChannelMessage, type PublishedMessage } from './conversations';
import { HubSpotError } from './hubspotClient';
import type { HubSpotObjectRegistry } from './objectRegistry';

/** A `hubspot-sync` message: ids and the subject's keyed hash only. */
export const hubspotSyncMessageSchema = z.object({
  tenantId: tenantIdSchema,
  subjectHash: z.string().regex(/^[0-9a-f]{64}$/),
  messageDocId: z.string().regex(/^(msg|out)-[0-9a-f]{1,64}$/),
  /** Transient failures before this message (0 on the first). */
  attempt: z.number().int().min(0).default(0),
  /** 429s (or pacing) before this message: honoured with Retry-After, counted apart. */
  rateLimited: z.number().int().min(0).default(0),
});
export type HubSpotSyncMessage = z.infer<typeof hubspotSyncMessageSchema>;

/** The sync's backoff (shared/retry): by rescheduling the queue message, never by sleeping in the handler. */
export interface SyncRetryPolicy extends Backoff {
  /** Transient failures (5xx, timeouts) before the message is dead-lettered (its document stays pending). */
  maxAttempts: number;
  /** 429s honoured before the message is dead-lettered anyway. */
  maxRateLimited: number;
}

/** 2-2.2 s after the first failure, doubling, at most 5-5.5 min; after a 429 its Retry-After (10 s if none) plus up to a tenth. */
export const DEFAULT_SYNC_RETRY: SyncRetryPolicy = { baseMs: 2000, capMs: 5 * 60_000, jitter: 0.1, throttledMs: 10_000, minRetryAfterMs: 0, maxAttempts: 10, maxRateLimited: 50 };

export interface HubSpotSyncDeps {
  tenants: { get(id: TenantId): Promise<Tenant | undefined> };
  messages: MessageStore;
  subjects: Pick<SubjectStore, 'getContact'>;
  markers: Pick<MarkerStore, 'get'>;
  directory: ContactDirectory;
  contacts: HubSpotContacts;
  /** What Flowkeeper created or used in HubSpot per subject (contact, threads): what an erasure removes without a search. */
  registry: HubSpotObjectRegistry;
  conversations: HubSpotConversations;
  queue: QueueSender;
  secrets: SecretProvider;
  clock: Clock;
  telemetry: Telemetry;
  retry: SyncRetryPolicy;
  /** [0, 1): backoff jitter (a parameter so tests can pin it). */
  random: () => number;
}

export type HubSpotSyncOutcome =
  /** HubSpot confirmed; the document is deleted. */
  | 'published'
  /** HubSpot already had it (a redelivery); the document is deleted. */
  | 'already-published'
  /** The document is gone: erased with the subject, or a redelivery after it was published. */
  | 'gone'
  | 'tenant-gone'
  /** Not pending (a stored message of the encrypted mode): nothing to do. */
  | 'already-stored'
  /** The tenant switched to `encrypted`: the pending content stays, as a stored message. */
  | 'kept-encrypted'
  /** The tenant switched to `none` (or is being cancelled): the pending content is deleted. */
  | 'dropped'
  /** The subject was erased after this message was written: deleted, not published. */
  | 'erased'
  /** The subject opted out: deleted, not published (the webhook stores nothing for them either). */
  | 'suppressed'
  /** Processing restricted (Art. 18): kept encrypted, not published, until its TTL. */
  | 'restricted'
  | 'rescheduled'
  /** An erasure ran while the message was being published: what was published is GDPR-deleted. */
  | 'erased-during-sync';

/**
 * A `hubspot-sync` message: publish one message document to the tenant's HubSpot custom channel, then
 * delete the document ("nothing of the message content is kept after HubSpot confirms").
 *
 * The document is looked up by id: gone means the subject was erased (or a redelivery came after the
 * publish), and the message completes doing nothing. What happens to it follows the tenant's mode at
 * processing time, so a message in flight during a switch is not lost: `encrypted` keeps it as a stored
 * message, `none` deletes it, `hubspot` publishes it. Erased (tombstone), opted-out and restricted
 * subjects are never synced, and no HubSpot contact is created or updated for them.
 *
 * 429s and 5xx complete this message and schedule a new one (Retry-After, or exponential backoff);
 * permanent failures (no channel configured, token missing or refused) dead-letter it with a reason
 * and leave the document pending (encrypted, with its TTL) so a replay after the fix publishes it.
 */
export async function syncMessageToHubSpot(deps: HubSpotSyncDeps, body: unknown): Promise<HubSpotSyncOutcome> {
  const parsed = hubspotSyncMessageSchema.safeParse(body);
  if (!parsed.success) throw new DeadLetterError('InvalidMessage', 'hubspot-sync message does not match its schema');
  const message = parsed.data;
  let result: { outcome: HubSpotSyncOutcome; reason?: string };
  try {
    result = await sync(deps, message);
  } catch (error) {
    if (error instanceof DeadLetterError) deps.telemetry.metric('hubspot.sync', 1, { tenantId: message.tenantId, outcome: 'dead-lettered', reason: error.reason });
    throw error;
  }
  deps.telemetry.metric('hubspot.sync', 1, { tenantId: message.tenantId, outcome: result.outcome, reason: result.reason });
  return result.outcome;
}

async function sync(deps: HubSpotSyncDeps, message: HubSpotSyncMessage): Promise<{ outcome: HubSpotSyncOutcome; reason?: string }> {
  const tenant = await deps.tenants.get(message.tenantId);
  if (!tenant) return { outcome: 'tenant-gone' };
  const found = await deps.messages.find(message.tenantId, message.messageDocId);
  if (!found) return { outcome: 'gone' };
  if (found.doc.syncState !== 'pending') return { outcome: 'already-stored' };
  checkSubject(message.tenantId, found.doc, message.subjectHash);

  if (tenant.messageStorage === 'encrypted') return { outcome: await keepAsStored(deps, found) };
  if (tenant.messageStorage === 'none' || tenant.cancelledAt) {
    await deps.messages.delete(found.doc);
    return { outcome: 'dropped', reason: tenant.cancelledAt ? 'tenant-cancelled' : 'mode-none' };
  }

  const subjectHash = message.subjectHash as SubjectHash;
  const [fence, tombstone, suppression, contact, restriction] = await Promise.all([
    deps.markers.get('fence', tenant.id, subjectHash),
    deps.markers.get('tombstone', tenant.id, subjectHash),
    deps.markers.get('suppression', tenant.id, subjectHash),
    deps.subjects.getContact(tenant.id, subjectHash),
    deps.markers.get('restriction', tenant.id, subjectHash),
  ]);
  // The partition's identifier, as its contact holds it (before the identity migration: the legacy key).
  const identifier = identifierOf(contact?.userId ?? contact?.waId ?? '') ?? legacyIdentifierOf(message.tenantId, found.doc.pk);
  const erasedAt = tombstone ? erasedAtOf(tombstone) : undefined;
  // Covered by an erasure (in flight, or completed after the message was sent): never published.
  if (coverOf(fence, tombstone, new Date(found.doc.sentAt))) {
    await deps.messages.delete(found.doc);
    return { outcome: 'erased' };
  }
  if (suppression || contact?.optIn === 'opted_out') {
    await deps.messages.delete(found.doc);
    return { outcome: 'suppressed' };
  }
  if (contact?.restricted || restriction) return { outcome: 'restricted' };
  if (!identifier) {
    // No contact says whom the message is from (it expired first): nothing to address it to.
    await deps.messages.delete(found.doc);
    return { outcome: 'dropped', reason: 'no-contact' };
  }

  let channel: { channelId: string; channelAccountId: string };
  try {
    channel = HubSpotConversations.channelOf(tenant.hubspot);
  } catch (error) {
    throw new DeadLetterError('HubSpotNotConfigured', (error as Error).message);
  }
  let content: unknown;
  try {
    content = JSON.parse(decryptText(await dataKeyring(deps.secrets, keyIdOf(found.doc.ciphertext)), found.doc.ciphertext, found.doc.id));
  } catch {
    throw new DeadLetterError('Undecryptable', 'the message content does not decrypt with DATA_ENCRYPTION_KEY or DATA_ENCRYPTION_KEY_PREVIOUS');
  }

  let contactId: string;
  let published: PublishedMessage;
  try {
    ({ contactId, published } = await publish(deps, { tenant, identifier, subjectHash, contact, erasedAt, channel, doc: found.doc, content }));
  } catch (error) {
    if (error instanceof HubSpotError) return reschedule(deps, message, error);
    throw error;
  }
  // Recorded before the document goes: if this fails, the redelivery publishes again (HubSpot answers
  // with the first message, idempotency id) and records it then.
  if (published.threadId) await deps.registry.recordThread(tenant.id, subjectHash, { id: published.threadId, channelAccountId: channel.channelAccountId }, registryTtlSeconds(tenant));

  const deleted = await deps.messages.delete(found.doc);
  // Write, then look again: an erasure that began while we published includes what we published (its
  // HubSpot eraser may have looked before our contact or message existed). The same when the document
  // went meanwhile with the contact document: the subject was erased.
  const covered = await erasureCovering(deps.markers, tenant.id, subjectHash, new Date(found.doc.sentAt));
  if (covered || (deleted === 'gone' && !(await deps.subjects.getContact(tenant.id, subjectHash)))) {
    if (published.threadId) await deps.conversations.archiveThread(tenant.id, published.threadId).catch(() => undefined);
    await deps.contacts.gdprDelete(tenant.id, contactId).catch(() => undefined);
    await deps.registry.forget(tenant.id, subjectHash).catch(() => undefined);
    deps.directory.forget(tenant.id, subjectHash);
    deps.telemetry.event('hubspot.sync.raced_erasure', { tenantId: tenant.id });
    return { outcome: 'erased-during-sync' };
  }
  return { outcome: published.alreadyPublished ? 'already-published' : 'published' };
}

interface PublishInput {
  tenant: Tenant;
  identifier: SubjectIdentifier;
  subjectHash: SubjectHash;
  contact: StoredContact | undefined;
  erasedAt: number | undefined;
  channel: { channelId: string; channelAccountId: string };
  doc: MessageDocument;
  content: unknown;
}

/** How long a subject's HubSpot object record lives: as its contact document (`retention.contactDays`). */
function registryTtlSeconds(tenant: Tenant): number {
  return tenant.retention.contactDays * 86_400;
}

/** Finds or creates the contact, publishes; a cached or recorded contact HubSpot refuses is looked up once more. */
async function publish(deps: HubSpotSyncDeps, input: PublishInput): Promise<{ contactId: string; published: PublishedMessage }> {
  const lookup = {
    tenantId: input.tenant.id,
    subjectHash: input.subjectHash,
    identifier: input.identifier,
    ttlSeconds: registryTtlSeconds(input.tenant),
    ...(input.contact?.profileName ? { profileName: input.contact.profileName } : {}),
    ...(input.contact?.rectifiedAt ? { rectifiedAt: input.contact.rectifiedAt } : {}),
    ...(input.erasedAt !== undefined ? { notBefore: input.erasedAt } : {}),
  };
  for (let round = 0; ; round++) {
    const { contactId, cached, matchedBy } = await deps.directory.contactFor(lookup);
    try {
      const published = await deps.conversations.publish(input.tenant.id, input.channel.channelId, customChannelMessage({ ...input, contactId, matchedBy }));
      return { contactId, published };
    } catch (error) {
      if (!(cached && round === 0 && error instanceof HubSpotError && error.kind === 'permanent' && (error.status === 400 || error.status === 404))) throw error;
      // HubSpot no longer has that contact (deleted or merged by someone): look the subject up again.
      deps.directory.forget(input.tenant.id, input.subjectHash);
      await deps.registry.forgetContact(input.tenant.id, input.subjectHash, contactId);
    }
  }
}

/**
 * The custom channel message for a WhatsApp message: the person by phone number, the business by channel
 * account, and the HubSpot contact through `preResolvedContacts` (a message without it is attached to no
 * contact, and the contact's GDPR delete would not take it).
 */
export function customChannelMessage(input: PublishInput & { contactId: string; matchedBy?: readonly string[] }): CustomChannelMessage {
  const person: ConversationActor = {
    // A username user has no phone number: HubSpot's opaque channel-specific id carries the BSUID.
    deliveryIdentifier: input.identifier.kind === 'waId' ? { type: 'HS_PHONE_NUMBER', value: toE164(input.identifier.value) } : { type: 'CHANNEL_SPECIFIC_OPAQUE_ID', value: input.identifier.value },
    ...(input.contact?.profileName ? { name: input.contact.profileName } : {}),
  };
  const business: ConversationActor = { deliveryIdentifier: { type: 'CHANNEL_SPECIFIC_OPAQUE_ID', value: input.channel.channelAccountId }, name: input.tenant.name };
  const inbound = input.doc.direction === 'inbound';
  return {
    text: conversationText(input.content),
    messageDirection: inbound ? 'INCOMING' : 'OUTGOING',
    channelAccountId: input.channel.channelAccountId,
    integrationIdempotencyId: input.doc.messageId,
    // One thread per subject, named by the keyed hash (an opaque id, like HubSpot's own).
    integrationThreadId: input.subjectHash,
    senders: [inbound ? person : business],
    recipients: [inbound ? business : person],
    timestamp: input.doc.sentAt,
    ...(/^\d{1,15}$/.test(input.contactId)
      ? { preResolvedContacts: { contacts: [{ contactVid: Number(input.contactId), contactPropertiesLeadingToMatch: input.matchedBy && input.matchedBy.length > 0 ? [...input.matchedBy] : ['phone'] }] } }
      : {}),
    attachments: [],
  };
}

/** The mode is `encrypted` now: the pending document becomes a stored message, keeping its expiry. */
async function keepAsStored(deps: HubSpotSyncDeps, found: VersionedDocument<MessageDocument>): Promise<HubSpotSyncOutcome> {
  let current: VersionedDocument<MessageDocument> | undefined = found;
  for (let attempt = 0; attempt < 3 && current; attempt++) {
    if (current.doc.syncState !== 'pending') return 'already-stored';
    const { syncState: _pending, ...stored } = current.doc;
    // A write restarts Cosmos' TTL clock: the remaining lifetime keeps the original expiry.
    const ttl = Math.max(1, Math.ceil((Date.parse(stored.expiresAt) - deps.clock.now().getTime()) / 1000));
    const result = await deps.messages.replace({ ...stored, ttl }, current.etag);
    if (result === 'replaced') return 'kept-encrypted';
    if (result === 'gone') return 'gone';
    current = await deps.messages.find(found.doc.tenantId as TenantId, found.doc.id);
  }
  if (!current) return 'gone';
  throw new Error('the message document kept changing while it was being kept');
}

async function reschedule(deps: HubSpotSyncDeps, message: HubSpotSyncMessage, error: HubSpotError): Promise<{ outcome: HubSpotSyncOutcome; reason: string }> {
  if (error.kind === 'permanent') throw new DeadLetterError('HubSpotPermanentFailure', error.message);
  const limited = error.kind === 'rate-limited';
  const attempt = message.attempt + (limited ? 0 : 1);
  const rateLimited = message.rateLimited + (limited ? 1 : 0);
  if (attempt >= deps.retry.maxAttempts || rateLimited >= deps.retry.maxRateLimited) {
    throw new DeadLetterError('HubSpotUnavailable', `${error.message} (gave up after ${attempt} failures and ${rateLimited} rate limits; the message waits encrypted until replayed or expired)`);
  }
  const delay = limited ? throttledDelayMs(deps.retry, error.retryAfterMs, deps.random) : retryDelayMs(deps.retry, { failures: attempt, retryAfterMs: error.retryAfterMs, random: deps.random });
  await deps.queue.send('hubspot-sync', {
    messageId: `${message.messageDocId}:retry${attempt + rateLimited}`,
    body: { ...message, attempt, rateLimited },
    scheduledAt: new Date(deps.clock.now().getTime() + delay),
  });
  return { outcome: 'rescheduled', reason: limited ? `rate-limited${error.policy ? `:${error.policy}` : ''}` : error.status ? `http-${error.status}` : 'unreachable' };
}

/** The message's subject hash must be the document's own partition's: it is what erasure and the markers key on. */
function checkSubject(tenantId: TenantId, doc: MessageDocument, subjectHash: string): void {
  if (doc.pk !== subjectPartitionKey(tenantId, subjectHash as SubjectHash) && hashOfPartitionKey(tenantId, doc.pk) !== undefined) {
    throw new DeadLetterError('SubjectMismatch', 'the message subject hash does not match the message document');
  }
}

/** A legacy partition key (`<tenantId>|<waId>`, before the identity migration) names its phone number. */
function legacyIdentifierOf(tenantId: TenantId, pk: string): SubjectIdentifier | undefined {
  if (hashOfPartitionKey(tenantId, pk) !== undefined || !pk.startsWith(`${tenantId}|`)) return undefined;
  const waId = normaliseWaId(pk.slice(tenantId.length + 1));
  return waId ? { kind: 'waId', value: waId } : undefined;
}
