import { createHmac } from 'node:crypto';
import { encryptText } from '../crypto/dataEncryption';
import { dataKeyring } from '../crypto/subjectKeys';
import type { Clock } from '../domain/clock';
import { subjectHashOf, subjectPartitionKey, type WaId } from '../domain/ids';
import type { MarkerStore } from '../markers/markerStore';
import type { QueueSender } from '../queue/queuePort';
import { requireSecret, type SecretProvider } from '../secrets/secretProvider';
import { lifetime, type MessageDocument } from '../subjects/documents';
import type { SubjectStore } from '../subjects/subjectStore';
import { ttlSeconds, type Tenant } from '../tenants/tenant';
import type { MessageStore } from './messageStore';

export interface OutboundDeps {
  secrets: SecretProvider;
  messages: Pick<MessageStore, 'upsert'>;
  subjects: Pick<SubjectStore, 'getContact'>;
  markers: Pick<MarkerStore, 'get'>;
  queue: QueueSender;
  clock: Clock;
}

/** What Flowkeeper sent, in WhatsApp's own content shape (`{ type: 'text', text: { body } }`, ...). */
export interface OutboundMessage {
  /** The id the Graph API answered the send with (`wamid.`...): HubSpot's idempotency key. */
  messageId: string;
  content: { type: string } & Record<string, unknown>;
  sentAt: Date;
}

export type OutboundOutcome = 'not-stored' | 'stored' | 'queued' | 'skipped-erased' | 'skipped-restricted';

/**
 * A message Flowkeeper sent to a subject takes the path an inbound one takes, by the tenant's mode:
 * `none` keeps nothing; `encrypted` stores the ciphertext with the message TTL; `hubspot` stores it as
 * pending and queues `hubspot-sync`, which publishes it as OUTGOING and deletes it once HubSpot confirms.
 * Keyed by the Graph message id, so recording a send twice writes one document and one queue message.
 *
 * Not for the erasure confirmation: that message goes out after the subject's data is gone and just
 * before the tombstone is written; recording it would put the subject back into Cosmos and HubSpot.
 * A subject with a tombstone at or after the send is skipped for the same reason.
 */
export async function recordOutboundMessage(deps: OutboundDeps, tenant: Tenant, waId: WaId, message: OutboundMessage): Promise<OutboundOutcome> {
  if (tenant.messageStorage === 'none') return 'not-stored';
  const hashKey = await requireSecret(deps.secrets, 'SUBJECT_HASH_KEY');
  const subjectHash = subjectHashOf(hashKey, tenant.id, waId);
  const [tombstone, contact] = await Promise.all([deps.markers.get('tombstone', tenant.id, subjectHash), deps.subjects.getContact(tenant.id, subjectHash)]);
  if (tombstone && !(message.sentAt.getTime() > Date.parse(String(tombstone.data?.erasedAt ?? tombstone.at)))) return 'skipped-erased';
  if (contact?.restricted) return 'skipped-restricted';

  const now = deps.clock.now();
  const id = `out-${createHmac('sha256', hashKey).update(`${tenant.id}|outbound|${message.messageId}`).digest('hex').slice(0, 40)}`;
  const keyring = await dataKeyring(deps.secrets);
  const doc: MessageDocument = {
    id,
    pk: subjectPartitionKey(tenant.id, subjectHash),
    tenantId: tenant.id,
    type: 'message',
    messageId: message.messageId,
    direction: 'outbound',
    messageType: message.content.type,
    ciphertext: encryptText(keyring, JSON.stringify(message.content), id),
    keyId: keyring.current.id,
    sentAt: message.sentAt.toISOString(),
    createdAt: now.toISOString(),
    ...lifetime(now, ttlSeconds(tenant.retention.messageDays)),
    ...(tenant.messageStorage === 'hubspot' ? { syncState: 'pending' as const } : {}),
  };
  await deps.messages.upsert(doc);
  if (tenant.messageStorage !== 'hubspot') return 'stored';
  await deps.queue.send('hubspot-sync', { messageId: id, body: { tenantId: tenant.id, subjectHash, messageDocId: id } });
  return 'queued';
}
