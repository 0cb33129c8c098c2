import { encryptText } from '../crypto/dataEncryption';
import { dataKeyring } from '../crypto/subjectKeys';
import { declaredScreen } from '../domain/allowList';
import { subjectPartitionKey, type TenantId } from '../domain/ids';
import { personMarker } from '../identity/person';
import { coverOf, type ErasureCover } from '../markers/erasureFence';
import { requireSecret } from '../secrets/secretProvider';
import { lifetime, type FlowResponseDocument, type MediaRefDocument, type MessageDocument } from '../subjects/documents';
import type { StoredContact } from '../subjects/subjectStore';
import { ttlSeconds, type Tenant } from '../tenants/tenant';
import { isPrivacyCentreClosing, parseFlowCompletion } from './flowCompletion';
import { type InboundMessage, type KnownMessage, type MediaType } from './payload';
import type { WebhookDeps } from './ports';
import { contentOf, flowDocIdOf, messageDocIdOf, messageKeyOf, SEEN_MESSAGE_TTL_SECONDS, type MessageContext, type MessageOutcome } from './messageContext';
export { contentOf, flowDocIdOf, messageDocIdOf, messageKeyOf, SEEN_MESSAGE_TTL_SECONDS, type MessageContext, type MessageOutcome } from './messageContext';
import { applyEdit, applyRevoke, linkSender, linkSystemChange, markPersonFromWebhook, unmarkPersonFromWebhook } from './identityEvents';
import { hashesOf, senderOf } from './sender';
import type { WebhookContactBlock } from './payload';

/**
 * While a message is being processed its id is leased for this long. A failure releases the lease; if
 * even that fails (the store is down), the lease runs out and Meta's next retry processes the message.
 */
export const PROCESSING_LEASE_SECONDS = 120;

/** STOP / UNSUBSCRIBE and START, trimmed and case-insensitive, as the opt-out keywords people type. */
export function optCommandOf(message: KnownMessage): 'opt-out' | 'opt-in' | undefined {
  if (message.type !== 'text') return undefined;
  const word = message.text.body.trim().toUpperCase();
  if (word === 'STOP' || word === 'UNSUBSCRIBE') return 'opt-out';
  if (word === 'START') return 'opt-in';
  return undefined;
}

/**
 * One inbound message: deduplicated by its id, dropped when it predates the subject's erasure, then the
 * contact is refreshed and the content handled by the tenant's storage mode. Every write is keyed by
 * Meta's ids, so when something fails half-way the retried delivery finishes the job.
 */
export async function ingestMessage(
  deps: WebhookDeps,
  tenant: Tenant,
  message: InboundMessage,
  contacts: readonly WebhookContactBlock[] = [],
  onPrivacyRequest: (requestId: string) => void = () => undefined,
): Promise<MessageOutcome> {
  // Unknown and malformed messages, and Meta's unsupported ones, carry nothing we keep.
  if (message.type === 'unknown' || message.type === 'invalid' || message.type === 'unsupported') return 'ignored';
  const hashKey = await requireSecret(deps.secrets, 'SUBJECT_HASH_KEY');
  // A system notice (a number change) links identifiers; it has no contact block and stores nothing.
  if (message.type === 'system') return linkSystemChange(deps, tenant, message, hashKey);
  const sender = senderOf(message, contacts);
  if (sender === undefined) return 'ignored';
  const hashes = hashesOf(hashKey, tenant.id, sender.identifiers);
  const subjectHash = hashes[0]!;
  const messageKey = messageKeyOf(hashKey, tenant.id, message.id);
  if ((await claimMessage(deps, tenant.id, messageKey)) === 'done') return 'duplicate';

  try {
    const now = deps.clock.now();
    const outcome = await processMessage(deps, {
      tenant,
      message,
      sender,
      subjectHash,
      hashes,
      pk: subjectPartitionKey(tenant.id, subjectHash),
      hashKey,
      messageKey,
      profileName: sender.profileName,
      onPrivacyRequest,
      eventAt: new Date(Number(message.timestamp) * 1000),
      now,
    });
    await deps.markers.put('seen-message', tenant.id, messageKey, { ttlSeconds: SEEN_MESSAGE_TTL_SECONDS });
    return outcome;
  } catch (error) {
    await deps.markers.delete('seen-message', tenant.id, messageKey).catch(() => undefined);
    throw error;
  }
}

/** Meta's retry of a delivery that failed meets that delivery's lease when releasing it failed too. */
export class MessageInFlightError extends Error {
  constructor() {
    super('the message is being processed by another delivery, or its last attempt failed: retry later');
    this.name = 'MessageInFlightError';
  }
}

const LEASE_WAIT_POLLS = 15;
const LEASE_WAIT_POLL_MS = 100;

/**
 * Claims the message's lease. When another delivery holds it, waits briefly for that one to finish
 * ('done': a duplicate). A lease that stays is one whose delivery failed and could not release it (the
 * store was down): answering 200 "duplicate" then would end Meta's retries and lose the message, so the
 * delivery fails (503) and Meta retries until the lease has run out.
 */
async function claimMessage(deps: WebhookDeps, tenantId: TenantId, messageKey: string): Promise<'claimed' | 'done'> {
  for (let poll = 0; ; poll++) {
    if (await deps.markers.claim('seen-message', tenantId, messageKey, PROCESSING_LEASE_SECONDS)) return 'claimed';
    const seen = await deps.markers.get('seen-message', tenantId, messageKey);
    if (seen && seen.ttl !== PROCESSING_LEASE_SECONDS) return 'done';
    if (poll >= LEASE_WAIT_POLLS) throw new MessageInFlightError();
    await deps.sleep(LEASE_WAIT_POLL_MS);
  }
}

async function processMessage(deps: WebhookDeps, m: MessageContext): Promise<MessageOutcome> {
  const { tenant, subjectHash } = m;
  // Identifiers shown together are one person; linking spreads the person's markers (the erasure fence
  // and tombstones included) to each of them, so the checks below need only the identifiers this
  // message carries.
  await linkSender(deps, tenant.id, m.sender.identifiers, m.hashes, m.hashKey);
  const [fence, tombstone, suppression] = await Promise.all([
    personMarker(deps, tenant.id, m.hashes, 'fence'),
    personMarker(deps, tenant.id, m.hashes, 'tombstone'),
    personMarker(deps, tenant.id, m.hashes, 'suppression'),
  ]);
  const cover = coverOf(fence, tombstone, m.eventAt);
  if (cover) return dropCovered(deps, m, cover);
  if (isPrivacyCentreClosing(m.message)) return 'ignored';
  if (m.message.type === 'revoke') return applyRevoke(deps, m, m.message.revoke.original_message_id);
  if (m.message.type === 'edit') return applyEdit(deps, m, m.message.edit.original_message_id, m.message.edit.message);

  const command = optCommandOf(m.message);
  const before = command ? await deps.subjects.getContact(tenant.id, subjectHash) : undefined;
  // An opt-in change older than the last one applied (out-of-order delivery) does not undo it.
  const applyCommand = command !== undefined && !(before?.optInEventAt && before.optInEventAt > m.eventAt.toISOString());
  if (applyCommand) await applyOptCommand(deps, m, command);

  const { contact, created } = await deps.subjects.updateContact(tenant.id, subjectHash, (current) =>
    nextContact(current, m, suppression !== undefined, applyCommand ? command : undefined),
  );
  if (tombstone && created) {
    // A newer message from an erased subject: a new relationship, stored as usual and counted.
    deps.telemetry.event('subject.reengaged', { tenantId: tenant.id });
    await deps.audit.record({ tenantId: tenant.id, type: 'subject.reengaged', subjectHash });
  }

  const suppressed = applyCommand ? command === 'opt-out' : suppression !== undefined || contact?.optIn === 'opted_out';
  const restricted = contact?.restricted === true || (await personMarker(deps, tenant.id, m.hashes, 'restriction')) !== undefined;

  const outcome = await storeMessage(deps, m, suppressed || restricted);
  // Write, then look again: an erasure that started while this message was being written includes it,
  // and may have passed this subject's documents already, so the writer removes what it wrote.
  const [fenceNow, tombstoneNow] = await Promise.all([personMarker(deps, tenant.id, m.hashes, 'fence'), personMarker(deps, tenant.id, m.hashes, 'tombstone')]);
  const coverNow = coverOf(fenceNow, tombstoneNow, m.eventAt);
  if (coverNow) {
    await undoWrites(deps, m, { contactCreated: created });
    return outcome === 'privacy-request' ? outcome : 'included-in-erasure';
  }
  return outcome;
}

async function storeMessage(deps: WebhookDeps, m: MessageContext, contentWithheld: boolean): Promise<MessageOutcome> {
  const message = m.message;
  if (message.type === 'interactive' && message.interactive.type === 'nfm_reply' && message.interactive.nfm_reply) {
    return handleFlowCompletion(deps, m, message.interactive.nfm_reply.response_json);
  }
  const media = mediaOf(message);
  if (media) await queueMedia(deps, m, media.type, media.content);
  if (!contentWithheld) await storeContent(deps, m);
  return 'stored';
}

async function applyOptCommand(deps: WebhookDeps, m: MessageContext, command: 'opt-out' | 'opt-in'): Promise<void> {
  // The person's: every identifier, and any linked later.
  if (command === 'opt-out') {
    await markPersonFromWebhook(deps, m.tenant.id, m.hashes, 'suppression', { ttlSeconds: -1, data: { since: m.eventAt.toISOString() } });
  } else {
    await unmarkPersonFromWebhook(deps, m.tenant.id, m.hashes, 'suppression');
  }
  await deps.audit.record({
    tenantId: m.tenant.id,
    type: command === 'opt-out' ? 'subject.opted-out' : 'subject.opted-in',
    subjectHash: m.subjectHash,
    details: { channel: 'message' },
  });
}

/**
 * A message an erasure covers. Dated at or before a completed erasure: a late or retried delivery of
 * erased data, which must not come back. During an erasure: included in it; a STOP is still honoured
 * (the suppression list holds only the keyed hash and survives the erasure). Either way, what an earlier
 * attempt of this same message may have written before it failed is removed.
 */
async function dropCovered(deps: WebhookDeps, m: MessageContext, cover: ErasureCover): Promise<MessageOutcome> {
  if (cover.state === 'in-progress') {
    const command = optCommandOf(m.message);
    if (command) await applyOptCommand(deps, m, command);
    // A right asked for meanwhile is still a request (the request is its own record; no answers kept).
    const message = m.message;
    if (message.type === 'interactive' && message.interactive.type === 'nfm_reply' && message.interactive.nfm_reply) {
      const parsed = parseFlowCompletion(message.interactive.nfm_reply.response_json);
      if (parsed.ok && parsed.completion.dataRequest) return handleFlowCompletion(deps, m, message.interactive.nfm_reply.response_json);
    }
  }
  await undoWrites(deps, m, { contactCreated: false });
  return cover.state === 'in-progress' ? 'included-in-erasure' : 'dropped-after-erasure';
}

/** The documents this message writes are named by its keyed id, so they can be removed by name. */
async function undoWrites(deps: WebhookDeps, m: MessageContext, options: { contactCreated: boolean }): Promise<void> {
  const media = mediaOf(m.message);
  const ids = [messageDocIdOf(m.messageKey), flowDocIdOf(m.messageKey), ...(media && MEDIA_ID.test(media.content.id) ? [`media-${media.content.id}`] : []), ...(options.contactCreated ? ['contact'] : [])];
  const removed = await deps.subjects.delete({ tenantId: m.tenant.id }, ids.map((id) => ({ id, pk: m.pk })));
  if (removed > 0) deps.telemetry.event('webhook.write_undone', { tenantId: m.tenant.id, documents: removed });
}

function nextContact(current: StoredContact | undefined, m: MessageContext, suppressed: boolean, command: 'opt-out' | 'opt-in' | undefined): StoredContact {
  const now = m.now.toISOString();
  // Each activity refreshes the contact's lifetime.
  const life = lifetime(m.now, ttlSeconds(m.tenant.retention.contactDays));
  const primary = m.sender.primary;
  const base: StoredContact = current ?? {
    id: 'contact',
    pk: m.pk,
    tenantId: m.tenant.id,
    type: 'contact',
    ...(primary.kind === 'waId' ? { waId: primary.value } : { userId: primary.value }),
    optIn: suppressed ? 'opted_out' : 'unknown',
    restricted: false,
    firstSeenAt: now,
    lastSeenAt: now,
    createdAt: now,
    ...life,
  };
  return {
    ...base,
    // A name the subject had rectified (Art. 16) is theirs: WhatsApp's profile name does not overwrite it.
    ...(m.profileName !== undefined && !base.rectifiedAt ? { profileName: m.profileName } : {}),
    lastSeenAt: base.lastSeenAt > now ? base.lastSeenAt : now,
    ...life,
    ...(command ? { optIn: command === 'opt-out' ? 'opted_out' : 'opted_in', optInEventAt: m.eventAt.toISOString() } : {}),
  };
}

async function handleFlowCompletion(deps: WebhookDeps, m: MessageContext, responseJson: string): Promise<MessageOutcome> {
  const parsed = parseFlowCompletion(responseJson);
  if (!parsed.ok) {
    deps.telemetry.metric('webhook.flow.unreadable', 1, { tenantId: m.tenant.id, reason: parsed.reason, ...('field' in parsed ? { field: parsed.field } : {}) });
    if (parsed.reason === 'unknown-scope') {
      // Someone asked for erasure and nothing was started: the audit trail keeps that (keyed hash, no
      // answers), so an operator can follow it up and an auditor can see it was not simply lost.
      await deps.audit.record({
        tenantId: m.tenant.id,
        type: 'privacy.request.refused',
        subjectHash: m.subjectHash,
        details: { type: 'erasure', channel: 'flow', reason: parsed.reason, field: parsed.field },
        idempotencyKey: `flow-refused-${m.messageKey}`,
      });
    }
    return 'ignored';
  }
  const { completion } = parsed;
  // The screen comes from the payload: kept only when a flow declares it, else `(other)` (allowList.ts).
  const screen = declaredScreen(completion.screen, m.tenant.flowScreens);
  // Counted for the privacy metrics (trust coefficient, screens before deletion): the screen only, no answers.
  await deps.audit.record({
    tenantId: m.tenant.id,
    type: 'flow.completed',
    subjectHash: m.subjectHash,
    details: { screen: screen ?? null, dataRequest: completion.dataRequest?.type ?? null },
    idempotencyKey: `flow-completed-${m.messageKey}`,
  });
  if (completion.dataRequest) {
    // The request itself is the record (the privacy module keeps and audits it); its answers are not stored.
    const request = completion.dataRequest;
    const created = await deps.requestPrivacy({
      tenantId: m.tenant.id,
      subject: m.sender.primary,
      type: request.type,
      scope: request.scope,
      channel: 'flow',
      ...(screen ? { screen } : {}),
      ...(request.type === 'rectification' ? { rectification: { profileName: request.profileName } } : {}),
    });
    deps.telemetry.event('webhook.privacy_request', { tenantId: m.tenant.id, type: request.type, scope: request.scope, requestId: created.id });
    m.onPrivacyRequest(created.id);
    return 'privacy-request';
  }
  const id = flowDocIdOf(m.messageKey);
  const doc: FlowResponseDocument = {
    id,
    pk: m.pk,
    tenantId: m.tenant.id,
    type: 'flowResponse',
    messageId: m.message.id,
    ...(completion.flowToken ? { flowToken: completion.flowToken } : {}),
    ...(completion.screen ? { screen: completion.screen } : {}),
    answers: completion.answers,
    receivedAt: m.eventAt.toISOString(),
    createdAt: m.now.toISOString(),
    ...lifetime(m.now, ttlSeconds(m.tenant.retention.flowResponseDays)),
  };
  await deps.subjects.upsert(doc);
  return 'stored';
}

type MediaContent = { id: string; mime_type?: string | undefined; sha256?: string | undefined };

function mediaOf(message: KnownMessage): { type: MediaType; content: MediaContent } | undefined {
  switch (message.type) {
    case 'image':
      return { type: message.type, content: message.image };
    case 'audio':
      return { type: message.type, content: message.audio };
    case 'video':
      return { type: message.type, content: message.video };
    case 'document':
      return { type: message.type, content: message.document };
    case 'sticker':
      return { type: message.type, content: message.sticker };
    default:
      return undefined;
  }
}

/** Meta's media ids are digits; anything else is not used as a document id or blob name. */
const MEDIA_ID = /^[A-Za-z0-9_-]{1,128}$/;

async function queueMedia(deps: WebhookDeps, m: MessageContext, type: MediaType, media: MediaContent): Promise<void> {
  if (!MEDIA_ID.test(media.id)) {
    deps.telemetry.metric('webhook.media.bad_id', 1, { tenantId: m.tenant.id, type });
    return;
  }
  const doc: MediaRefDocument = {
    id: `media-${media.id}`,
    pk: m.pk,
    tenantId: m.tenant.id,
    type: 'mediaRef',
    mediaId: media.id,
    messageId: m.message.id,
    ...(media.mime_type ? { mimeType: media.mime_type } : {}),
    ...(media.sha256 ? { sha256: media.sha256 } : {}),
    status: 'queued',
    createdAt: m.now.toISOString(),
    ...lifetime(m.now, ttlSeconds(m.tenant.retention.mediaDays)),
  };
  const written = await deps.subjects.createIfAbsent(doc);
  // A retry sends again (the queue drops the duplicate by message id) unless the download is over.
  if (!written.created && written.existing.status !== 'queued') return;
  await deps.queue.send('media-downloads', {
    messageId: media.id,
    body: { tenantId: m.tenant.id, subjectHash: m.subjectHash, mediaRefId: doc.id },
  });
}

async function storeContent(deps: WebhookDeps, m: MessageContext): Promise<void> {
  const mode = m.tenant.messageStorage;
  if (mode === 'none') return;
  const id = messageDocIdOf(m.messageKey);
  const keyring = await dataKeyring(deps.secrets);
  const doc: MessageDocument = {
    id,
    pk: m.pk,
    tenantId: m.tenant.id,
    type: 'message',
    messageId: m.message.id,
    direction: 'inbound',
    messageType: m.message.type,
    ciphertext: encryptText(keyring, JSON.stringify(contentOf(m.message)), id),
    keyId: keyring.current.id,
    sentAt: m.eventAt.toISOString(),
    createdAt: m.now.toISOString(),
    ...lifetime(m.now, ttlSeconds(m.tenant.retention.messageDays)),
    ...(mode === 'hubspot' ? { syncState: 'pending' as const } : {}),
  };
  await deps.subjects.upsert(doc);
  if (mode === 'hubspot') {
    await deps.queue.send('hubspot-sync', { messageId: id, body: { tenantId: m.tenant.id, subjectHash: m.subjectHash, messageDocId: id } });
  }
}
