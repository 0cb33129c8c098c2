import { encryptText } from '../crypto/dataEncryption';
import { dataKeyring } from '../crypto/subjectKeys';
import { identifierHashOf, legacyPartitionKey, normaliseUserId, normaliseWaId, subjectPartitionKey, type SubjectHash, type SubjectIdentifier, type TenantId } from '../domain/ids';
import type { LinkCause } from '../identity/identityLinks';
import { migratePhonePartition } from '../identity/migration';
import { linkIdentifiers, markPerson, personMarker, unmarkPerson, type PersonMarkerKind } from '../identity/person';
import type { Marker } from '../markers/markerStore';
import type { Tenant } from '../tenants/tenant';
import { contentOf, flowDocIdOf, messageDocIdOf, messageKeyOf, SEEN_MESSAGE_TTL_SECONDS, type MessageContext, type MessageOutcome } from './messageContext';
import type { KnownMessage, UserIdUpdate, UserPreference, WebhookContactBlock } from './payload';
import type { WebhookDeps } from './ports';

/**
 * What the webhook does with Meta's identity events (Meta, "Business-scoped user IDs", updated Jun 29
 * 2026; "System messages", Aug 11 2026; "user_preferences", May 21 2026; "Revoke", May 21 2026; "Edit",
 * Jul 20 2026; docs/webhook.md has the table): link identifiers shown together, record the person's
 * marketing preference, and honour the user's own deletions and edits. Keyed hashes only leave the
 * subject's partitions.
 */

const personDeps = (deps: WebhookDeps) => ({ links: deps.links, markers: deps.markers, audit: deps.audit });

/**
 * Links identifiers and, when a link is new, moves the legacy partition of each phone number among them
 * (written before BSUIDs, `<tenantId>|<waId>`): an erasure that reaches the number only through the link
 * (by hash) then finds its older documents too. The plain number is known here, and only here.
 */
async function link(deps: WebhookDeps, tenantId: TenantId, identifiers: readonly SubjectIdentifier[], hashKey: string, cause: LinkCause): Promise<number> {
  const hashes = identifiers.map((i) => identifierHashOf(hashKey, tenantId, i));
  const { linked } = await linkIdentifiers(personDeps(deps), tenantId, hashes, cause);
  if (linked > 0 && deps.legacy) {
    for (const identifier of identifiers) {
      if (identifier.kind === 'waId') await migratePhonePartition(deps.legacy, hashKey, tenantId, identifier.value);
    }
  }
  return linked;
}

/** Pairs already linked, per process: a message from a known pair does not read the links again. */
const linkedRecently = new WeakMap<WebhookDeps, Set<string>>();
const MAX_REMEMBERED_LINKS = 10_000;

/** Links the identifiers of one message's sender (a phone number and a BSUID in one contact block). */
export async function linkSender(deps: WebhookDeps, tenantId: TenantId, identifiers: readonly SubjectIdentifier[], hashes: readonly SubjectHash[], hashKey: string): Promise<void> {
  const distinct = [...new Set(hashes)];
  if (distinct.length < 2) return;
  const key = `${tenantId}|${[...distinct].sort().join('|')}`;
  const known = linkedRecently.get(deps) ?? new Set<string>();
  linkedRecently.set(deps, known);
  if (known.has(key)) return;
  await link(deps, tenantId, identifiers, hashKey, 'contact');
  if (known.size >= MAX_REMEMBERED_LINKS) known.clear();
  known.add(key);
}

export function markPersonFromWebhook(deps: WebhookDeps, tenantId: TenantId, hashes: readonly SubjectHash[], kind: PersonMarkerKind, options: { ttlSeconds?: number; data?: Marker['data'] }) {
  return markPerson(personDeps(deps), tenantId, hashes, kind, options);
}

export function unmarkPersonFromWebhook(deps: WebhookDeps, tenantId: TenantId, hashes: readonly SubjectHash[], kind: PersonMarkerKind) {
  return unmarkPerson(personDeps(deps), tenantId, hashes, kind);
}

function identifiersIn(values: { waIds?: (string | undefined)[]; userIds?: (string | undefined)[] }): SubjectIdentifier[] {
  const found: SubjectIdentifier[] = [];
  for (const raw of values.waIds ?? []) {
    const waId = raw ? normaliseWaId(raw) : undefined;
    if (waId && !found.some((f) => f.value === waId)) found.push({ kind: 'waId', value: waId });
  }
  for (const raw of values.userIds ?? []) {
    const userId = raw ? normaliseUserId(raw) : undefined;
    if (userId && !found.some((f) => f.value === userId)) found.push({ kind: 'userId', value: userId });
  }
  return found;
}

/**
 * A `system` message: `user_changed_number` (the old number in `from`, the new one in `system.wa_id`,
 * `new_wa_id` before v12) or `user_changed_user_id` (the new BSUID in `system.user_id`). Every identifier
 * present is linked, old and new: one erasure then covers the whole history. The body (it holds the
 * name and both numbers) is never read.
 */
export async function linkSystemChange(deps: WebhookDeps, tenant: Tenant, message: Extract<KnownMessage, { type: 'system' }>, hashKey: string): Promise<MessageOutcome> {
  const type = message.system.type;
  if (type !== 'user_changed_number' && type !== 'user_changed_user_id') return 'ignored';
  const identifiers = identifiersIn({
    waIds: [message.from, message.system.wa_id, message.system.new_wa_id],
    userIds: [message.from_user_id, message.system.user_id, message.from_parent_user_id, message.system.parent_user_id],
  });
  if (identifiers.length < 2) return 'ignored';
  await link(deps, tenant.id, identifiers, hashKey, type);
  deps.telemetry.metric('webhook.identity.linked', 1, { tenantId: tenant.id, cause: type });
  return 'linked';
}

/** A `user_id_update` entry: the previous and current BSUID (and parent BSUID), with the number when Meta sends it. */
export async function applyUserIdUpdate(deps: WebhookDeps, tenant: Tenant, update: UserIdUpdate, contacts: readonly WebhookContactBlock[], hashKey: string): Promise<boolean> {
  const identifiers = identifiersIn({
    waIds: [update.wa_id, ...(contacts.length === 1 ? [contacts[0]!.wa_id] : [])],
    userIds: [update.user_id?.previous, update.user_id?.current, update.parent_user_id?.previous, update.parent_user_id?.current],
  });
  if (identifiers.length < 2) return false;
  await link(deps, tenant.id, identifiers, hashKey, 'user_id_update');
  deps.telemetry.metric('webhook.identity.linked', 1, { tenantId: tenant.id, cause: 'user_id_update' });
  return true;
}

/**
 * A `user_preferences` entry: the person stopped or resumed marketing messages in WhatsApp. Recorded as
 * the person's marketing preference (a person marker: every identifier), unless a newer one is recorded
 * already (Meta may deliver out of order). Audited and counted by value, never by identifier.
 */
export async function applyUserPreference(deps: WebhookDeps, tenant: Tenant, preference: UserPreference, contacts: readonly WebhookContactBlock[], hashKey: string): Promise<'recorded' | 'older' | 'ignored'> {
  if (preference.category !== 'marketing_messages' || (preference.value !== 'stop' && preference.value !== 'resume')) return 'ignored';
  const contact = contacts.find((c) => c.user_id !== undefined && c.user_id === preference.user_id) ?? (contacts.length === 1 ? contacts[0] : undefined);
  const identifiers = identifiersIn({ waIds: [preference.wa_id, contact?.wa_id], userIds: [preference.user_id, preference.parent_user_id, contact?.user_id] });
  if (identifiers.length === 0) return 'ignored';
  const hashes = identifiers.map((i) => identifierHashOf(hashKey, tenant.id, i));
  await linkSender(deps, tenant.id, identifiers, hashes, hashKey);
  const at = new Date(Number(preference.timestamp) * 1000).toISOString();
  const current = await personMarker(deps, tenant.id, hashes, 'marketing-preference');
  if (current && String(current.data?.at ?? '') > at) return 'older';
  await markPerson(personDeps(deps), tenant.id, hashes, 'marketing-preference', { ttlSeconds: -1, data: { value: preference.value, at, source: 'user_preferences' } });
  await deps.audit.record({
    tenantId: tenant.id,
    type: 'subject.marketing-preference',
    subjectHash: hashes[0]!,
    details: { value: preference.value, channel: 'whatsapp' },
    idempotencyKey: `marketing-preference-${messageKeyOf(hashKey, tenant.id, `preference|${hashes[0]}|${preference.timestamp}|${preference.value}`)}`,
  });
  deps.telemetry.metric('webhook.user_preferences', 1, { tenantId: tenant.id, value: preference.value });
  return 'recorded';
}

/** The partitions a message of this sender can be in: each identifier's, and a phone number's legacy one. */
function partitionsOfSender(m: MessageContext): string[] {
  const pks = m.hashes.map((h) => subjectPartitionKey(m.tenant.id, h));
  for (const identifier of m.sender.identifiers) if (identifier.kind === 'waId') pks.push(legacyPartitionKey(m.tenant.id, identifier.value));
  return pks;
}

/**
 * `revoke`: the user deleted the message for everyone. Whatever Flowkeeper holds of it goes: in Cosmos
 * the stored content, a flow response, a media reference (in the `hubspot` mode the copy still waiting
 * for HubSpot, which is then never published), and in Blob the media file already downloaded (a download
 * still on its way finds its reference gone and keeps nothing: mediaDownload.ts). The original's id is remembered as seen, so a late
 * delivery of it is not stored. A copy HubSpot already logged stays there: HubSpot's conversations API
 * deletes no single message (docs/webhook.md).
 */
export async function applyRevoke(deps: WebhookDeps, m: MessageContext, originalId: string): Promise<MessageOutcome> {
  const originalKey = messageKeyOf(m.hashKey, m.tenant.id, originalId);
  await deps.markers.put('seen-message', m.tenant.id, originalKey, { ttlSeconds: SEEN_MESSAGE_TTL_SECONDS });
  let removed = 0;
  for (const pk of partitionsOfSender(m)) {
    // The file first, then its reference: a failure in between leaves the reference, and Meta's retry
    // (this answers 503) finds the file again by it.
    for (const blobName of await deps.subjects.mediaFilesOfMessage(pk, originalId)) await deps.media.deleteFile(blobName);
    removed += await deps.subjects.removeByMessageId(pk, originalId, [messageDocIdOf(originalKey), flowDocIdOf(originalKey)]);
  }
  await deps.audit.record({ tenantId: m.tenant.id, type: 'message.revoked', subjectHash: m.subjectHash, details: { messageKey: originalKey, removed }, idempotencyKey: `revoked-${m.messageKey}` });
  deps.telemetry.metric('webhook.message.revoked', 1, { tenantId: m.tenant.id, removed });
  return 'revoked';
}

/**
 * `edit`: the user changed the message. The stored content is replaced by the new one (same document,
 * re-encrypted; never both). Nothing stored (the `none` mode, an opted-out subject, or HubSpot already
 * has it) means nothing to replace.
 */
export async function applyEdit(deps: WebhookDeps, m: MessageContext, originalId: string, edited: Record<string, unknown> & { type: string }): Promise<MessageOutcome> {
  const originalKey = messageKeyOf(m.hashKey, m.tenant.id, originalId);
  const id = messageDocIdOf(originalKey);
  let replaced = 0;
  for (let attempt = 0; attempt < 5; attempt++) {
    const found = await deps.subjects.findById(m.tenant.id, 'message', id);
    if (!found || !partitionsOfSender(m).includes(found.doc.pk)) break;
    const keyring = await dataKeyring(deps.secrets);
    const content = contentOf({ ...edited, type: edited.type } as unknown as KnownMessage);
    const outcome = await deps.subjects.replace({ ...found.doc, messageType: edited.type, ciphertext: encryptText(keyring, JSON.stringify({ ...content, edited: true }), id), keyId: keyring.current.id }, found.etag);
    if (outcome === 'changed') continue;
    replaced = outcome === 'replaced' ? 1 : 0;
    break;
  }
  await deps.audit.record({ tenantId: m.tenant.id, type: 'message.edited', subjectHash: m.subjectHash, details: { messageKey: originalKey, replaced }, idempotencyKey: `edited-${m.messageKey}` });
  deps.telemetry.metric('webhook.message.edited', 1, { tenantId: m.tenant.id, replaced });
  return 'edited';
}
