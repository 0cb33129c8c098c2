import { identifierHashOf, normaliseUserId, normaliseWaId, type SubjectHash, type SubjectIdentifier, type TenantId } from '../domain/ids';
import type { WebhookContactBlock } from './payload';

/**
 * Who a message is from, by every identifier Meta sent for them: the phone number (`from`, or the
 * contact block's `wa_id`), the BSUID (`from_user_id` / `user_id`) and the parent BSUID. Meta omits the
 * phone number of a username user unless its phone rules apply, and sent `""` in early drafts: both
 * read as absent (docs/research/meta-identity-2026.md §2).
 *
 * `primary` is where the message's documents go: the phone number when there is one (the partition
 * the subject had before BSUIDs, and what HubSpot knows them by), else the BSUID. The others are linked
 * to it (shared/identity).
 */
export interface MessageSender {
  primary: SubjectIdentifier;
  /** Every identifier, `primary` first. */
  identifiers: SubjectIdentifier[];
  profileName?: string;
}

export interface SenderFields {
  from?: string | undefined;
  from_user_id?: string | undefined;
  from_parent_user_id?: string | undefined;
}

const waIdIn = (raw: string | undefined) => (raw ? normaliseWaId(raw) : undefined);
const userIdIn = (raw: string | undefined) => (raw ? normaliseUserId(raw) : undefined);

/** The contact block that belongs to a message: same BSUID, or same phone number. */
function contactFor(fields: SenderFields, contacts: readonly WebhookContactBlock[]): WebhookContactBlock | undefined {
  const userId = userIdIn(fields.from_user_id);
  const waId = waIdIn(fields.from);
  return (
    (userId ? contacts.find((c) => userIdIn(c.user_id) === userId) : undefined) ??
    (waId ? contacts.find((c) => waIdIn(c.wa_id) === waId) : undefined) ??
    // One message, one contact block (Meta's usual delivery): theirs when nothing contradicts it.
    (contacts.length === 1 && !userId && !waId ? contacts[0] : undefined)
  );
}

export function senderOf(fields: SenderFields, contacts: readonly WebhookContactBlock[] = []): MessageSender | undefined {
  const contact = contactFor(fields, contacts);
  const waId = waIdIn(fields.from) ?? waIdIn(contact?.wa_id);
  const userId = userIdIn(fields.from_user_id) ?? userIdIn(contact?.user_id);
  const parent = userIdIn(fields.from_parent_user_id) ?? userIdIn(contact?.parent_user_id);
  const identifiers: SubjectIdentifier[] = [
    ...(waId ? [{ kind: 'waId' as const, value: waId }] : []),
    ...(userId ? [{ kind: 'userId' as const, value: userId }] : []),
    ...(parent && parent !== userId ? [{ kind: 'userId' as const, value: parent }] : []),
  ];
  const primary = identifiers[0];
  if (!primary) return undefined;
  const name = contact?.profile?.name;
  return { primary, identifiers, ...(name ? { profileName: name } : {}) };
}

/** The keyed hashes of a sender's identifiers, `primary` first. */
export function hashesOf(hashKey: string, tenantId: TenantId, identifiers: readonly SubjectIdentifier[]): SubjectHash[] {
  return identifiers.map((i) => identifierHashOf(hashKey, tenantId, i));
}
