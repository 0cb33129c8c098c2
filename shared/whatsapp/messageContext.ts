import { createHmac } from 'node:crypto';
import type { SubjectHash, TenantId } from '../domain/ids';
import type { Tenant } from '../tenants/tenant';
import type { KnownMessage } from './payload';
import type { MessageSender } from './sender';

/** What ingesting one message needs to know about it, and the keys its documents are stored under. */

/** How long a message id is remembered (Meta retries a delivery for up to 7 days). */
export const SEEN_MESSAGE_TTL_SECONDS = 7 * 86_400;
export type MessageOutcome =
  | 'stored'
  | 'duplicate'
  | 'dropped-after-erasure'
  /** Arrived while an erasure of the subject was in flight: included in it, nothing kept (markers/erasureFence.ts). */
  | 'included-in-erasure'
  | 'ignored'
  | 'privacy-request'
  /** A number change (system message): the old and new identifiers linked, nothing stored. */
  | 'linked'
  /** The user deleted (`revoke`) or edited (`edit`) a message: the stored copy removed or replaced. */
  | 'revoked'
  | 'edited'
  /** Could never be processed: counted, audited by keyed hash, skipped (./unprocessable.ts). */
  | 'rejected';

/**
 * The key a message is remembered by in the markers (idempotency). A WhatsApp message id (`wamid.`)
 * is base64 that contains the sender's phone number, so it is never stored outside the subject's own
 * partition: markers, document ids and queue messages use this keyed hash instead.
 */
export function messageKeyOf(hashKey: string, tenantId: TenantId, messageId: string): string {
  return createHmac('sha256', hashKey).update(`${tenantId}|message|${messageId}`).digest('hex');
}

export interface MessageContext {
  tenant: Tenant;
  message: KnownMessage;
  sender: MessageSender;
  /** The primary identifier's keyed hash: the partition the message's documents go to. */
  subjectHash: SubjectHash;
  /** The keyed hashes of every identifier the message carries (primary first). */
  hashes: SubjectHash[];
  pk: string;
  hashKey: string;
  messageKey: string;
  profileName: string | undefined;
  onPrivacyRequest: (requestId: string) => void;
  eventAt: Date;
  now: Date;
}

export function contentOf(message: KnownMessage): Record<string, unknown> {
  const record = message as unknown as Record<string, unknown>;
  return { type: message.type, [message.type]: record[message.type], ...(message.context ? { context: message.context } : {}) };
}

/** The id of a stored message's document: from its message key (a keyed hash of Meta's id). */
export function messageDocIdOf(messageKey: string): string {
  return `msg-${messageKey.slice(0, 40)}`;
}

/** The id of a flow response's document. */
export function flowDocIdOf(messageKey: string): string {
  return `flow-${messageKey.slice(0, 40)}`;
}

