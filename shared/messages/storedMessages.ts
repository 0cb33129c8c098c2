import type { AuditLog } from '../audit/auditLog';
import { decryptText, keyIdOf, type DataKeyring } from '../crypto/dataEncryption';
import { dataKeyring, hashSubject } from '../crypto/subjectKeys';
import { legacyPartitionKey, subjectPartitionKey, type TenantId, type WaId } from '../domain/ids';
import type { SecretProvider } from '../secrets/secretProvider';
import type { MessageDocument } from '../subjects/documents';
import type { Tenant } from '../tenants/tenant';
import type { MessageStore } from './messageStore';

/** A message as an admin or the subject reads it: decrypted, with the key id it was sealed with. */
export interface StoredMessage {
  id: string;
  /** WhatsApp's message id. */
  messageId: string;
  direction: 'inbound' | 'outbound';
  messageType: string;
  sentAt: string;
  expiresAt: string;
  /** `stored`: the encrypted mode's store; `pending-sync`: waiting for HubSpot to confirm (hubspot mode). */
  state: 'stored' | 'pending-sync';
  keyId: string;
  /** The WhatsApp content (`{ type, [type]: ... }`), or null when its key has been retired. */
  content: unknown;
  contentUnavailable?: string;
}

export interface StoredMessageDeps {
  messages: Pick<MessageStore, 'listForSubject'>;
  secrets: SecretProvider;
}

/**
 * A subject's stored messages, decrypted. Each ciphertext names its key: content written before a
 * rotation is read with DATA_ENCRYPTION_KEY_PREVIOUS while that is set; content whose key is gone is
 * reported as unavailable instead of failing the whole read.
 */
export async function readStoredMessages(deps: StoredMessageDeps, tenantId: TenantId, waId: WaId): Promise<StoredMessage[]> {
  // The number's partition, and its legacy one until the identity migration has moved it.
  const hash = await hashSubject(deps.secrets, tenantId, waId);
  const docs = await deps.messages.listForSubject(tenantId, [subjectPartitionKey(tenantId, hash), legacyPartitionKey(tenantId, waId)]);
  if (docs.length === 0) return [];
  let keyring = await dataKeyring(deps.secrets);
  // A message written by an instance that already has a rotated-in key: the ring is read again once.
  const unknown = docs.map((d) => keyIdOf(d.ciphertext)).find((id) => id !== undefined && !keyring.all.has(id));
  if (unknown) keyring = await dataKeyring(deps.secrets, unknown);
  return docs.map((doc) => decrypted(keyring, doc));
}

function decrypted(keyring: DataKeyring, doc: MessageDocument): StoredMessage {
  const base = {
    id: doc.id,
    messageId: doc.messageId,
    direction: doc.direction,
    messageType: doc.messageType,
    sentAt: doc.sentAt,
    expiresAt: doc.expiresAt,
    state: doc.syncState === 'pending' ? ('pending-sync' as const) : ('stored' as const),
    keyId: doc.keyId,
  };
  try {
    return { ...base, content: JSON.parse(decryptText(keyring, doc.ciphertext, doc.id)) as unknown };
  } catch {
    return { ...base, content: null, contentUnavailable: 'encrypted with a key that has since been retired' };
  }
}

export type SubjectMessagesResult = { kind: 'ok'; tenant: Tenant; messages: StoredMessage[] } | { kind: 'tenant-not-found' };

/**
 * GET /api/tenants/{tenantId}/subjects/{waId}/messages: the decrypted messages of one subject for an
 * admin. Reading personal data is an admin action like any other: audited with the principal's object
 * id, the subject as its keyed hash, and counts only.
 */
export async function readSubjectMessages(
  deps: StoredMessageDeps & { tenants: { get(id: TenantId): Promise<Tenant | undefined> }; audit: Pick<AuditLog, 'record'> },
  input: { tenantId: TenantId; waId: WaId; actor: string },
): Promise<SubjectMessagesResult> {
  const tenant = await deps.tenants.get(input.tenantId);
  if (!tenant) return { kind: 'tenant-not-found' };
  const messages = await readStoredMessages(deps, input.tenantId, input.waId);
  await deps.audit.record({
    tenantId: input.tenantId,
    type: 'subject.messages-read',
    actor: input.actor,
    subjectHash: await hashSubject(deps.secrets, input.tenantId, input.waId),
    details: {
      messages: messages.length,
      pendingSync: messages.filter((m) => m.state === 'pending-sync').length,
      unavailable: messages.filter((m) => m.contentUnavailable !== undefined).length,
      messageStorage: tenant.messageStorage,
    },
  });
  return { kind: 'ok', tenant, messages };
}
